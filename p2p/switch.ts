/**
 * The Switch: owns the transport, upgrades connections into peers, keeps the peer set, routes each
 * received message to the reactor of its channel, and keeps persistent peers connected.
 *
 * Guarantees (see spec/switch.md):
 *  - per peer: initPeer on every reactor → the connection starts → the peer joins the peer set →
 *    addPeer on every reactor → 'peer:add'. Stopping: the connection closes → removePeer on every
 *    reactor (awaited, bounded) → the peer leaves the peer set → 'peer:remove'. Because the set is
 *    left last, a reconnecting peer is refused as a duplicate until its removal has finished.
 *  - a reactor or listener that throws is logged; it never breaks the Switch. A reactor throwing
 *    in initPeer/addPeer/receive stops that peer (reason ErrReactorFailed).
 *  - stop() leaves no timers, sockets, listeners or background tasks behind.
 */
import type { FrameCryptoPool } from './conn/frame-crypto-pool.js';
import { setMaxListeners } from 'node:events';
import type { Duplex } from 'node:stream';
import { systemClock, type Clock } from './clock.js';
import type { ChannelDescriptor } from './conn/channel.js';
import { silentLogger, type Logger } from './logger.js';
import { ErrNetAddressLookupNeeded, NET_ADDRESS_FORM, NetAddress } from './net-address.js';
import { buildNodeInfo, nodeInfoNetAddress, type NodeInfo } from './node-info.js';
import type { NodeId } from './node-id.js';
import { Peer } from './peer.js';
import { PeerSet } from './peer-set.js';
import { PersistentRedialer } from './persistent-redialer.js';
import type { Reactor } from './reactor.js';
import { cryptoRng, type Rng } from './rng.js';
import { SafeEmitter, type SwitchEvents } from './switch-events.js';
import {
  ErrAlreadyDialingOrConnected,
  ErrDuplicateChannel,
  ErrDuplicateReactor,
  ErrInvalidChannel,
  ErrNoReactorForChannel,
  ErrReactorFailed,
  ErrRejectedBanned,
  ErrRejectedDuplicate,
  ErrRejectedFiltered,
  ErrRejectedInboundLimit,
  ErrRejectedSelf,
  ErrRejectedUpgradeLimit,
  ErrSwitchConfig,
  ErrSwitchNotRunning,
  ErrSwitchStarted,
  ErrUpgradeTimeout,
  PeerStoppedGracefully,
  SwitchStopping,
} from './switch-errors.js';
import {
  parseNodeIds,
  resolveSwitchOptions,
  type AddrBookLike,
  type PeerBanList,
  type ResolvedSwitchOptions,
  type SwitchDeps,
  type SwitchOptions,
} from './switch-options.js';
import type { RawConnection, Transport, TransportAddress } from './transport/transport.js';
import { runFilters, upgradeConnection, withDeadline, type UpgradedConnection } from './upgrade.js';

export type { AddrBookLike, PeerBanList, SwitchDeps, SwitchOptions };

type SwitchState = 'new' | 'starting' | 'running' | 'stopping' | 'stopped';

interface Route {
  name: string;
  reactor: Reactor;
}

const remoteText = (r: TransportAddress): string => (r.ip.includes(':') ? `[${r.ip}]:${r.port}` : `${r.ip}:${r.port}`);
const RESOLVED: Promise<void> = Promise.resolve();
export { STABLE_CONNECTION_MS } from './persistent-redialer.js';
/** Self-dialed addresses remembered by isOurAddress (the address book keeps its own list). */
const MAX_OUR_ADDRESSES = 64;

export class Switch extends SafeEmitter<SwitchEvents> {
  /** The connected peers. Read-only for users: add and remove go through the Switch. */
  readonly peers = new PeerSet<Peer>();
  private readonly clock: Clock;
  private readonly rng: Rng;
  private readonly logger: Logger;
  private readonly transport: Transport;
  private readonly nodeKey: SwitchDeps['nodeKey'];
  private addrBook: AddrBookLike | undefined;
  private bans: PeerBanList | undefined;
  private readonly cryptoPool: FrameCryptoPool | undefined;
  private readonly opts: ResolvedSwitchOptions;

