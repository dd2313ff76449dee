/**
 * The RPC backend of a running Node: reads come from the Switch, operator calls act on the
 * Switch, the address book and the operator ban list.
 */
import type { AddrBook } from '../addrbook/addr-book.js';
import type { Clock } from '../p2p/clock.js';
import type { Logger } from '../p2p/logger.js';
import { NetAddress } from '../p2p/net-address.js';
import type { NodeInfo } from '../p2p/node-info.js';
import type { Switch } from '../p2p/switch.js';
import { SwitchyardError } from '../p2p/errors.js';
import type { OperatorBans } from './operator-bans.js';
import { peerIdOf } from './address-syntax.js';
import type { DialPeersOptions, PeerRates, RpcBackend, RpcPeer } from './rpc/backend.js';

export class ErrPeerNotConnected extends SwitchyardError {
  constructor(readonly peerId: string) {
    super(`peer ${peerId} is not connected`);
  }
}

/** Why a peer was stopped: the operator banned it. */
export class ErrPeerBannedByOperator extends SwitchyardError {
  constructor(readonly peerId: string, readonly untilMs: number) {
    super(`peer ${peerId} banned by the operator until ${new Date(untilMs).toISOString()}`);
  }
}

export class ErrBanRefused extends SwitchyardError {
  constructor(readonly address: string, reason: string) {
    super(`cannot ban ${address}: ${reason}`);
  }
}

export interface NodeRpcBackendDeps {
  sw: Switch;
  book: AddrBook;
  bans: OperatorBans;
  clock: Clock;
  logger: Logger;
  publicKey: Uint8Array;
}

export class NodeRpcBackend implements RpcBackend {
  constructor(private readonly d: NodeRpcBackendDeps) {}

  nodeInfo(): NodeInfo {
    return this.d.sw.nodeInfo();
  }

  publicKey(): Uint8Array {
    return this.d.publicKey;
  }

  isListening(): boolean {
    return this.d.sw.isRunning;
  }

  listeners(): string[] {
    return this.d.sw.isRunning ? [`Listener(@${this.d.sw.nodeInfo().listenAddr})`] : [];
  }

  peers(): RpcPeer[] {
    return this.d.sw.peers.list().map((p) => ({ nodeInfo: p.nodeInfo, isOutbound: p.outbound, status: p.status(), remoteIp: p.remoteIP() }));
  }

  dialSeeds(addresses: string[]): void {
    this.dial(addresses);
  }

  dialPeers(addresses: string[], options: DialPeersOptions): void {
    const ids = addresses.map(peerIdOf);
    if (options.private) {
      this.d.sw.addPrivatePeerIds(ids);
      this.d.book.addPrivateIDs(ids);
    }
    if (options.unconditional) this.d.sw.addUnconditionalPeerIds(ids);
    if (options.persistent) this.d.sw.addPersistentPeers(addresses);
    this.dial(addresses);
  }

  async disconnectPeer(peerId: string): Promise<void> {
    const peer = this.d.sw.peers.get(peerId);
    if (!peer) throw new ErrPeerNotConnected(peerId);
    await this.d.sw.stopPeerGracefully(peer);
  }

  banAddress(address: string, durationMs: number): { untilMs: number } {
    const addr = parseIpAddress(address);
    const untilMs = this.d.bans.ban(addr.id, durationMs);
    // The book's ban keeps PEX from dialing or storing it and survives a restart; the book bans
    // the ID whether or not it holds the address.
    this.d.book.markBad(addr, durationMs);
    const peer = this.d.sw.peers.get(addr.id);
    if (peer) this.d.sw.stopPeerForError(peer, new ErrPeerBannedByOperator(addr.id, untilMs));
    return { untilMs };
  }

  /**
   * Lifts both bans on the address's node ID: the operator's refusal and the address book's ban
   * (the entry goes back to a new bucket at once, attempts cleared, and is saved so).
   */
  unbanAddress(address: string): void {
    const addr = parseIpAddress(address);
    this.d.bans.unban(addr.id);
    this.d.book.unban(addr);
  }

  setPeerRates(peerId: string, rates: PeerRates): void {
    const peer = this.d.sw.peers.get(peerId);
    if (!peer) throw new ErrPeerNotConnected(peerId);
    peer.setRates(rates);
  }

  private dial(addresses: string[]): void {
    this.d.sw.dialPeersAsync(addresses).catch((err: unknown) => this.d.logger.warn({ err }, 'dial requested over RPC failed'));
  }
}

function parseIpAddress(address: string): NetAddress {
  try {
    return NetAddress.parse(address);
  } catch (err) {
    throw new ErrBanRefused(address, `${(err as Error).message} (give id@ip:port with an IP literal)`);
  }
}
