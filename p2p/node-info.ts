/**
 * NodeInfo: what two nodes tell each other right after the SecretConnection handshake
 * (CometBFT's DefaultNodeInfo), its protobuf encoding, validation and compatibility rules.
 *
 * Wire form: `switchyard.p2p.DefaultNodeInfo`, fields in number order, zero values left out
 * except `protocol_version` and `other`, which CometBFT (gogoproto, non-nullable) always writes,
 * even empty. Exchanged uvarint-length-delimited, at most MAX_NODE_INFO_SIZE_BYTES.
 */
import { SwitchyardError } from './errors.js';
import {
  ErrNetAddressLookupNeeded,
  NetAddress,
  stripScheme,
  type HostLookup,
} from './net-address.js';
import { nodeIdProblem, type NodeId } from './node-id.js';
import { switchyard } from './proto/gen/wire.js';

export interface ProtocolVersion {
  p2p: number;
  block: number;
  app: number;
}

export interface NodeInfoOther {
  /** "on", "off" or "". */
  txIndex: string;
  /** The node's RPC listen address, e.g. "tcp://127.0.0.1:26657", or "". */
  rpcAddress: string;
}

export interface NodeInfo {
  protocolVersion: ProtocolVersion;
  id: NodeId;
  /** Where the node can be dialled: `[scheme://]host:port` (no ID). */
  listenAddr: string;
  /** Chain ID; peers on other networks are incompatible. */
  network: string;
  /** Software version, free text, never compared. */
  version: string;
  /** One byte per channel ID the node serves. */
  channels: Uint8Array;
  moniker: string;
  other: NodeInfoOther;
}

/** CometBFT v0.34–v0.38 send p2p 8, v1.0 sends 9; block is 11 on every line. */
export const DEFAULT_PROTOCOL_VERSION: Readonly<ProtocolVersion> = Object.freeze({ p2p: 8, block: 11, app: 0 });
/** p2p protocol versions real CometBFT lines announce; both are accepted (p2p is never compared). */
export const KNOWN_P2P_PROTOCOL_VERSIONS: readonly number[] = Object.freeze([8, 9]);
/** The most a peer's NodeInfo may take on the wire (CometBFT's maxNodeInfoSize). */
export const MAX_NODE_INFO_SIZE_BYTES = 10240;
/** A NodeInfo may list at most this many channels. */
export const MAX_NUM_CHANNELS = 16;

/** The bytes are not a DefaultNodeInfo (bad protobuf, too large). */
export class ErrNodeInfoDecode extends SwitchyardError {
  constructor(readonly reason: string, cause?: unknown) {
    super(`cannot decode NodeInfo: ${reason}`, { cause });
  }
}

/** A NodeInfo breaks a validation rule; `field` names the field, `reason` says how. */
export class ErrNodeInfoInvalid extends SwitchyardError {
  constructor(readonly field: string, readonly reason: string, cause?: unknown) {
    super(`invalid NodeInfo ${field}: ${reason}`, { cause });
  }
}

/** The peer's NodeInfo cannot work with ours; `check` says which rule failed. */
export class ErrNodeInfoIncompatible extends SwitchyardError {
  constructor(readonly check: 'block-version' | 'network' | 'channels', readonly reason: string) {
    super(`incompatible peer: ${reason}`);
  }
}

export function encodeNodeInfo(info: NodeInfo): Uint8Array {
  const pv: switchyard.p2p.IProtocolVersion = {};
  // protobufjs writes every field that is set, even zero; proto3 (and CometBFT) leave zeros out.
  if (info.protocolVersion.p2p) pv.p2p = info.protocolVersion.p2p;
  if (info.protocolVersion.block) pv.block = info.protocolVersion.block;
  if (info.protocolVersion.app) pv.app = info.protocolVersion.app;
  const other: switchyard.p2p.IDefaultNodeInfoOther = {};
  if (info.other.txIndex) other.txIndex = info.other.txIndex;
  if (info.other.rpcAddress) other.rpcAddress = info.other.rpcAddress;
  const msg: switchyard.p2p.IDefaultNodeInfo = { protocolVersion: pv, other };
  if (info.id) msg.defaultNodeId = info.id;
  if (info.listenAddr) msg.listenAddr = info.listenAddr;
  if (info.network) msg.network = info.network;
  if (info.version) msg.version = info.version;
  if (info.channels.length > 0) msg.channels = info.channels;
  if (info.moniker) msg.moniker = info.moniker;
  return switchyard.p2p.DefaultNodeInfo.encode(msg).finish();
}