  private readonly reactors: Route[] = [];
  /** Channel id → reactor: the receive path is one array lookup. */
  private readonly routes: (Route | undefined)[] = new Array(256);
  private readonly channels: ChannelDescriptor[] = [];

  private state: SwitchState = 'new';
  private ourNodeInfo: NodeInfo | undefined;
  private readonly ourAddresses: NetAddress[] = [];
  private readonly persistent = new Map<NodeId, NetAddress>();
  private readonly unconditional: Set<NodeId>;
  private readonly privateIds: Set<NodeId>;

  private readonly dialing = new Set<NodeId>();
  /** IDs between the duplicate check and joining the peer set: direction, and a promise settled on release. */
  private readonly reserved = new Map<NodeId, { outbound: boolean; released: Promise<void> }>();
  private reservedInbound = 0;
  private readonly redialer: PersistentRedialer;
  /** Peers whose stop has begun; removals.get(peer) is pending until it has finished. */
  private readonly stopping = new WeakSet<Peer>();
  private readonly removals = new Map<Peer, Promise<void>>();
  /** Raw connections not yet owned by a peer; destroyed by stop(). */
  private readonly inflight = new Set<Duplex>();
  /** Background work (accepts, dials, redials, removals) that stop() waits for. */
  private readonly tasks = new Set<Promise<unknown>>();
  private upgradingInbound = 0;
  private readonly stopController = new AbortController();

  constructor(deps: SwitchDeps, options: SwitchOptions) {
    const logger = (deps.logger ?? silentLogger).child({ module: 'switch' });
    super(logger);
    this.logger = logger;
    this.clock = deps.clock ?? systemClock;
    this.rng = deps.rng ?? cryptoRng;
    this.transport = deps.transport;
    this.nodeKey = deps.nodeKey;
    this.addrBook = deps.addrBook;
    this.bans = deps.bans;
    this.cryptoPool = deps.cryptoPool;
    this.opts = resolveSwitchOptions(options);
    this.unconditional = parseNodeIds('unconditionalPeerIds', options.unconditionalPeerIds);
    this.privateIds = parseNodeIds('privatePeerIds', options.privatePeerIds);
    if (options.persistentPeers) this.addPersistentPeers(options.persistentPeers);
    this.redialer = new PersistentRedialer(
      {
        clock: this.clock,
        rng: this.rng,
        logger: this.logger,
        dial: (addr) => this.dialAddress(addr, true),
        isRunning: () => this.state === 'running',
        track: (work) => this.track(work),
      },
      { maxDialPeriodMs: this.opts.persistentPeersMaxDialPeriodMs },
    );
    // Every dial and upgrade in flight listens on this signal; their number is bounded by the
    // inbound upgrade limit and the dials we make, not by Node's default of 10.
    setMaxListeners(0, this.stopController.signal);
  }

  // ---------------------------------------------------------------- setup

  /** Registers a reactor under a unique name; its channels must not be claimed by another reactor. Before start only. */
  addReactor(name: string, reactor: Reactor): void {
    if (this.state !== 'new') throw new ErrSwitchStarted('addReactor');
    if (this.reactors.some((r) => r.name === name)) throw new ErrDuplicateReactor(name);
    const descs = reactor.getChannels();
    const seen = new Set<number>();
    for (const d of descs) {
      if (!Number.isInteger(d.id) || d.id < 0 || d.id > 255) throw new ErrInvalidChannel(name, d.id);
      const owner = this.routes[d.id];
      if (owner) throw new ErrDuplicateChannel(d.id, name, owner.name);
      if (seen.has(d.id)) throw new ErrDuplicateChannel(d.id, name, name);
      seen.add(d.id);
    }
    const route: Route = { name, reactor };
    this.reactors.push(route);
    for (const d of descs) {
      this.routes[d.id] = route;
      this.channels.push(d);
    }
    reactor.setSwitch?.(this);
  }

  /** The reactor registered under `name`. */
  reactor(name: string): Reactor | undefined {
    return this.reactors.find((r) => r.name === name)?.reactor;
  }

  setAddrBook(book: AddrBookLike | undefined): void {
    this.addrBook = book;
  }

  /** Sets (or, with undefined, removes) the ban list asked before dials and after upgrades. */
  setBanList(bans: PeerBanList | undefined): void {
    this.bans = bans;
  }

