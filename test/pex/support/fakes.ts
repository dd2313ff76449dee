/**
 * Small doubles of the Switch, Peer and AddrBook surfaces PEX uses (pex/pex-deps.ts), for fast,
 * exact reactor tests on the VirtualClock. Integration tests use the real ones.
 */
import type { VirtualClock } from '../../../p2p/clock.js';
import { NetAddress } from '../../../p2p/net-address.js';
import { SeededRng } from '../../../p2p/rng.js';
import type { PexAddrBook, PexPeer, PexSwitch } from '../../../pex/pex-deps.js';
import type { PexReactor } from '../../../pex/pex-reactor.js';

export const idOf = (n: number): string => n.toString(16).padStart(40, '0');
/** A routable, distinct address per n. */
export const addrOf = (n: number, port = 26656): NetAddress => new NetAddress(idOf(n), `11.${(n >> 8) & 255}.${n & 255}.1`, port);

export class FakePeer implements PexPeer {
  readonly sent: { channelId: number; bytes: Uint8Array; atMs: number }[] = [];
  flushed = false;
  sendResult = true;
  readonly nodeInfo: { id: string; listenAddr: string };
  constructor(
    private readonly clock: VirtualClock,
    readonly id: string,
    readonly outbound: boolean,
    readonly persistent: boolean,
    private readonly addr: NetAddress,
    listenAddr: string,
    readonly connectedAtMs = clock.now(),
  ) {
    this.nodeInfo = { id, listenAddr };
  }
  socketAddr(): NetAddress {
    return this.addr;
  }
  send(channelId: number, message: Uint8Array): Promise<boolean> {
    this.sent.push({ channelId, bytes: message, atMs: this.clock.now() });
    return Promise.resolve(this.sendResult);
  }
  async flushStop(): Promise<void> {
    this.flushed = true;
  }
  /** Hex of every message sent, in order. */
  sentHex(): string[] {
    return this.sent.map((s) => Buffer.from(s.bytes).toString('hex'));
  }
}

export type DialBehaviour = 'ok' | 'fail' | 'hang';

export class FakeSwitch implements PexSwitch<FakePeer> {
  readonly connected = new Map<string, FakePeer>();
  readonly dialing = new Set<string>();
  readonly dialLog: { addr: string; atMs: number }[] = [];
  readonly stoppedForError: { peer: FakePeer; reason: unknown }[] = [];
  readonly stoppedGracefully: FakePeer[] = [];
  readonly persistentAddrs = new Set<string>();

  /** How a dial to an address ends; default 'ok'. */
  behaviour: (addr: NetAddress) => DialBehaviour = () => 'ok';
  dialLatencyMs = 0;
  /** Highest outbound + dialing ever seen. */
  maxOutboundSeen = 0;
  reactor: PexReactor<FakePeer> | undefined;
  readonly peers = { list: (): readonly FakePeer[] => [...this.connected.values()] };

  constructor(
    private readonly clock: VirtualClock,
    readonly self: NetAddress,
    public maxOutbound = 10,
  ) {}

  numPeers(): { outbound: number; inbound: number; dialing: number } {
    let outbound = 0;
    for (const p of this.connected.values()) if (p.outbound) outbound++;
    return { outbound, inbound: this.connected.size - outbound, dialing: this.dialing.size };
  }
  maxOutboundPeers(): number {
    return this.maxOutbound;
  }
  netAddress(): NetAddress {
    return this.self;
  }
  isPeerPersistent(addr: NetAddress): boolean {
    return this.persistentAddrs.has(addr.toString());
  }

