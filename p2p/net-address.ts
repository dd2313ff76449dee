/**
 * NetAddress: a peer's `id@ip:port`, as config files, PEX and the address book use it.
 *
 * Parsing follows CometBFT's `NewNetAddressString` rules (optional `scheme://`, exactly one `@`,
 * a valid ID, Go's host:port split, a decimal port 0..65535). `parse` is synchronous and only
 * takes IP literals; a host name needs `resolve`, which looks it up (first result), so no code
 * path does DNS by surprise.
 */
import { lookup as dnsLookup } from 'node:dns/promises';
import { SwitchyardError } from './errors.js';
import {
  formatIp,
  invalidIpProblem,
  invalidIpv4ValueProblem,
  ipv4MappedOf,
  ipv4ValueOf,
  isIpv4,
  isLocalIp,
  isLocalIpv4Value,
  isRoutableIp,
  isRoutableIpv4Value,
  parseIp,
  parseIpv4Value,
} from './ip-ranges.js';
import { nodeIdProblem, type NodeId } from './node-id.js';

/** What a user should write; quoted in parse errors. */
export const NET_ADDRESS_FORM = '<id>@<host>:<port>, e.g. 0123456789abcdef0123456789abcdef01234567@203.0.113.7:26656';

export const MAX_PORT = 65535;

/** The text has no `id@` part (or more than one `@`). */
export class ErrNetAddressNoId extends SwitchyardError {
  constructor(readonly address: string) {
    super(`address "${address}" does not contain an ID; expected ${NET_ADDRESS_FORM}`);
  }
}

/** The text has an `id@` part but something in it is wrong; `reason` says what. */
export class ErrNetAddressInvalid extends SwitchyardError {
  constructor(readonly address: string, readonly reason: string) {
    super(`invalid address "${address}": ${reason}; expected ${NET_ADDRESS_FORM}`);
  }
}

/** `parse` met a host name that is not an IP literal: call `NetAddress.resolve` instead. */
export class ErrNetAddressLookupNeeded extends SwitchyardError {
  constructor(readonly address: string, readonly host: string) {
    super(`address "${address}" names host "${host}", which is not an IP literal: resolve it with NetAddress.resolve()`);
  }
}

