/**
 * What the PEX reactor needs from its collaborators, as narrow structural interfaces. The real
 * Switch, Peer and AddrBook satisfy them as they are; tests may hand in small doubles. Keeping the
 * reactor to this surface is also a record of exactly which behaviour PEX relies on.
 */
import type { NetAddress } from '../p2p/net-address.js';
import type { NodeId } from '../p2p/node-id.js';

/** The address-book operations PEX uses (issue 5's AddrBook API). */
export interface PexAddrBook {
  addAddress(addr: NetAddress, src: NetAddress): void;
  needMoreAddrs(): boolean;
  size(): number;
  empty(): boolean;
  pickAddress(biasTowardsNewAddrs: number): NetAddress | undefined;
  markAttempt(addr: NetAddress): void;
  markBad(addr: NetAddress, banTimeMs: number): void;
  isBanned(addr: NetAddress): boolean;
  reinstateBadPeers(): void;
  getSelection(): NetAddress[];
  getSelectionWithBias(biasTowardsNewAddrs: number): NetAddress[];
  ourAddress(addr: NetAddress): boolean;
}

/** A connected peer, as PEX sees it. */
export interface PexPeer {
  readonly id: NodeId;
  readonly outbound: boolean;
  readonly persistent: boolean;
  /** The peer's NodeInfo; PEX reads its self-reported listen address. */
  readonly nodeInfo: { readonly id: string; readonly listenAddr: string };
  /** When the connection was added (Clock ms). */
  readonly connectedAtMs: number;
  /** Outbound: the address we dialed. Inbound: the remote end of the connection (ephemeral port). */
  socketAddr(): NetAddress;
  send(channelId: number, message: Uint8Array): Promise<boolean>;
  /** Sends everything queued, then closes. */
  flushStop(): Promise<void>;
}

/** The Switch operations PEX uses. */
export interface PexSwitch<P extends PexPeer = PexPeer> {
  numPeers(): { outbound: number; inbound: number; dialing: number };
  maxOutboundPeers(): number;
  dialPeerWithAddress(addr: NetAddress): Promise<P>;
  isDialingOrExistingAddress(addr: NetAddress): boolean;
  isPeerPersistent(addr: NetAddress): boolean;
  stopPeerForError(peer: P, reason: unknown): void;
  stopPeerGracefully(peer: P): Promise<void>;
  netAddress(): NetAddress;
  /** Connected peers. */
  readonly peers: { list(): readonly P[] };
  /** False while the Switch is starting or stopping; PEX dials only while it runs. Absent = running. */
  readonly isRunning?: boolean;
}

/** Callbacks for metrics, logs and benchmarks: called synchronously, must not throw. */
export interface PexObserver {
  /** A PEX-initiated dial is starting (called just before Switch.dialPeerWithAddress). */
  dialStarted?(addr: NetAddress, reason: 'ensure' | 'seed' | 'crawl'): void;
  /** A peer or address was banned by PEX, and why. */
  banned?(addr: NetAddress, reason: Error): void;
  /** A PexRequest was sent to a peer. */
  requestSent?(peerId: NodeId): void;
  /** An ensurePeers round ran. */
  ensurePeersRan?(info: { periodElapsed: boolean; numToDial: number; chosen: number }): void;
}
