/**
 * The transport seam: something that produces raw, unauthenticated byte connections (Node
 * Duplexes). TCP and the in-memory network both implement it, so the same SecretConnection +
 * MConnection + Switch code runs over either. Authentication and the NodeInfo exchange happen
 * above this layer (p2p/upgrade.ts).
 */
import type { Duplex } from 'node:stream';

/** An IP literal (dotted IPv4 or IPv6 without brackets) and a port. */
export interface TransportAddress {
  ip: string;
  port: number;
}

/** One raw byte connection, inbound or outbound, before any handshake. */
export interface RawConnection {
  readonly stream: Duplex;
  /** The other end as seen by this transport (for inbound: the dialer's address and source port). */
  readonly remote: TransportAddress;
  readonly local: TransportAddress;
}

/** Called once for every accepted inbound connection; the callee owns the stream from then on. */
export type ConnectionHandler = (conn: RawConnection) => void;

export interface DialOptions {
  /** Give up after this long. Default: the transport's `dialTimeoutMs` (CometBFT: 1 s). */
  timeoutMs?: number;
  /** Aborting rejects the dial and closes a half-made connection. */
  signal?: AbortSignal;
}

export interface Transport {
  /**
   * Starts accepting connections; resolves with the address actually bound (port 0 asks the
   * system for a free port). Calling it twice is an error.
   */
  listen(onConnection: ConnectionHandler): Promise<TransportAddress>;
  /** Opens a raw connection; rejects with ErrDialTimeout, ErrConnectionRefused, ErrDialFailed or ErrDialAborted. */
  dial(remote: TransportAddress, options?: DialOptions): Promise<RawConnection>;
  /** Stops listening and destroys every connection this transport made or accepted that is still open. */
  close(): Promise<void>;
  /** The bound address while listening, else undefined. */
  listenAddress(): TransportAddress | undefined;
  /** Connections made or accepted by this transport that are not closed yet (leak checks). */
  openConnections(): number;
}

/** CometBFT's fixed dial timeout (the `dial_timeout` config key is ignored by its real transport). */
export const DEFAULT_DIAL_TIMEOUT_MS = 1000;