/** Looking up the host name failed (no such host, resolver error, or no address returned). */
export class ErrNetAddressLookup extends SwitchyardError {
  constructor(readonly host: string, cause: unknown) {
    super(`error looking up host "${host}": ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
  }
}

/** A proto NetAddress (from PEX or a file) has an IP that is not a literal, or a port over 65535. */
export class ErrNetAddressFromProto extends SwitchyardError {
  constructor(readonly proto: { id: string; ip: string; port: number }, readonly reason: string) {
    super(`invalid NetAddress ${JSON.stringify(proto)}: ${reason}`);
  }
}

/** An address built in code (`new NetAddress`) with a bad IP or port. */
export class ErrNetAddressBadField extends SwitchyardError {
  constructor(readonly field: 'ip' | 'port', readonly value: unknown, readonly reason: string) {
    super(`bad NetAddress ${field} ${JSON.stringify(value)}: ${reason}`);
  }
}

/** Resolves a host name to one IP literal (the first result). Injectable for tests. */
export type HostLookup = (host: string) => Promise<string>;

const systemLookup: HostLookup = async (host) => (await dnsLookup(host)).address;

/** The pieces of an address text, before the host is turned into an IP. */
interface AddressParts {
  id: NodeId;
  host: string;
  port: number;
  /** The text after the scheme, for error messages. */
  body: string;
}

export class NetAddress {
  readonly id: NodeId;
  /** Canonical text: dotted IPv4 (also for IPv4-mapped input), IPv6 in RFC 5952 form, no brackets. */
  readonly ip: string;
  readonly port: number;
  /** IPv4 (also IPv4-mapped input) as its 32-bit value, else -1. No byte array per IPv4 address. */
  private readonly v4: number;
  /** The 16 bytes of a (non-IPv4) IPv6 address; undefined for IPv4. */
  private readonly v6: Uint8Array | undefined;
  private readonly text: string;

  /**
   * `ip` must be an IP literal (any accepted form; it is stored canonically) and `port` an
   * integer 0..65535. An IPv6 zone (`fe80::1%eth0`, as a socket's remoteAddress may carry) is
   * dropped: an address book entry has no zone. The ID is not checked here: `valid()` does that,
   * as in CometBFT, so addresses learned from peers can be inspected before being judged.
   */
  constructor(id: NodeId, ip: string, port: number) {
    if (typeof ip !== 'string') throw new ErrNetAddressBadField('ip', ip, 'not an IP literal');
    if (!Number.isInteger(port) || port < 0 || port > MAX_PORT) {
      throw new ErrNetAddressBadField('port', port, `must be an integer from 0 to ${MAX_PORT}`);
    }
    this.id = id;
    this.port = port;
    // Fast path (the address book builds tens of thousands of these when it loads): a strict dotted
    // quad is parsed in one allocation-free pass and is its own canonical text, so it is kept as
    // given instead of being formatted again. Everything else takes the general parser.
    const v4 = parseIpv4Value(ip);
    if (v4 >= 0) {
      this.v4 = v4;
      this.v6 = undefined;
      this.ip = ip;
      this.text = id === '' ? `${ip}:${port}` : `${id}@${ip}:${port}`;
      return;
    }
    const bytes = parseIp(ip.includes(':') ? ip.replace(/%[^%]*$/, '') : ip);
    if (bytes === undefined) throw new ErrNetAddressBadField('ip', ip, 'not an IP literal');
    if (isIpv4(bytes)) {
      this.v4 = ipv4ValueOf(bytes);
      this.v6 = undefined;
    } else {
      this.v4 = -1;
      this.v6 = bytes;
    }
    this.ip = formatIp(bytes);
    const dial = this.dialString();
    this.text = id === '' ? dial : `${id}@${dial}`;
  }

  /**
   * Parses `[scheme://]id@host:port` where host is an IP literal (IPv6 in brackets). Throws
   * ErrNetAddressNoId, ErrNetAddressInvalid, or ErrNetAddressLookupNeeded for a host name.
   */
  static parse(text: string): NetAddress {
    const parts = splitAddress(text);
    const ip = parseIp(parts.host);
    if (ip === undefined) throw new ErrNetAddressLookupNeeded(text, parts.host);
    return new NetAddress(parts.id, formatIp(ip), parts.port);
  }

  /**
   * Like `parse`, but a host name is looked up (`lookup`, default the system resolver via
   * `dns.lookup`) and its first address used. A failed lookup throws ErrNetAddressLookup.
   */
  static async resolve(text: string, lookup: HostLookup = systemLookup): Promise<NetAddress> {
    const parts = splitAddress(text);
    let ip = parseIp(parts.host);
    if (ip === undefined) {
      let resolved: string;
      try {
        resolved = await lookup(parts.host);
      } catch (err) {
        throw new ErrNetAddressLookup(parts.host, err);
      }
      // Resolvers may return a zoned link-local address ("fe80::1%eth0"); the zone is not part of an IP.
      ip = typeof resolved === 'string' ? parseIp(resolved.replace(/%.*$/, '')) : undefined;
      if (ip === undefined) throw new ErrNetAddressLookup(parts.host, new Error(`resolver returned ${JSON.stringify(resolved)}, not an IP`));
    }
    return new NetAddress(parts.id, formatIp(ip), parts.port);
  }

  /**
   * Parses a list (like a `persistent_peers` config value split on commas), collecting every
   * failure instead of stopping at the first. IP literals only.
   */
  static parseMany(texts: readonly string[]): { addresses: NetAddress[]; errors: Error[] } {
    const addresses: NetAddress[] = [];
    const errors: Error[] = [];
    for (const text of texts) {
      try {
        addresses.push(NetAddress.parse(text));
      } catch (err) {
        errors.push(err as Error);
      }
    }
    return { addresses, errors };
  }

  /**
   * From the protobuf form (PEX, files). The IP must be a literal and the port fit 16 bits; the ID
   * is kept as given and judged later by `valid()`, as CometBFT does.
   */
  static fromProto(p: { id?: string | null; ip?: string | null; port?: number | null }): NetAddress {
    const proto = { id: p.id ?? '', ip: p.ip ?? '', port: p.port ?? 0 };
    const notIp = (): ErrNetAddressFromProto => new ErrNetAddressFromProto(proto, `IP "${proto.ip}" is not an IP literal`);
    // A zone is something only a local socket has; a peer's or a file's IP never carries one.
    if (typeof proto.ip !== 'string' || proto.ip.includes('%')) throw notIp();
    if (!Number.isInteger(proto.port) || proto.port < 0 || proto.port > MAX_PORT) {
      throw new ErrNetAddressFromProto(proto, `port ${proto.port} is out of range 0..${MAX_PORT}`);
    }
    // One parse, in the constructor (the port is fine, so only the IP can fail there).
    try {
      return new NetAddress(proto.id, proto.ip, proto.port);
    } catch (err) {
      if (err instanceof ErrNetAddressBadField) throw notIp();
      throw err;
    }
  }

  toProto(): { id: string; ip: string; port: number } {
    return { id: this.id, ip: this.ip, port: this.port };
  }

  /** `id@ip:port` (IPv6 in brackets), or just `ip:port` without an ID. */
  toString(): string {
    return this.text;
  }

  /** `ip:port` with IPv6 in brackets, as a TCP dialer takes it. */
  dialString(): string {
    return this.ip.includes(':') ? `[${this.ip}]:${this.port}` : `${this.ip}:${this.port}`;
  }

  /** Same full `id@ip:port` text. */
  equals(other: NetAddress): boolean {
    return this.text === other.text;
  }

  /** Same dial string, or the same non-empty ID (one peer seen at two addresses). */
  same(other: NetAddress): boolean {
    return this.dialString() === other.dialString() || (this.id !== '' && this.id === other.id);
  }

  /** Why this address can never be dialled (bad ID, unspecified/documentation/broadcast IP), or undefined. */
  validProblem(): string | undefined {
    const idProblem = nodeIdProblem(this.id);
    if (idProblem !== undefined) return `invalid ID: ${idProblem}`;
    return this.v6 === undefined ? invalidIpv4ValueProblem(this.v4) : invalidIpProblem(this.v6);
  }

  valid(): boolean {
    return this.validProblem() === undefined;
  }

  /** Valid and on the public internet (not private, link-local, unique-local, ORCHID or local). */
  routable(): boolean {
    if (nodeIdProblem(this.id) !== undefined) return false;
    return this.v6 === undefined ? isRoutableIpv4Value(this.v4) : isRoutableIp(this.v6);
  }

  /** Loopback or 0.0.0.0/8. */
  local(): boolean {
    return this.v6 === undefined ? isLocalIpv4Value(this.v4) : isLocalIp(this.v6);
  }

  isIPv4(): boolean {
    return this.v6 === undefined;
  }

  /** The 16-byte form (IPv4 as ::ffff:a.b.c.d). A copy: callers may keep or change it. */
  ipBytes(): Uint8Array {
    return this.v6 === undefined ? ipv4MappedOf(this.v4) : this.v6.slice();
  }
}

/**
 * Everything of parsing except turning the host into an IP: scheme, `@`, ID, host:port split, port.
 * The port is checked before any lookup so a typo never costs a DNS round trip.
 */
function splitAddress(text: string): AddressParts {
  const body = stripScheme(text);
  const pieces = body.split('@');
  if (pieces.length !== 2) throw new ErrNetAddressNoId(text);
  const [id, hostPort] = pieces;
  const idProblem = nodeIdProblem(id);
  if (idProblem !== undefined) throw new ErrNetAddressInvalid(body, idProblem);
  const split = splitHostPort(hostPort);
  if (typeof split === 'string') throw new ErrNetAddressInvalid(hostPort, split);
  if (split.host === '') throw new ErrNetAddressInvalid(hostPort, 'host is empty');
  const port = parsePort(split.port);
  if (typeof port === 'string') throw new ErrNetAddressInvalid(hostPort, port);
  return { id, host: split.host, port, body };
}

/**
 * Drops a `scheme://` prefix. Like CometBFT, the kept part is what lies between the first `://`
 * and the next one, so `tcp://tcp://id@h:p` keeps just `tcp` and then fails for lack of an ID.
 */
export function stripScheme(text: string): string {
  const parts = text.split('://');
  return parts.length > 1 ? parts[1] : text;
}

/**
 * Go's `net.SplitHostPort` rules: the port follows the last colon; a host with colons must be in
 * brackets, which must directly precede that colon. Returns the problem text on failure.
 */
export function splitHostPort(hostPort: string): { host: string; port: string } | string {
  const lastColon = hostPort.lastIndexOf(':');
  if (lastColon < 0) return 'missing port in address';
  let host: string;
  let searchBracketsFrom = 0;
  let searchClosingFrom = 0;
  if (hostPort.startsWith('[')) {
    const close = hostPort.indexOf(']');
    if (close < 0) return "missing ']' in address";
    if (close + 1 === hostPort.length) return 'missing port in address';
    if (close + 1 !== lastColon) {
      return hostPort[close + 1] === ':' ? 'too many colons in address' : 'missing port in address';
    }
    host = hostPort.slice(1, close);
    searchBracketsFrom = 1;
    searchClosingFrom = close + 1;
  } else {
    host = hostPort.slice(0, lastColon);
    if (host.includes(':')) return 'too many colons in address (put an IPv6 host in brackets: [::1]:26656)';
  }
  if (hostPort.indexOf('[', searchBracketsFrom) >= 0) return "unexpected '[' in address";
  if (hostPort.indexOf(']', searchClosingFrom) >= 0) return "unexpected ']' in address";
  return { host, port: hostPort.slice(lastColon + 1) };
}

/** A decimal port 0..65535 (leading zeros allowed, no sign), or the problem text. */
export function parsePort(text: string): number | string {
  if (!/^[0-9]+$/.test(text)) return `port "${text}" is not a decimal number`;
  const digits = text.replace(/^0+(?=.)/, '');
  if (digits.length > 5 || Number(digits) > MAX_PORT) return `port ${text} is out of range 0..${MAX_PORT}`;
  return Number(digits);
}