/**
 * Decodes a DefaultNodeInfo (no length prefix). Unknown fields are skipped, absent ones are zero.
 * Garbage, or more than MAX_NODE_INFO_SIZE_BYTES, is ErrNodeInfoDecode; nothing else is thrown.
 * The result is not validated: call validateNodeInfo.
 */
export function decodeNodeInfo(bytes: Uint8Array): NodeInfo {
  if (bytes.length > MAX_NODE_INFO_SIZE_BYTES) {
    throw new ErrNodeInfoDecode(`${bytes.length} bytes is over the ${MAX_NODE_INFO_SIZE_BYTES}-byte limit`);
  }
  let msg: switchyard.p2p.DefaultNodeInfo;
  try {
    // A plain Uint8Array view, not a Buffer: protobufjs's Buffer reader silently truncates a string
    // field whose length runs past the end, where its plain reader (and Go) reject the message.
    msg = switchyard.p2p.DefaultNodeInfo.decode(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  } catch (err) {
    throw new ErrNodeInfoDecode(`bad protobuf (${err instanceof Error ? err.message : String(err)})`, err);
  }
  const pv = msg.protocolVersion;
  return {
    protocolVersion: { p2p: toNumber(pv?.p2p), block: toNumber(pv?.block), app: toNumber(pv?.app) },
    id: msg.defaultNodeId ?? '',
    listenAddr: msg.listenAddr ?? '',
    network: msg.network ?? '',
    version: msg.version ?? '',
    // A copy: the decoder's bytes may be a view into a much larger buffer.
    channels: new Uint8Array(msg.channels ?? new Uint8Array(0)),
    moniker: msg.moniker ?? '',
    other: { txIndex: msg.other?.txIndex ?? '', rpcAddress: msg.other?.rpcAddress ?? '' },
  };
}

/** A uint64 from protobufjs: a number, or a Long when the `long` package is loaded. Values over 2^53 lose precision. */
function toNumber(value: unknown): number {
  if (value === undefined || value === null) return 0;
  if (typeof value === 'number') return value;
  const long = value as { toNumber?: () => number };
  if (typeof long.toNumber === 'function') return long.toNumber();
  return Number(value);
}

export interface ValidateNodeInfoOptions {
  /**
   * What to do with a listen address whose host is a DNS name. CometBFT resolves it and rejects the
   * peer when that fails; a synchronous check cannot, so by default ('syntax') a well-formed host
   * name is accepted. Use validateNodeInfoResolving for CometBFT's behaviour, or 'reject' to
   * accept IP literals only.
   */
  hostNames?: 'syntax' | 'reject';
}

/**
 * CometBFT's `Validate` rules, in its order; throws ErrNodeInfoInvalid naming the first broken one:
 * listen address parses as `<id>@<listen_addr>` (scheme allowed; this also checks the ID); version
 * empty or printable ASCII, not only spaces; at most 16 channels, none repeated; moniker non-empty
 * printable ASCII, not only spaces; tx_index "", "on" or "off"; rpc_address empty or printable
 * ASCII, not only spaces. The network is not checked here (see checkNodeInfoCompatible).
 */
export function validateNodeInfo(info: NodeInfo, options: ValidateNodeInfoOptions = {}): void {
  validateListenAddr(info, options.hostNames ?? 'syntax');
  validateRest(info);
}

/** validateNodeInfo, but a host name in the listen address must resolve (CometBFT's exact behaviour). */
export async function validateNodeInfoResolving(info: NodeInfo, lookup?: HostLookup): Promise<void> {
  validateNodeInfo(info);
  try {
    await NetAddress.resolve(listenAddressText(info), lookup);
  } catch (err) {
    throw new ErrNodeInfoInvalid('listen_addr', `"${info.listenAddr}" does not resolve: ${(err as Error).message}`, err);
  }
}

function listenAddressText(info: NodeInfo): string {
  return `${info.id}@${stripScheme(info.listenAddr)}`;
}

function validateListenAddr(info: NodeInfo, hostNames: 'syntax' | 'reject'): void {
  try {
    NetAddress.parse(listenAddressText(info));
  } catch (err) {
    if (err instanceof ErrNetAddressLookupNeeded && hostNames === 'syntax' && isHostName(err.host)) return;
    const reason = err instanceof ErrNetAddressLookupNeeded ? `host "${err.host}" is not ${hostNames === 'reject' ? 'an IP literal' : 'a valid host name'}` : (err as Error).message;
    throw new ErrNodeInfoInvalid('listen_addr', `"${info.listenAddr}" with ID "${info.id}" is not a valid address: ${reason}`, err);
  }
}

/** A DNS host name: dot-separated labels of letters, digits, '-' and '_', at most 253 characters. */
function isHostName(host: string): boolean {
  if (host.length > 253) return false;
  return host.split('.').every((label, i, all) => (label.length > 0 || (i === all.length - 1 && i > 0)) && label.length <= 63 && /^[A-Za-z0-9_-]*$/.test(label));
}

/** Printable ASCII (bytes 32..126), at least one character that is not a space. */
function isAsciiText(text: string): boolean {
  return /^[\x20-\x7e]+$/.test(text) && text.trim() !== '';
}

function validateRest(info: NodeInfo): void {
  if (info.version.length > 0 && !isAsciiText(info.version)) {
    throw new ErrNodeInfoInvalid('version', `must be empty or printable ASCII text that is not only spaces, got ${JSON.stringify(info.version)}`);
  }
  if (info.channels.length > MAX_NUM_CHANNELS) {
    throw new ErrNodeInfoInvalid('channels', `too many channels (${info.channels.length}), at most ${MAX_NUM_CHANNELS}`);
  }
  const seen = new Set<number>();
  for (const ch of info.channels) {
    if (seen.has(ch)) throw new ErrNodeInfoInvalid('channels', `channel ${formatChannel(ch)} is listed twice`);
    seen.add(ch);
  }
  if (!isAsciiText(info.moniker)) {
    throw new ErrNodeInfoInvalid('moniker', `must be non-empty printable ASCII text that is not only spaces, got ${JSON.stringify(info.moniker)}`);
  }
  const txIndex = info.other.txIndex;
  if (txIndex !== '' && txIndex !== 'on' && txIndex !== 'off') {
    throw new ErrNodeInfoInvalid('other.tx_index', `must be "on", "off" or empty, got ${JSON.stringify(txIndex)}`);
  }
  const rpc = info.other.rpcAddress;
  if (rpc.length > 0 && !isAsciiText(rpc)) {
    throw new ErrNodeInfoInvalid('other.rpc_address', `must be empty or printable ASCII text that is not only spaces, got ${JSON.stringify(rpc)}`);
  }
}

function formatChannel(ch: number): string {
  return `0x${ch.toString(16).padStart(2, '0')}`;
}

function formatChannels(channels: Uint8Array): string {
  return channels.length === 0 ? '(none)' : Array.from(channels, formatChannel).join(' ');
}

/**
 * CometBFT's `CompatibleWith`, ours against theirs: same block protocol version, same network,
 * and at least one shared channel — unless our channel list is empty, which accepts anyone (a
 * testing shortcut kept for parity). The p2p and app versions are not compared, so peers
 * announcing p2p 8 (v0.34–v0.38) and 9 (v1.0) are both accepted.
 */
export function checkNodeInfoCompatible(ours: NodeInfo, theirs: NodeInfo): void {
  if (ours.protocolVersion.block !== theirs.protocolVersion.block) {
    throw new ErrNodeInfoIncompatible('block-version', `peer is on block protocol version ${theirs.protocolVersion.block}, we are on ${ours.protocolVersion.block}`);
  }
  if (ours.network !== theirs.network) {
    throw new ErrNodeInfoIncompatible('network', `peer is on network ${JSON.stringify(theirs.network)}, we are on ${JSON.stringify(ours.network)}`);
  }
  if (ours.channels.length === 0) return;
  for (const ch of ours.channels) if (theirs.channels.includes(ch)) return;
  throw new ErrNodeInfoIncompatible('channels', `peer has no channel in common with us: ours ${formatChannels(ours.channels)}; peer's ${formatChannels(theirs.channels)}`);
}

/** Whether the node advertised `channelId` (a peer only gets traffic on channels it listed). */
export function nodeInfoHasChannel(info: NodeInfo, channelId: number): boolean {
  return info.channels.includes(channelId);
}

/**
 * The node's self-reported address, `id@listen_addr` (scheme dropped). Synchronous: a host name
 * throws ErrNetAddressLookupNeeded (use resolveNodeInfoNetAddress); other problems throw the
 * NetAddress parse errors.
 */
export function nodeInfoNetAddress(info: NodeInfo): NetAddress {
  return NetAddress.parse(listenAddressText(info));
}

/** nodeInfoNetAddress, looking up a host name (first result). */
export function resolveNodeInfoNetAddress(info: NodeInfo, lookup?: HostLookup): Promise<NetAddress> {
  return NetAddress.resolve(listenAddressText(info), lookup);
}

export interface BuildNodeInfoOptions {
  /** Our node ID (NodeKey.id): 40 lowercase hex characters. */
  nodeId: NodeId;
  /** Advertised address: the external address when set, else the listen address, e.g. "tcp://0.0.0.0:26656". */
  listenAddr: string;
  /** Chain ID. */
  network: string;
  /** Software version text. */
  version: string;
  moniker: string;
  /** Channel IDs of the registered reactors (0..255 each), in registration order. */
  channels: Iterable<number>;
  /** "on", "off" or "" (default "off": this stack indexes no transactions). */
  txIndex?: string;
  /** RPC listen address to advertise (default ""). */
  rpcAddress?: string;
  /** Overrides of DEFAULT_PROTOCOL_VERSION (p2p 8, block 11, app 0). */
  protocolVersion?: Partial<ProtocolVersion>;
}

/**
 * Builds our NodeInfo and validates it, so a bad moniker or address in the config fails at start
 * (ErrNodeInfoInvalid naming the field) instead of at every peer.
 */
export function buildNodeInfo(options: BuildNodeInfoOptions): NodeInfo {
  if (nodeIdProblem(options.nodeId) !== undefined || options.nodeId !== options.nodeId.toLowerCase()) {
    throw new ErrNodeInfoInvalid('id', `must be a node ID of 40 lowercase hex characters, got ${JSON.stringify(options.nodeId)}`);
  }
  const channelList = Array.from(options.channels);
  for (const ch of channelList) {
    if (!Number.isInteger(ch) || ch < 0 || ch > 255) throw new ErrNodeInfoInvalid('channels', `channel ID ${ch} is not an integer 0..255`);
  }
  const protocolVersion = { ...DEFAULT_PROTOCOL_VERSION, ...options.protocolVersion };
  for (const [name, value] of Object.entries(protocolVersion)) {
    if (!Number.isSafeInteger(value) || value < 0) throw new ErrNodeInfoInvalid(`protocol_version.${name}`, `must be a non-negative integer, got ${value}`);
  }
  const info: NodeInfo = {
    protocolVersion,
    id: options.nodeId,
    listenAddr: options.listenAddr,
    network: options.network,
    version: options.version,
    channels: Uint8Array.from(channelList),
    moniker: options.moniker,
    other: { txIndex: options.txIndex ?? 'off', rpcAddress: options.rpcAddress ?? '' },
  };
  validateNodeInfo(info);
  return info;
}

/**
 * The JSON shape CometBFT's RPC uses for a NodeInfo (`/status`, `/net_info`): versions as decimal
 * strings, channels as uppercase hex.
 */
export function nodeInfoToJson(info: NodeInfo): Record<string, unknown> {
  return {
    protocol_version: {
      p2p: String(info.protocolVersion.p2p),
      block: String(info.protocolVersion.block),
      app: String(info.protocolVersion.app),
    },
    id: info.id,
    listen_addr: info.listenAddr,
    network: info.network,
    version: info.version,
    channels: Buffer.from(info.channels).toString('hex').toUpperCase(),
    moniker: info.moniker,
    other: { tx_index: info.other.txIndex, rpc_address: info.other.rpcAddress },
  };
}
