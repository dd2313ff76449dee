/**
 * The Switch's collaborators and options, with CometBFT's defaults, and their validation: bad
 * user input fails at construction with ErrSwitchConfig naming the key and the accepted form.
 */
import type { Clock } from './clock.js';
import type { LocalIdentity } from './conn/secret-connection.js';
import type { FrameCryptoPool } from './conn/frame-crypto-pool.js';
import type { MConnectionOptions } from './conn/mconnection.js';
import type { Logger } from './logger.js';
import type { NetAddress } from './net-address.js';
import type { NodeInfo, ProtocolVersion } from './node-info.js';
import { isValidNodeId, type NodeId } from './node-id.js';
import type { Rng } from './rng.js';
import { ErrSwitchConfig } from './switch-errors.js';
import type { Transport, TransportAddress } from './transport/transport.js';
import { DEFAULT_FILTER_TIMEOUT_MS, DEFAULT_HANDSHAKE_TIMEOUT_MS } from './upgrade.js';
import { DEFAULT_DIAL_TIMEOUT_MS } from './transport/transport.js';

/** What the Switch needs of an address book (helper D's AddrBook satisfies it). */
export interface AddrBookLike {
  /** May throw (refused address); the Switch logs and goes on. */
  addAddress(addr: NetAddress, src: NetAddress): unknown;
  addOurAddress(addr: NetAddress): void;
  removeAddress(addr: NetAddress): void;
  markGood(id: NodeId): void;
  save(): unknown;
}

/**
 * Who may not connect. The Switch asks it before every dial (a banned ID is not dialed) and after
 * every upgrade, in both directions (a banned ID is refused with ErrRejectedBanned). It does not
 * disconnect peers already connected: whoever bans a connected peer stops it too (PEX and the
 * node's RPC do). Kept as an interface so the Switch needs nothing above p2p/: the node answers
 * from the address book's running bans and the operator's.
 */
export interface PeerBanList {
  /** When the ban on `id` ends (Clock ms), or undefined when `id` may connect now. Must be quick; must not throw. */
  bannedUntil(id: NodeId): number | undefined;
}

/** A connection filter: throw (or reject) to refuse the connection, by its remote address. */
export type ConnFilter = (remote: TransportAddress) => void | Promise<void>;

/** A peer filter: throw (or reject) to refuse an authenticated peer, by its ID and NodeInfo. */
export type PeerFilter = (peer: { id: NodeId; nodeInfo: NodeInfo; remote: TransportAddress; outbound: boolean }) => void | Promise<void>;

export interface SwitchDeps {
  transport: Transport;
  /** Our node key (NodeKey satisfies it). */
  nodeKey: LocalIdentity & { readonly id: NodeId };
  /** Default: the system clock. */
  clock?: Clock;
  /** Dial order and jitter. Default: crypto-seeded. */
  rng?: Rng;
  logger?: Logger;
  /** Optional: addresses from dialPeersAsync go in, good peers are marked, self-dials are removed. */
  addrBook?: AddrBookLike;
  /** Optional: banned IDs are neither dialed nor let in (see PeerBanList). Default: nobody is banned. */
  bans?: PeerBanList;
  /**
   * Optional: worker threads that seal and open peers' bulk transfers (see FrameCryptoPool). The
   * caller owns it (the Switch does not close it). Default: all frame crypto on this thread.
   */
  cryptoPool?: FrameCryptoPool;
}

/** What goes into our NodeInfo besides the ID (from the key) and the channels (from the reactors). */
export interface SwitchNodeInfoOptions {
  /** Chain ID. Required. */
  network: string;
  /** Required, non-empty printable ASCII. */
  moniker: string;
  /** Software version text. Default '0.1.0'. */
  version?: string;
  /** Advertised `[scheme://]ip:port` (external_address, else laddr). Default: `tcp://<bound ip>:<bound port>`. */
  listenAddr?: string;
  /** Default 'off'. */
  txIndex?: string;
  /** Default ''. */
  rpcAddress?: string;
  /** Default p2p 8, block 11, app 0. */
  protocolVersion?: Partial<ProtocolVersion>;
}