  /** When the ban on `id` ends (Clock ms), or undefined when it may connect (no ban list = nobody banned). */
  bannedUntil(id: NodeId): number | undefined {
    return this.bans?.bannedUntil(id);
  }

  /** Adds `id@ip:port` entries to the persistent set (kept connected, redialed forever). Throws ErrSwitchConfig naming a bad entry. */
  addPersistentPeers(addrs: readonly string[]): void {
    const parsed: NetAddress[] = [];
    for (const text of addrs) {
      let addr: NetAddress;
      try {
        addr = NetAddress.parse(text);
      } catch (err) {
        throw Object.assign(new ErrSwitchConfig('persistentPeers', text, NET_ADDRESS_FORM), { cause: err });
      }
      if (!addr.id) throw new ErrSwitchConfig('persistentPeers', text, NET_ADDRESS_FORM);
      parsed.push(addr);
    }
    for (const a of parsed) this.persistent.set(a.id.toLowerCase(), a);
  }

  addUnconditionalPeerIds(ids: readonly string[]): void {
    for (const id of parseNodeIds('unconditionalPeerIds', ids)) this.unconditional.add(id);
  }

  addPrivatePeerIds(ids: readonly string[]): void {
    for (const id of parseNodeIds('privatePeerIds', ids)) this.privateIds.add(id);
  }

  // ---------------------------------------------------------------- lifecycle

  /** Starts the reactors, then listens. Throws if a reactor fails to start or the NodeInfo is invalid. */
  async start(): Promise<void> {
    if (this.state !== 'new') throw new ErrSwitchStarted('start');
    if (this.channels.length === 0) throw new ErrSwitchConfig('reactors', [], 'at least one reactor with at least one channel');
    this.state = 'starting';
    try {
      for (const { reactor } of this.reactors) await reactor.start?.();
      const bound = await this.transport.listen(this.onInbound);
      const ni = this.opts.nodeInfo;
      this.ourNodeInfo = buildNodeInfo({
        nodeId: this.nodeKey.id,
        listenAddr: ni.listenAddr ?? `tcp://${remoteText(bound)}`,
        network: ni.network,
        version: ni.version ?? '0.1.0',
        moniker: ni.moniker,
        channels: this.channels.map((c) => c.id),
        txIndex: ni.txIndex,
        rpcAddress: ni.rpcAddress,
        protocolVersion: ni.protocolVersion,
      });
      this.state = 'running';
    } catch (err) {
      this.state = 'stopped';
      for (const { reactor } of this.reactors) await this.safeReactorStop(reactor);
      await this.transport.close();
      throw err;
    }
  }

  /** Stops redials, dials and upgrades, every peer (reason SwitchStopping), the reactors and the transport. Idempotent. */
  async stop(): Promise<void> {
    if (this.state === 'new') {
      this.state = 'stopped';
      return;
    }
    if (this.state !== 'running') return;
    this.state = 'stopping';
    const reason = new SwitchStopping();
    this.stopController.abort(reason);
    this.redialer.stopAll(reason);
    for (const s of this.inflight) s.destroy();
    await Promise.all(this.peers.list().map((p) => this.stopAndRemovePeer(p, reason)));
    // Dials, accepts and removals that were under way unwind now that everything is aborted.
    while (this.tasks.size > 0) await Promise.allSettled([...this.tasks]);
    for (const { reactor } of this.reactors) await this.safeReactorStop(reactor);
    await this.transport.close();
    this.state = 'stopped';
  }

  get isRunning(): boolean {
    return this.state === 'running';
  }

  /** Our NodeInfo (valid after start). */
  nodeInfo(): NodeInfo {
    if (!this.ourNodeInfo) throw new ErrSwitchNotRunning('nodeInfo');
    return this.ourNodeInfo;
  }

  /** Our advertised address: id@ the NodeInfo listen address (after start). */
  netAddress(): NetAddress {
    const info = this.nodeInfo();
    try {
      return nodeInfoNetAddress(info);
    } catch {
      const bound = this.transport.listenAddress();
      if (!bound) throw new ErrSwitchNotRunning('netAddress');
      return new NetAddress(info.id, bound.ip, bound.port);
    }
  }