  isDialingOrExistingAddress(addr: NetAddress): boolean {
    if (this.dialing.has(addr.dialString()) || this.connected.has(addr.id)) return true;
    for (const p of this.connected.values()) if (p.socketAddr().dialString() === addr.dialString()) return true;
    return false;
  }
  private track(): void {
    const c = this.numPeers();
    this.maxOutboundSeen = Math.max(this.maxOutboundSeen, c.outbound + c.dialing);
  }
  dialPeerWithAddress(addr: NetAddress): Promise<FakePeer> {
    if (this.isDialingOrExistingAddress(addr)) {
      const err = new Error('already');
      err.name = 'ErrCurrentlyDialingOrExistingAddress';
      return Promise.reject(err);
    }
    this.dialLog.push({ addr: addr.toString(), atMs: this.clock.now() });
    this.dialing.add(addr.dialString());
    this.track();
    const behaviour = this.behaviour(addr);
    return new Promise<FakePeer>((resolve, reject) => {
      if (behaviour === 'hang') return;
      const finish = (): void => {
        this.dialing.delete(addr.dialString());
        if (behaviour === 'fail') {
          reject(new Error(`dial ${addr.dialString()} refused`));
          return;
        }
        const peer = new FakePeer(this.clock, addr.id, true, this.isPeerPersistent(addr), addr, `tcp://${addr.dialString()}`);
        this.addPeer(peer);
        resolve(peer);
      };
      if (this.dialLatencyMs > 0) this.clock.setTimeout(finish, this.dialLatencyMs);
      else queueMicrotask(finish);
    });
  }
  /** Connects a peer (outbound or inbound) and tells the reactor. */
  addPeer(peer: FakePeer): void {
    this.connected.set(peer.id, peer);
    this.track();
    this.reactor?.addPeer(peer);
  }
  connectInbound(n: number, listenAddr?: string): FakePeer {
    const a = addrOf(n);
    const peer = new FakePeer(this.clock, a.id, false, false, new NetAddress(a.id, a.ip, 50000 + n), listenAddr ?? `tcp://${a.dialString()}`);
    this.addPeer(peer);
    return peer;
  }
  private remove(peer: FakePeer, reason: unknown): void {
    if (this.connected.get(peer.id) !== peer) return;
    this.connected.delete(peer.id);
    this.reactor?.removePeer(peer, reason);
  }
  stopPeerForError(peer: FakePeer, reason: unknown): void {
    this.stoppedForError.push({ peer, reason });
    this.remove(peer, reason);
  }
  async stopPeerGracefully(peer: FakePeer): Promise<void> {
    this.stoppedGracefully.push(peer);
    this.remove(peer, undefined);
  }
}

interface Entry {
  addr: NetAddress;
  src: NetAddress;
}

export class FakeBook implements PexAddrBook {
  readonly entries = new Map<string, Entry>();
  readonly bans = new Map<string, { addr: NetAddress; untilMs: number }>();
  readonly markBadCalls: { addr: string; banTimeMs: number }[] = [];
  readonly markAttemptCalls: string[] = [];
  readonly pickBiases: number[] = [];
  readonly selectionBiases: number[] = [];
  reinstateCalls = 0;
  needMoreThreshold = 1000;
  private readonly rng = new SeededRng('fake-book');
  constructor(
    private readonly clock: VirtualClock,
    private readonly ours: NetAddress | undefined = undefined,
  ) {}

  addAddress(addr: NetAddress, src: NetAddress): void {
    if (this.ours && addr.same(this.ours)) throw new Error('own address');
    if (!addr.valid()) throw new Error(`invalid ${addr.validProblem()}`);
    if (this.isBanned(addr)) throw new Error('banned');
    if (!this.entries.has(addr.id)) this.entries.set(addr.id, { addr, src });
  }
  needMoreAddrs(): boolean {
    return this.entries.size < this.needMoreThreshold;
  }
  size(): number {
    return this.entries.size;
  }
  empty(): boolean {
    return this.entries.size === 0;
  }
  pickAddress(bias: number): NetAddress | undefined {
    this.pickBiases.push(bias);
    const all = [...this.entries.values()];
    if (all.length === 0) return undefined;
    return all[this.rng.int(all.length)].addr;
  }
  markAttempt(addr: NetAddress): void {
    this.markAttemptCalls.push(addr.toString());
  }
  markBad(addr: NetAddress, banTimeMs: number): void {
    this.markBadCalls.push({ addr: addr.toString(), banTimeMs });
    this.entries.delete(addr.id);
    this.bans.set(addr.id, { addr, untilMs: this.clock.now() + banTimeMs });
  }
  isBanned(addr: NetAddress): boolean {
    const b = this.bans.get(addr.id);
    return b !== undefined && b.untilMs > this.clock.now();
  }
  reinstateBadPeers(): void {
    this.reinstateCalls++;
    for (const [id, b] of this.bans) {
      if (b.untilMs <= this.clock.now()) {
        this.bans.delete(id);
        this.entries.set(id, { addr: b.addr, src: b.addr });
      }
    }
  }
  getSelection(): NetAddress[] {
    return this.rng.shuffle([...this.entries.values()].map((e) => e.addr)).slice(0, 250);
  }
  getSelectionWithBias(bias: number): NetAddress[] {
    this.selectionBiases.push(bias);
    return this.getSelection();
  }
  ourAddress(addr: NetAddress): boolean {
    return this.ours !== undefined && addr.same(this.ours);
  }
  fill(from: number, count: number): void {
    for (let i = from; i < from + count; i++) this.entries.set(addrOf(i).id, { addr: addrOf(i), src: addrOf(i) });
  }
}
