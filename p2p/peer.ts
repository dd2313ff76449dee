/**
 * A connected, authenticated peer: its identity and NodeInfo, its MConnection, and a small
 * key/value store reactors use for per-peer state. Sends go only to channels the peer advertised
 * in its NodeInfo (like CometBFT's hasChannel check), so a peer never gets traffic it did not ask
 * for; a send to any other channel, or after the peer stopped, returns false at once.
 */
import type { Duplex } from 'node:stream';
import type { Clock } from './clock.js';
import type { Logger } from './logger.js';
import { silentLogger } from './logger.js';
import { MConnection, type MConnectionOptions } from './conn/mconnection.js';
import type { ChannelDescriptor } from './conn/channel.js';
import type { ConnectionStatus } from './conn/connection-status.js';
import type { NetAddress } from './net-address.js';
import { nodeInfoNetAddress, type NodeInfo } from './node-info.js';
import type { NodeId } from './node-id.js';

export type { ConnectionStatus };

export interface PeerDeps {
  clock: Clock;
  logger?: Logger;
}

export interface PeerInit {
  /** The authenticated stream (a SecretConnection) after the NodeInfo exchange. */
  conn: Duplex;
  nodeInfo: NodeInfo;
  outbound: boolean;
  persistent: boolean;
  /** Outbound: the address we dialed. Inbound: id@remote-ip:remote-port of the connection. */
  socketAddr: NetAddress;
  /** Our channels (those of the registered reactors). */
  channels: ChannelDescriptor[];
  mconnOptions?: MConnectionOptions;
  /** Every received message; the Switch routes it to the channel's reactor. */
  onReceive(peer: Peer, channelId: number, message: Uint8Array): void;
  /** The connection failed (read/write error, bad packet, pong timeout, ...). */
  onError(peer: Peer, err: Error): void;
}

export type PeerStatus = 'new' | 'running' | 'stopped';

export class Peer {
  readonly id: NodeId;
  readonly nodeInfo: NodeInfo;
  readonly outbound: boolean;
  readonly persistent: boolean;
  /** Clock time when the peer object was made (just after the upgrade). */
  readonly connectedAtMs: number;
  /** Set by PeerSet.remove when the peer was never in the set; see PeerSet. */
  removalFailed = false;
  private readonly mconn: MConnection;
  private readonly socketAddress: NetAddress;
  private readonly advertised: Uint8Array;
  private data: Map<string, unknown> | undefined;
  private state: PeerStatus = 'new';

  constructor(deps: PeerDeps, init: PeerInit) {
    this.id = init.nodeInfo.id;
    this.nodeInfo = init.nodeInfo;
    this.outbound = init.outbound;
    this.persistent = init.persistent;
    this.socketAddress = init.socketAddr;
    this.connectedAtMs = deps.clock.now();
    // One byte per possible channel id: the send-path check is an array lookup.
    this.advertised = new Uint8Array(256);
    for (const ch of init.nodeInfo.channels) this.advertised[ch] = 1;
    const onReceive = init.onReceive;
    const onError = init.onError;
    this.mconn = new MConnection(
      { clock: deps.clock, logger: deps.logger ?? silentLogger },
      init.conn,
      init.channels,
      {
        onReceive: (channelId, message) => onReceive(this, channelId, message),
        onError: (err) => onError(this, err),
      },
      init.mconnOptions,
    );
  }

  /** Starts the connection (called by the Switch between initPeer and addPeer). */
  start(): void {
    if (this.state !== 'new') return;
    this.state = 'running';
    this.mconn.start();
  }

  /** Closes the connection at once; queued messages are dropped. Idempotent. */
  stop(reason?: Error): void {
    if (this.state === 'stopped') return;
    this.state = 'stopped';
    this.mconn.stop(reason);
  }

  /** Sends what is queued, then closes. */
  async flushStop(): Promise<void> {
    if (this.state === 'stopped') return;
    this.state = 'stopped';
    await this.mconn.flushStop();
  }

  get running(): boolean {
    return this.state === 'running';
  }

  /** 'new' until the Switch starts it, 'running', then 'stopped' for good. */
  get lifecycle(): PeerStatus {
    return this.state;
  }

  /** Queues `message` on `channelId`, waiting (bounded) for room; false if not sendable. */
  send(channelId: number, message: Uint8Array): Promise<boolean> {
    if (this.state !== 'running' || this.advertised[channelId] !== 1) return Promise.resolve(false);
    return this.mconn.send(channelId, message);
  }

  /** Queues `message` if there is room right now; false otherwise. */
  trySend(channelId: number, message: Uint8Array): boolean {
    if (this.state !== 'running' || this.advertised[channelId] !== 1) return false;
    return this.mconn.trySend(channelId, message);
  }

  /** Whether a trySend on this channel could succeed now. */
  canSend(channelId: number): boolean {
    if (this.state !== 'running' || this.advertised[channelId] !== 1) return false;
    return this.mconn.canSend(channelId);
  }

  /** Whether the peer advertised `channelId` in its NodeInfo. */
  hasChannel(channelId: number): boolean {
    return this.advertised[channelId] === 1;
  }

  /** Connection statistics: queues, bytes and messages per channel, rates. */
  status(): ConnectionStatus {
    return this.mconn.status();
  }

  /** Outbound: the dialed address. Inbound: id@ip:port of the remote end of the connection. */
  socketAddr(): NetAddress {
    return this.socketAddress;
  }

  /** The address the peer says it listens on (NodeInfo listen_addr with its ID), if it parses. */
  selfReportedAddr(): NetAddress | undefined {
    try {
      return nodeInfoNetAddress(this.nodeInfo);
    } catch {
      return undefined;
    }
  }

  remoteIP(): string {
    return this.socketAddress.ip;
  }

  get(key: string): unknown {
    return this.data?.get(key);
  }

  set(key: string, value: unknown): void {
    (this.data ??= new Map()).set(key, value);
  }

  /** Sets the MConnection's send/receive rates (bytes/s). */
  setRates(rates: { sendRate?: number; recvRate?: number }): void {
    this.mconn.setRates(rates);
  }

  toString(): string {
    return `Peer{${this.id}@${this.socketAddress.dialString()} ${this.outbound ? 'out' : 'in'}}`;
  }
}