  // ---------------------------------------------------------------- queries

  numPeers(): { outbound: number; inbound: number; dialing: number } {
    let outbound = 0;
    let inbound = 0;
    for (const p of this.peers.list()) {
      if (this.unconditional.has(p.id)) continue;
      if (p.outbound) outbound++;
      else inbound++;
    }
    return { outbound, inbound, dialing: this.dialing.size };
  }

  maxInboundPeers(): number {
    return this.opts.maxInboundPeers;
  }

  maxOutboundPeers(): number {
    return this.opts.maxOutboundPeers;
  }

  /** Whether `addr`'s ID is one of the persistent peers (IDs are authenticated; the IP may differ). */
  isPeerPersistent(addr: { readonly id: string }): boolean {
    return addr.id !== '' && this.persistent.has(addr.id.toLowerCase());
  }

  isPeerUnconditional(id: NodeId): boolean {
    return this.unconditional.has(id);
  }

  isPeerPrivate(id: NodeId): boolean {
    return this.privateIds.has(id);
  }

  /** The persistent peers' addresses. */
  persistentPeers(): NetAddress[] {
    return [...this.persistent.values()];
  }

  /** True if `addr`'s ID is being dialed or connected, or (unless allowed) a peer has its IP. */
  isDialingOrExistingAddress(addr: NetAddress): boolean {
    return this.dialRefusal(addr) !== undefined;
  }

  /** Whether `addr` is one of our own addresses (our listen address, or learned from a self-dial). */
  isOurAddress(addr: NetAddress): boolean {
    if (this.ourNodeInfo && addr.id === this.nodeKey.id) return true;
    return this.ourAddresses.some((a) => a.same(addr));
  }

  // ---------------------------------------------------------------- dialing

  /**
   * Dials `addr` (which must carry an ID), upgrades and adds the peer. Rejects with
   * ErrAlreadyDialingOrConnected, a transport error, an ErrRejected subclass, or ErrReactorFailed.
   * A failed dial to a persistent peer starts its redial loop.
   */
  dialPeerWithAddress(addr: NetAddress): Promise<Peer> {
    return this.dialAddress(addr, false);
  }

  /**
   * Parses `list` (`id@host:port`; host names are looked up), then adds the addresses to the address
   * book (source: our address; private IDs and our own address skipped) and saves it, then dials
   * them in random order, each after a random 0–3 s delay. Resolves once the dials are scheduled.
   * An unparsable entry rejects with ErrSwitchConfig before anything is dialed; an unresolvable
   * host name is logged and skipped.
   */
  async dialPeersAsync(list: readonly string[]): Promise<void> {
    if (this.state !== 'running') throw new ErrSwitchNotRunning('dialPeersAsync');
    const addrs: NetAddress[] = [];
    for (const text of list) {
      let addr: NetAddress | undefined;
      try {
        addr = NetAddress.parse(text);
      } catch (err) {
        if (!(err instanceof ErrNetAddressLookupNeeded)) {
          throw Object.assign(new ErrSwitchConfig('peer address', text, NET_ADDRESS_FORM), { cause: err });
        }
        try {
          addr = await NetAddress.resolve(text);
        } catch (lookupErr) {
          this.logger.warn({ err: lookupErr, address: text }, 'cannot resolve peer address; skipped');
          continue;
        }
      }
      if (!addr.id) throw new ErrSwitchConfig('peer address', text, NET_ADDRESS_FORM);
      addrs.push(addr);
    }
    if (this.state !== 'running') return;
    const ours = this.netAddress();
    const book = this.addrBook;
    if (book) {
      for (const a of addrs) {
        if (a.same(ours) || this.privateIds.has(a.id)) continue;
        try {
          book.addAddress(a, ours);
        } catch (err) {
          this.logger.debug({ err, address: a.toString() }, 'address book refused address');
        }
      }
      try {
        await book.save();
      } catch (err) {
        this.logger.error({ err }, 'saving the address book failed');
      }
    }
    for (const a of this.rng.shuffle([...addrs])) {
      if (a.same(ours) || this.isOurAddress(a)) continue;
      const delayMs = this.rng.int(this.opts.dialJitterMaxMs);
      this.track(
        this.clock
          .sleep(delayMs, this.stopController.signal)
          .then(() => this.dialAddress(a, false))
          .catch((err: unknown) => this.logger.debug({ err, address: a.toString() }, 'dial failed')),
      );
    }
  }

