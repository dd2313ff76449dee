/**
 * Syntax checks for the addresses an operator writes in config and flags. Resolution (DNS) is
 * left to the dialer: a seed named by host name is valid config, CometBFT resolves it when it
 * dials. Only the shape is checked here, so a typo fails at startup and not hours later.
 */
import { nodeIdProblem } from '../p2p/node-id.js';

export const PEER_ADDRESS_FORM = 'a comma-separated list of id@host:port (id: 40 hex characters; port 0-65535)';
export const LISTEN_ADDRESS_FORM = 'an address such as "tcp://0.0.0.0:26656" (optional tcp:// scheme, host:port, port 0-65535)';
export const HOST_PORT_FORM = 'host:port (port 0-65535), optionally with a tcp:// scheme, or empty';

export interface HostPort {
  host: string;
  port: number;
}

/** Splits host:port Go-style: IPv6 hosts in brackets. Undefined when malformed. */
export function splitHostPort(text: string): HostPort | undefined {
  let host: string;
  let portText: string;
  if (text.startsWith('[')) {
    const end = text.indexOf(']');
    if (end < 0 || text[end + 1] !== ':') return undefined;
    host = text.slice(1, end);
    portText = text.slice(end + 2);
  } else {
    const colon = text.lastIndexOf(':');
    if (colon < 0) return undefined;
    host = text.slice(0, colon);
    portText = text.slice(colon + 1);
    if (host.includes(':')) return undefined; // an IPv6 literal must be bracketed
  }
  if (!/^\d{1,5}$/.test(portText)) return undefined;
  const port = Number(portText);
  if (port > 65535) return undefined;
  if (/[\s/@]/.test(host)) return undefined;
  return { host, port };
}

/** Removes an optional "scheme://" prefix (anything up to the first "://"), as CometBFT does. */
export function stripScheme(text: string): { scheme: string | undefined; rest: string } {
  const i = text.indexOf('://');
  return i < 0 ? { scheme: undefined, rest: text } : { scheme: text.slice(0, i), rest: text.slice(i + 3) };
}

/** Why `text` is not "id@host:port" (scheme allowed), or undefined when it is well-formed. */
export function peerAddressProblem(text: string): string | undefined {
  const { rest } = stripScheme(text.trim());
  const parts = rest.split('@');
  if (parts.length !== 2) return `"${text}" must contain exactly one "@" (id@host:port)`;
  const idProblem = nodeIdProblem(parts[0]);
  if (idProblem) return `"${text}": ${idProblem}`;
  const hp = splitHostPort(parts[1]);
  if (!hp) return `"${text}": "${parts[1]}" is not host:port`;
  if (hp.host === '') return `"${text}": empty host`;
  return undefined;
}

/** A listen address: optional tcp:// scheme, host:port; the host may be empty (all interfaces). */
export function parseListenAddress(text: string): HostPort | undefined {
  const { scheme, rest } = stripScheme(text.trim());
  if (scheme !== undefined && scheme !== 'tcp') return undefined;
  return splitHostPort(rest);
}

/** Splits a comma-separated config list, dropping empty entries and surrounding spaces. */
export function splitList(text: string): string[] {
  return text
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}

/** The ID part of a well-formed "id@host:port" (see peerAddressProblem), lowercased. */
export function peerIdOf(text: string): string {
  return stripScheme(text.trim()).rest.split('@')[0].toLowerCase();
}