export interface SwitchOptions {
  nodeInfo: SwitchNodeInfoOptions;
  /** max_num_inbound_peers. Default 40. Unconditional peers are not counted. */
  maxInboundPeers?: number;
  /** max_num_outbound_peers, enforced by PEX, not by the Switch. Default 10. */
  maxOutboundPeers?: number;
  /** `id@ip:port` entries kept connected (redialed forever). Default none. */
  persistentPeers?: string[];
  /** IDs exempt from the peer limits and not counted. Default none. */
  unconditionalPeerIds?: string[];
  /** IDs never handed to the address book. Default none. */
  privatePeerIds?: string[];
  /** Allow two peers from one IP. Default false. */
  allowDuplicateIp?: boolean;
  /** persistent_peers_max_dial_period in ms; 0 = unset (redials settle at 10 min). Default 0. */
  persistentPeersMaxDialPeriodMs?: number;
  /** Default 1000 ms (CometBFT's fixed value). */
  dialTimeoutMs?: number;
  /** Per step (handshake, NodeInfo exchange). Default 3000 ms. */
  handshakeTimeoutMs?: number;
  /** Bound on the connection filters and on the peer filters. Default 5000 ms. */
  filterTimeoutMs?: number;
  /** Bound on waiting for reactors' asynchronous removePeer. Default 10 000 ms. */
  removePeerTimeoutMs?: number;
  /** Upper bound (exclusive) of dialPeersAsync's random delay per address. Default 3000 ms. */
  dialJitterMaxMs?: number;
  connFilters?: ConnFilter[];
  peerFilters?: PeerFilter[];
  /** Passed to every peer's MConnection. */
  mconnection?: MConnectionOptions;
  /**
   * FOR TESTS AND REPLAYS ONLY. Called once per SecretConnection handshake (dialed and accepted)
   * for the ephemeral X25519 private key (32 bytes) to use, so a run can reproduce recorded bytes
   * (test/node/conversation-replay.test.ts). A fixed key gives up forward secrecy: never set it
   * on a real node. Default: unset, and every handshake draws a fresh random key.
   */
  ephemeralKeyProvider?: () => Uint8Array;
}

export interface ResolvedSwitchOptions {
  nodeInfo: SwitchNodeInfoOptions;
  maxInboundPeers: number;
  maxOutboundPeers: number;
  allowDuplicateIp: boolean;
  persistentPeersMaxDialPeriodMs: number;
  dialTimeoutMs: number;
  handshakeTimeoutMs: number;
  filterTimeoutMs: number;
  removePeerTimeoutMs: number;
  dialJitterMaxMs: number;
  connFilters: ConnFilter[];
  peerFilters: PeerFilter[];
  mconnection: MConnectionOptions;
  ephemeralKeyProvider: (() => Uint8Array) | undefined;
}

function nonNegativeInt(key: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || value < 0) throw new ErrSwitchConfig(key, value, 'a non-negative integer');
  return value;
}

function positiveInt(key: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || value <= 0) throw new ErrSwitchConfig(key, value, 'a positive integer (milliseconds)');
  return value;
}

function optionalFunction<F>(key: string, value: F | undefined): F | undefined {
  if (value !== undefined && typeof value !== 'function') throw new ErrSwitchConfig(key, value, 'a function, or unset');
  return value;
}

export function resolveSwitchOptions(options: SwitchOptions): ResolvedSwitchOptions {
  if (!options || typeof options.nodeInfo !== 'object') throw new ErrSwitchConfig('nodeInfo', options?.nodeInfo, '{ network, moniker, ... }');
  if (typeof options.nodeInfo.network !== 'string') throw new ErrSwitchConfig('nodeInfo.network', options.nodeInfo.network, 'the chain ID string');
  if (typeof options.nodeInfo.moniker !== 'string' || options.nodeInfo.moniker.trim() === '') {
    throw new ErrSwitchConfig('nodeInfo.moniker', options.nodeInfo.moniker, 'a non-empty printable ASCII string');
  }
  return {
    nodeInfo: options.nodeInfo,
    maxInboundPeers: nonNegativeInt('maxInboundPeers', options.maxInboundPeers, 40),
    maxOutboundPeers: nonNegativeInt('maxOutboundPeers', options.maxOutboundPeers, 10),
    allowDuplicateIp: options.allowDuplicateIp ?? false,
    persistentPeersMaxDialPeriodMs: nonNegativeInt('persistentPeersMaxDialPeriodMs', options.persistentPeersMaxDialPeriodMs, 0),
    dialTimeoutMs: positiveInt('dialTimeoutMs', options.dialTimeoutMs, DEFAULT_DIAL_TIMEOUT_MS),
    handshakeTimeoutMs: positiveInt('handshakeTimeoutMs', options.handshakeTimeoutMs, DEFAULT_HANDSHAKE_TIMEOUT_MS),
    filterTimeoutMs: positiveInt('filterTimeoutMs', options.filterTimeoutMs, DEFAULT_FILTER_TIMEOUT_MS),
    removePeerTimeoutMs: positiveInt('removePeerTimeoutMs', options.removePeerTimeoutMs, 10_000),
    dialJitterMaxMs: positiveInt('dialJitterMaxMs', options.dialJitterMaxMs, 3000),
    connFilters: options.connFilters ?? [],
    peerFilters: options.peerFilters ?? [],
    mconnection: options.mconnection ?? {},
    ephemeralKeyProvider: optionalFunction('ephemeralKeyProvider', options.ephemeralKeyProvider),
  };
}

/** Validates a list of node IDs (unconditional/private), naming the key and the bad entry. */
export function parseNodeIds(key: string, ids: readonly string[] | undefined): Set<NodeId> {
  const out = new Set<NodeId>();
  for (const id of ids ?? []) {
    if (typeof id !== 'string' || !isValidNodeId(id)) throw new ErrSwitchConfig(key, id, 'node IDs of 40 hex characters');
    out.add(id.toLowerCase());
  }
  return out;
}