  // ---------------------------------------------------------------- peers

  /** Stops `peer` (reason goes to every reactor's removePeer and 'peer:remove'); persistent peers are redialed. */
  stopPeerForError(peer: Peer, reason: unknown): void {
    if (this.stopping.has(peer)) return;
    this.logger.info({ peer: peer.id, err: reason }, 'stopping peer for error');
    const done = this.stopAndRemovePeer(peer, reason);
    if (!peer.persistent || this.state !== 'running') return;
    const addr = this.redialAddressFor(peer);
    if (!addr) {
      this.logger.warn({ peer: peer.id }, 'persistent peer has no usable address; not redialing');
      return;
    }
    const first = this.redialer.firstAttemptAfterDrop(peer.id, this.clock.now() - peer.connectedAtMs);
    void done.then(() => this.redialer.start(addr, first));
  }

  /** Sends what is queued to `peer`, closes it and removes it; no redial. */
  stopPeerGracefully(peer: Peer): Promise<void> {
    return this.stopAndRemovePeer(peer, new PeerStoppedGracefully(peer.id), true);
  }

  /** Tells the address book the peer behaved (promotes its address). Private peers are skipped. */
  markPeerAsGood(peer: Peer): void {
    if (!this.addrBook || this.privateIds.has(peer.id)) return;
    try {
      this.addrBook.markGood(peer.id);
    } catch (err) {
      this.logger.warn({ err, peer: peer.id }, 'address book markGood failed');
    }
  }

  /** Sends `message` on `channelId` to every peer (blocking send, bounded); resolves with each peer's result. */
  async broadcast(channelId: number, message: Uint8Array): Promise<Map<NodeId, boolean>> {
    const peers = this.peers.list();
    const results = await Promise.all(peers.map((p) => p.send(channelId, message)));
    const out = new Map<NodeId, boolean>();
    peers.forEach((p, i) => out.set(p.id, results[i]));
    return out;
  }

  // ---------------------------------------------------------------- internals: dial

  private dialRefusal(addr: NetAddress): 'dialing' | 'connected' | 'duplicate-ip' | undefined {
    if (this.dialing.has(addr.id)) return 'dialing';
    if (this.peers.has(addr.id) || this.reserved.has(addr.id)) return 'connected';
    if (!this.opts.allowDuplicateIp && this.peers.hasIP(addr.ip)) return 'duplicate-ip';
    return undefined;
  }

  private async dialAddress(addr: NetAddress, fromRedial: boolean): Promise<Peer> {
    if (this.state !== 'running') throw new ErrSwitchNotRunning('dialPeerWithAddress');
    if (!addr.id) throw new ErrSwitchConfig('address', addr.toString(), NET_ADDRESS_FORM);
    const refusal = this.dialRefusal(addr);
    if (refusal) throw new ErrAlreadyDialingOrConnected(addr.toString(), refusal);
    this.dialing.add(addr.id);
    let raw: RawConnection | undefined;
    try {
      // Inside the try: a refused persistent peer keeps its redial loop, and comes back once the ban is over.
      const bannedUntilMs = this.bannedUntil(addr.id.toLowerCase());
      if (bannedUntilMs !== undefined) throw new ErrRejectedBanned(addr.dialString(), addr.id, bannedUntilMs, 'outbound');
      raw = await this.transport.dial(
        { ip: addr.ip, port: addr.port },
        { timeoutMs: this.opts.dialTimeoutMs, signal: this.stopController.signal },
      );
      this.inflight.add(raw.stream);
      if (this.state !== 'running') throw new ErrSwitchNotRunning('dialPeerWithAddress');
      await this.filterConn(raw);
      const up = await this.upgrade(raw, addr.id);
      return await this.addPeer(up, raw, true, addr);
    } catch (err) {
      raw?.stream.destroy();
      if (err instanceof ErrRejectedSelf) {
        // Our own address: remember it, and keep it out of the book.
        if (!this.ourAddresses.some((a) => a.equals(addr))) {
          this.ourAddresses.push(addr);
          // Bounded: gossip could name many of our addresses; the oldest are forgotten first.
          if (this.ourAddresses.length > MAX_OUR_ADDRESSES) this.ourAddresses.shift();
        }
        try {
          this.addrBook?.removeAddress(addr);
          this.addrBook?.addOurAddress(addr);
        } catch (bookErr) {
          this.logger.warn({ err: bookErr }, 'address book update after self-dial failed');
        }
      } else if (!fromRedial && this.state === 'running' && this.isPeerPersistent(addr)) {
        this.redialer.start(addr, 1);
      }
      this.emit('dial:error', addr, err);
      throw err;
    } finally {
      this.dialing.delete(addr.id);
      if (raw) this.inflight.delete(raw.stream);
    }
  }

  // ---------------------------------------------------------------- internals: accept

  private readonly onInbound = (raw: RawConnection): void => {
    if (this.state !== 'running') {
      raw.stream.destroy();
      return;
    }
    const limit = this.opts.maxInboundPeers + this.unconditional.size;
    if (this.upgradingInbound >= limit) {
      raw.stream.destroy();
      this.emit('accept:error', raw.remote, new ErrRejectedUpgradeLimit(remoteText(raw.remote), limit));
      return;
    }
    this.upgradingInbound++;
    this.inflight.add(raw.stream);
    this.track(
      this.acceptInbound(raw).finally(() => {
        this.upgradingInbound--;
        this.inflight.delete(raw.stream);
      }),
    );
  };

  private async acceptInbound(raw: RawConnection): Promise<void> {
    try {
      await this.filterConn(raw);
      const up = await this.upgrade(raw);
      await this.addPeer(up, raw, false, new NetAddress(up.id, raw.remote.ip, raw.remote.port));
    } catch (err) {
      raw.stream.destroy();
      this.logger.debug({ err, remote: remoteText(raw.remote) }, 'inbound connection refused');
      this.emit('accept:error', raw.remote, err);
    }
  }

  /** Handshake on a raw connection, either direction; `dialedId` (outbound only) must match who answers. */
  private upgrade(raw: RawConnection, dialedId?: NodeId): Promise<UpgradedConnection> {
    return upgradeConnection(
      { clock: this.clock },
      {
        raw,
        identity: this.nodeKey,
        ourNodeInfo: this.nodeInfo(),
        dialedId,
        handshakeTimeoutMs: this.opts.handshakeTimeoutMs,
        signal: this.stopController.signal,
        ephemeralPrivateKey: this.opts.ephemeralKeyProvider?.(),
        cryptoPool: this.cryptoPool,
      },
    );
  }

  private filterConn(raw: RawConnection): Promise<void> {
    const filters = this.opts.connFilters;
    if (filters.length === 0) return RESOLVED;
    const remote = remoteText(raw.remote);
    return runFilters(
      this.clock,
      filters.map((f) => () => f(raw.remote)),
      this.opts.filterTimeoutMs,
      (cause) => new ErrRejectedFiltered(remote, 'address', cause),
      () => new ErrUpgradeTimeout(remote, 'address-filter', this.opts.filterTimeoutMs),
    );
  }

  // ---------------------------------------------------------------- internals: add

  /**
   * With a connection already up in the other direction (both sides dialed at once), both ends
   * keep the one dialed by the lower node ID, so they agree without talking.
   */
  private newConnectionWins(newIsOutbound: boolean, theirId: NodeId): boolean {
    const dialerOfNew = newIsOutbound ? this.nodeKey.id : theirId;
    const other = newIsOutbound ? theirId : this.nodeKey.id;
    return dialerOfNew < other;
  }

  private async addPeer(up: UpgradedConnection, raw: RawConnection, outbound: boolean, socketAddr: NetAddress): Promise<Peer> {
    const id = up.id;
    const remote = remoteText(raw.remote);
    // First: a banned peer must not even supersede a connection it already has.
    const bannedUntilMs = this.bannedUntil(id);
    if (bannedUntilMs !== undefined) throw new ErrRejectedBanned(remote, id, bannedUntilMs, outbound ? 'outbound' : 'inbound');
    const pending = this.reserved.get(id);
    if (pending) {
      // Another connection of this peer is being added. If ours is the one both ends keep, wait
      // for that add to finish and decide again against the settled state.
      if (pending.outbound !== outbound && this.newConnectionWins(outbound, id)) {
        await pending.released;
        return this.addPeer(up, raw, outbound, socketAddr);
      }
      throw new ErrRejectedDuplicate(remote, id);
    }
    const existing = this.peers.get(id);
    if (existing && (existing.outbound === outbound || !this.newConnectionWins(outbound, id))) {
      throw new ErrRejectedDuplicate(remote, id);
    }
    const counted = !this.unconditional.has(id);
    if (!outbound && counted) {
      const inbound = this.numPeers().inbound - (existing && !existing.outbound ? 1 : 0);
      if (inbound + this.reservedInbound >= this.opts.maxInboundPeers) {
        throw new ErrRejectedInboundLimit(remote, this.opts.maxInboundPeers, id);
      }
    }
    if (!this.opts.allowDuplicateIp) {
      for (const p of this.peers.list()) {
        if (p.id !== id && p.remoteIP() === socketAddr.ip) {
          throw new ErrRejectedFiltered(remote, 'address', new Error(`a peer from ${socketAddr.ip} is already connected`), id);
        }
      }
    }
    let release!: () => void;
    this.reserved.set(id, { outbound, released: new Promise<void>((r) => (release = r)) });
    if (!outbound && counted) this.reservedInbound++;
    let peer: Peer;
    try {
      if (existing) await this.stopAndRemovePeer(existing, new ErrRejectedDuplicate(remote, id));
      if (this.opts.peerFilters.length > 0) {
        await runFilters(
          this.clock,
          this.opts.peerFilters.map((f) => () => f({ id, nodeInfo: up.nodeInfo, remote: raw.remote, outbound })),
          this.opts.filterTimeoutMs,
          (cause) => new ErrRejectedFiltered(remote, 'id', cause, id),
          () => new ErrUpgradeTimeout(remote, 'id-filter', this.opts.filterTimeoutMs),
        );
      }
      if (this.state !== 'running') throw new ErrSwitchNotRunning('add peer');
      peer = new Peer(
        { clock: this.clock, logger: this.logger },
        {
          conn: up.conn,
          nodeInfo: up.nodeInfo,
          outbound,
          persistent: this.persistent.has(id),
          socketAddr,
          channels: this.channels,
          mconnOptions: this.opts.mconnection,
          onReceive: this.routeMessage,
          onError: this.onPeerError,
        },
      );
      for (const { name, reactor } of this.reactors) {
        if (!reactor.initPeer) continue;
        try {
          reactor.initPeer(peer);
        } catch (err) {
          const failure = new ErrReactorFailed(name, 'initPeer', id, err);
          this.logger.error({ err: failure }, 'reactor initPeer threw');
          // Undo what the reactors may have set up; the peer never joins the set.
          this.stopping.add(peer);
          peer.stop(failure);
          await this.callRemovePeer(peer, failure);
          throw failure;
        }
      }
      peer.start();
      this.peers.add(peer);
    } catch (err) {
      up.conn.destroy();
      throw err;
    } finally {
      this.reserved.delete(id);
      if (!outbound && counted) this.reservedInbound--;
      release();
    }
    for (const { name, reactor } of this.reactors) {
      try {
        reactor.addPeer(peer);
      } catch (err) {
        const failure = new ErrReactorFailed(name, 'addPeer', id, err);
        this.logger.error({ err: failure }, 'reactor addPeer threw; stopping the peer');
        this.stopPeerForError(peer, failure);
        throw failure;
      }
    }
    this.emit('peer:add', peer);
    return peer;
  }

  private readonly routeMessage = (peer: Peer, channelId: number, message: Uint8Array): void => {
    const route = this.routes[channelId];
    if (route === undefined) {
      this.stopPeerForError(peer, new ErrNoReactorForChannel(peer.id, channelId));
      return;
    }
    try {
      route.reactor.receive({ peer, channelId, message });
    } catch (err) {
      const failure = new ErrReactorFailed(route.name, 'receive', peer.id, err);
      this.logger.warn({ err: failure }, 'reactor receive threw; stopping the peer');
      this.stopPeerForError(peer, failure);
    }
  };

  private readonly onPeerError = (peer: Peer, err: Error): void => {
    this.stopPeerForError(peer, err);
  };

  // ---------------------------------------------------------------- internals: remove

  /** Close → removePeer on every reactor → leave the peer set → 'peer:remove'. Idempotent per peer. */
  private stopAndRemovePeer(peer: Peer, reason: unknown, graceful = false): Promise<void> {
    const pending = this.removals.get(peer);
    if (pending) return pending;
    if (this.stopping.has(peer)) return RESOLVED;
    this.stopping.add(peer);
    let work: Promise<void> | undefined;
    if (graceful) {
      work = peer
        .flushStop()
        .catch((err: unknown) => this.logger.warn({ err, peer: peer.id }, 'flushStop failed'))
        .then(() => {
          peer.stop();
          return this.callRemovePeer(peer, reason);
        })
        .then(() => this.leaveSet(peer, reason));
    } else {
      peer.stop(reason instanceof Error ? reason : undefined);
      const waiting = this.callRemovePeer(peer, reason);
      if (!waiting) {
        this.leaveSet(peer, reason);
        return RESOLVED;
      }
      work = waiting.then(() => this.leaveSet(peer, reason));
    }
    const tracked = work.finally(() => this.removals.delete(peer));
    this.removals.set(peer, tracked);
    this.track(tracked);
    return tracked;
  }

  private leaveSet(peer: Peer, reason: unknown): void {
    if (this.peers.remove(peer)) this.emit('peer:remove', peer, reason);
  }

  /** removePeer on every reactor; undefined when all returned synchronously, else a promise bounded by removePeerTimeoutMs. */
  private callRemovePeer(peer: Peer, reason: unknown): Promise<void> | undefined {
    let waits: Promise<unknown>[] | undefined;
    for (const { name, reactor } of this.reactors) {
      try {
        const r = reactor.removePeer(peer, reason);
        if (r && typeof (r as Promise<void>).then === 'function') {
          (waits ??= []).push(
            Promise.resolve(r).catch((err: unknown) => this.logger.error({ err, reactor: name, peer: peer.id }, 'reactor removePeer failed')),
          );
        }
      } catch (err) {
        this.logger.error({ err, reactor: name, peer: peer.id }, 'reactor removePeer threw');
      }
    }
    if (!waits) return undefined;
    const all = waits;
    return withDeadline(
      this.clock,
      this.opts.removePeerTimeoutMs,
      () => Promise.all(all).then(() => undefined),
      () => new Error(`removePeer did not finish within ${this.opts.removePeerTimeoutMs} ms`),
    ).catch((err: unknown) => this.logger.warn({ err, peer: peer.id }, 'giving up waiting for removePeer'));
  }

  // ---------------------------------------------------------------- internals: persistent redial

  /** Outbound: the address we dialed. Inbound: the configured persistent address (persistence is by ID). */
  private redialAddressFor(peer: Peer): NetAddress | undefined {
    return peer.outbound ? peer.socketAddr() : this.persistent.get(peer.id);
  }

  /** IDs of the persistent peers being redialed (for tests and /net_info). */
  redialing(): NodeId[] {
    return this.redialer.active();
  }

  /** Sizes of the Switch's internal tables, for leak checks in tests and for diagnostics. */
  diagnostics(): { peers: number; dialing: number; reserved: number; removals: number; inflight: number; tasks: number; redials: number; upgradingInbound: number } {
    return {
      peers: this.peers.size,
      dialing: this.dialing.size,
      reserved: this.reserved.size,
      removals: this.removals.size,
      inflight: this.inflight.size,
      tasks: this.tasks.size,
      redials: this.redialer.size,
      upgradingInbound: this.upgradingInbound,
    };
  }

  // ---------------------------------------------------------------- internals: misc

  private track<T>(p: Promise<T>): void {
    const guarded = p.then(
      () => undefined,
      () => undefined,
    );
    this.tasks.add(guarded);
    void guarded.then(() => this.tasks.delete(guarded));
  }

  private async safeReactorStop(reactor: Reactor): Promise<void> {
    try {
      await reactor.stop?.();
    } catch (err) {
      this.logger.error({ err }, 'reactor stop failed');
    }
  }
}
