/**
 * The PEX reactor: the thin stateful shell around the pure PEX decisions. It owns the timers
 * (ensurePeers, crawl), the per-peer request state, the dial backoff table and the in-flight PEX
 * dials; it asks the planners what to do and does it through the Switch and the address book.
 *
 * The reactor does not start or stop the address book: the node starts the book before the
 * Switch (so a loaded book is seen by the seed check) and stops it after.
 */
import type { Clock, TimerHandle } from '../p2p/clock.js';
import { silentLogger, type Logger } from '../p2p/logger.js';
import { NetAddress, stripScheme, type HostLookup } from '../p2p/net-address.js';
import type { Rng } from '../p2p/rng.js';
import { SeedCrawler } from './crawler.js';
import { DialBackoffTable, decideDial, recordDialFailure, type BackoffPolicy } from './dial-backoff.js';
import {
  chooseDialTargets,
  dialBudget,
  firstRoundDelayMs,
  newBiasFor,
  planRefill,
  type SkipReason,
} from './ensure-peers-planner.js';
import {
  ErrDialBudgetSpent,
  ErrDialMaxAttempts,
  ErrDialTooEarly,
  ErrPexOption,
  ErrPexRequestTooSoon,
  ErrPexUnsolicitedAddrs,
} from './errors.js';
import { decodePexMessage, encodePexAddrs, encodePexRequest, validatePexAddrs } from './pex-codec.js';
import type { PexAddrBook, PexObserver, PexPeer, PexSwitch } from './pex-deps.js';
import {
  CRAWL_PERIOD_MS,
  DEFAULT_BAN_TIME_MS,
  DEFAULT_CRAWL_ANSWER_TIMEOUT_MS,
  DEFAULT_ENSURE_PEERS_PERIOD_MS,
  DEFAULT_MAX_CONCURRENT_CRAWL_DIALS,
  DEFAULT_SEED_DISCONNECT_WAIT_MS,
  DIAL_BACKOFF_JITTER_MS,
  MAX_DIAL_ATTEMPTS,
  MAX_PEX_MESSAGE_BYTES,
  MIN_TIME_BETWEEN_CRAWLS_MS,
  PEX_CHANNEL_ID,
  PEX_CHANNEL_PRIORITY,
  PEX_SEND_QUEUE_CAPACITY,
  REQUEST_INTERVAL_DIVISOR,
  SEED_ANSWER_BIAS_NEW,
} from './params.js';
import { RequestTracker } from './request-tracker.js';
import { checkSeedsUsable, resolveSeeds, validateSeedList } from './seeds.js';

export interface PexReactorDeps {
  clock: Clock;
  rng: Rng;
  logger?: Logger;
  book: PexAddrBook;
  /** Metrics/benchmark hooks. */
  observer?: PexObserver;
  /** Host-name resolver for seeds (tests); default the system resolver. */
  lookup?: HostLookup;
}

export interface PexReactorOptions {
  /** Seed addresses, `id@host:port` (config `p2p.seeds`). Default none. */
  seeds?: readonly string[];
  /** Run as a seed (crawler) node (config `p2p.seed_mode`). Default false. */
  seedMode?: boolean;
  /** Period of ensurePeers. Default 30 000 ms. A peer's 3rd and later requests must be a third of this apart. */
  ensurePeersPeriodMs?: number;
  /** Cap on a persistent peer's dial backoff (config `persistent_peers_max_dial_period`); 0 = none. Default 0. */
  persistentPeersMaxDialPeriodMs?: number;
  /** Judge received addresses as the book does (config `addr_book_strict`). Default true. */
  routabilityStrict?: boolean;
  /** Ban length for abusive peers and exhausted addresses. Default 24 h. */
  banTimeMs?: number;
  /** Failed dials in a row before a non-persistent address is banned. Default 16. */
  maxDialAttempts?: number;
  /** Extra gap kept on our own 3rd and later requests to a peer. Default 0 ms. */
  requestSendMarginMs?: number;
  /** Seed mode: crawl period. Default 30 000 ms. */
  crawlPeriodMs?: number;
  /** Seed mode: an address is crawled again only after this long. Default 120 000 ms. */
  minTimeBetweenCrawlsMs?: number;
  /** Seed mode: non-persistent peers connected this long are dropped. Default 28 h. */
  seedDisconnectWaitPeriodMs?: number;
  /** Seed mode: crawl dials in flight at once. Default 16. */
  maxConcurrentCrawlDials?: number;
  /** Seed mode: a crawled peer that has not answered within this time is dropped. Default 30 000 ms. */
  crawlAnswerTimeoutMs?: number;
}

/** Options with defaults applied. */
export type ResolvedPexOptions = Required<PexReactorOptions>;

/** CometBFT's descriptor for channel 0x00. */
export const PEX_CHANNEL_DESCRIPTOR = Object.freeze({
  id: PEX_CHANNEL_ID,
  priority: PEX_CHANNEL_PRIORITY,
  sendQueueCapacity: PEX_SEND_QUEUE_CAPACITY,
  recvMessageCapacity: MAX_PEX_MESSAGE_BYTES,
});

function resolveOptions(o: PexReactorOptions): ResolvedPexOptions {
  const positive = (key: keyof PexReactorOptions, v: number | undefined, dflt: number, allowZero = false): number => {
    const value = v ?? dflt;
    if (!Number.isFinite(value) || value < 0 || (!allowZero && value === 0)) {
      throw new ErrPexOption(key, allowZero ? 'a finite number >= 0' : 'a finite number > 0', value);
    }
    return value;
  };
  const seeds = o.seeds ?? [];
  if (!Array.isArray(seeds) || seeds.some((s) => typeof s !== 'string')) throw new ErrPexOption('seeds', 'a list of id@host:port strings', seeds);
  validateSeedList(seeds);
  return {
    seeds: [...seeds],
    seedMode: o.seedMode ?? false,
    ensurePeersPeriodMs: positive('ensurePeersPeriodMs', o.ensurePeersPeriodMs, DEFAULT_ENSURE_PEERS_PERIOD_MS),
    persistentPeersMaxDialPeriodMs: positive('persistentPeersMaxDialPeriodMs', o.persistentPeersMaxDialPeriodMs, 0, true),
    routabilityStrict: o.routabilityStrict ?? true,
    banTimeMs: positive('banTimeMs', o.banTimeMs, DEFAULT_BAN_TIME_MS),
    maxDialAttempts: positive('maxDialAttempts', o.maxDialAttempts, MAX_DIAL_ATTEMPTS),
    requestSendMarginMs: positive('requestSendMarginMs', o.requestSendMarginMs, 0, true),
    crawlPeriodMs: positive('crawlPeriodMs', o.crawlPeriodMs, CRAWL_PERIOD_MS),
    minTimeBetweenCrawlsMs: positive('minTimeBetweenCrawlsMs', o.minTimeBetweenCrawlsMs, MIN_TIME_BETWEEN_CRAWLS_MS, true),
    seedDisconnectWaitPeriodMs: positive('seedDisconnectWaitPeriodMs', o.seedDisconnectWaitPeriodMs, DEFAULT_SEED_DISCONNECT_WAIT_MS),
    maxConcurrentCrawlDials: positive('maxConcurrentCrawlDials', o.maxConcurrentCrawlDials, DEFAULT_MAX_CONCURRENT_CRAWL_DIALS),
    crawlAnswerTimeoutMs: positive('crawlAnswerTimeoutMs', o.crawlAnswerTimeoutMs, DEFAULT_CRAWL_ANSWER_TIMEOUT_MS),
  };
}

/**
 * Counters for tests, metrics and the status RPC. Every dial PEX starts (ensurePeers, seeds,
 * crawl) ends as exactly one of: success, failure, refused as banned, or already connected (lost a
 * race with another connection of that peer); so once no dial is in flight,
 * dialsStarted = dialSuccesses + dialFailures + dialsRefusedBanned + dialsAlreadyConnected.
 */
export interface PexStats {
  ensureRounds: number;
  dialsStarted: number;
  /** The dial connected and the peer was added. */
  dialSuccesses: number;
  /** The dial or the upgrade failed (counted against the address, except for seeds). */
  dialFailures: number;
  /** The Switch refused to dial the ID: it is banned (ErrRejectedBanned). Not a failure. */
  dialsRefusedBanned: number;
  /** The peer was already connected or being dialed by the time the dial ran (or the Switch was not running). Not a failure. */
  dialsAlreadyConnected: number;
  requestsSent: number;
  /** Every PexRequest received, answered or not (ignored repeats in seed mode, punished floods). */
  requestsReceived: number;
  requestsAnswered: number;
  addrsReceived: number;
  bans: number;
  seedWakeUps: number;
}

/** Switch errors that mean "this peer is already connected or being dialed", not a failed dial. */
const ALREADY_CONNECTED_ERRORS = new Set([
  'ErrAlreadyDialingOrConnected',
  'ErrRejectedDuplicate',
  'ErrCurrentlyDialingOrExistingAddress',
  // The Switch is starting or stopping: says nothing about the address.
  'ErrSwitchNotRunning',
]);

function isAlreadyConnectedError(err: unknown): boolean {
  return err instanceof Error && ALREADY_CONNECTED_ERRORS.has(err.name);
}

/**
 * The Switch refused the peer because its ID is banned (its ban list, e.g. the book's running
 * bans): the address was not at fault for being unreachable, so no attempt or backoff is counted.
 */
function isBannedRefusal(err: unknown): boolean {
  return err instanceof Error && err.name === 'ErrRejectedBanned';
}

/**
 * The address a peer says it listens on (NodeInfo listen_addr, scheme dropped, with its ID), or
 * undefined when that does not parse (a host name, garbage).
 */
export function selfReportedAddr(peer: PexPeer): NetAddress | undefined {
  try {
    return NetAddress.parse(`${peer.nodeInfo.id}@${stripScheme(peer.nodeInfo.listenAddr)}`);
  } catch {
    return undefined;
  }
}

/**
 * The address the book knows a peer by: the dialed one for outbound peers, the self-reported one
 * for inbound peers (their socket address has an ephemeral port), falling back to the socket.
 */
function addressOf(peer: PexPeer): NetAddress {
  return peer.outbound ? peer.socketAddr() : (selfReportedAddr(peer) ?? peer.socketAddr());
}

/** How often start() checks whether the Switch has finished starting. */
const SWITCH_START_POLL_MS = 10;

/** Why a dial was made: drives the budget check and the observer. */
type DialReason = 'ensure' | 'seed' | 'crawl';

export class PexReactor<P extends PexPeer = PexPeer> {
  readonly options: ResolvedPexOptions;
  readonly stats: PexStats = {
    ensureRounds: 0,
    dialsStarted: 0,
    dialSuccesses: 0,
    dialFailures: 0,
    dialsRefusedBanned: 0,
    dialsAlreadyConnected: 0,
    requestsSent: 0,
    requestsReceived: 0,
    requestsAnswered: 0,
    addrsReceived: 0,
    bans: 0,
    seedWakeUps: 0,
  };

  private sw: PexSwitch<P> | undefined;
  private readonly clock: Clock;
  private readonly rng: Rng;
  private readonly logger: Logger;
  private readonly book: PexAddrBook;
  private readonly observer: PexObserver;
  private readonly lookup: HostLookup | undefined;
  private readonly tracker: RequestTracker;
  private readonly backoff = new DialBackoffTable();
  private readonly backoffPolicy: BackoffPolicy;
  /** PEX dials in flight, by dial string. */
  private readonly inFlight = new Map<string, NetAddress>();
  private seedAddrs: NetAddress[] = [];
  private seedIds = new Set<string>();
  private running = false;
  private firstRoundTimer: TimerHandle | undefined;
  private ensureTimer: TimerHandle | undefined;
  private dialingSeeds = false;
  private cachedOurId: string | undefined;
  private crawler: SeedCrawler<P> | undefined;

  constructor(deps: PexReactorDeps, options: PexReactorOptions = {}) {
    this.options = resolveOptions(options);
    this.clock = deps.clock;
    this.rng = deps.rng;
    this.logger = (deps.logger ?? silentLogger).child({ module: 'pex' });
    this.book = deps.book;
    this.observer = deps.observer ?? {};
    this.lookup = deps.lookup;
    this.tracker = new RequestTracker({
      minIntervalMs: this.options.ensurePeersPeriodMs / REQUEST_INTERVAL_DIVISOR,
      sendMarginMs: this.options.requestSendMarginMs,
    });
    this.backoffPolicy = {
      persistentPeersMaxDialPeriodMs: this.options.persistentPeersMaxDialPeriodMs,
      maxAttempts: this.options.maxDialAttempts,
    };
  }

  // ---------------------------------------------------------------- Reactor interface

  getChannels(): { id: number; priority: number; sendQueueCapacity: number; recvMessageCapacity: number }[] {
    return [{ ...PEX_CHANNEL_DESCRIPTOR }];
  }

  setSwitch(sw: PexSwitch<P>): void {
    this.sw = sw;
  }

  /**
   * Resolves the seeds (fatal for a malformed one; ErrPexNoReachableSeeds when none resolves and
   * the book is empty), then schedules the first ensurePeers round (normal mode) or the crawler
   * (seed mode).
   */
  async start(): Promise<void> {
    if (this.running) return;
    this.requireSwitch();
    const resolved = await resolveSeeds(this.options.seeds, this.lookup);
    for (const u of resolved.unresolved) this.logger.warn({ seed: u.seed, err: u.error.message }, 'seed did not resolve');
    checkSeedsUsable(this.options.seeds, resolved, this.book.empty());
    this.seedAddrs = resolved.addresses;
    this.seedIds = new Set(resolved.addresses.map((a) => a.id));
    this.running = true;
    if (this.options.seedMode && this.crawler === undefined) {
      this.crawler = new SeedCrawler<P>(
        { clock: this.clock, logger: this.logger, book: this.book, sw: this.requireSwitch(), reactor: this },
        this.options,
      );
    }
    // Deferred until the Switch runs: it starts its reactors before it listens, and the first
    // round must see the peer counts after the node queued its persistent dials.
    this.whenSwitchRunning(() => {
      if (this.crawler !== undefined) {
        this.crawler.start(this.seedAddrs.length > 0);
        return;
      }
      const delayMs = firstRoundDelayMs(this.counts(), this.options.ensurePeersPeriodMs, this.rng.float());
      const begin = (): void => {
        this.firstRoundTimer = undefined;
        if (!this.running) return;
        this.ensurePeers(true);
        this.ensureTimer = this.clock.setInterval(() => this.ensurePeers(true), this.options.ensurePeersPeriodMs);
      };
      if (delayMs === 0) begin();
      else this.firstRoundTimer = this.clock.setTimeout(begin, delayMs);
    });
  }

  /** Runs `fn` on a zero-delay timer once the Switch reports running (checked every 10 ms until then). */
  private whenSwitchRunning(fn: () => void): void {
    const attempt = (delayMs: number): void => {
      this.firstRoundTimer = this.clock.setTimeout(() => {
        this.firstRoundTimer = undefined;
        if (!this.running) return;
        if (this.requireSwitch().isRunning === false) attempt(SWITCH_START_POLL_MS);
        else fn();
      }, delayMs);
    };
    attempt(0);
  }

  /** Our node ID, once the Switch can tell it ('' before). */
  private ourId(): string {
    if (this.cachedOurId === undefined) {
      try {
        this.cachedOurId = this.requireSwitch().netAddress().id;
      } catch {
        return '';
      }
    }
    return this.cachedOurId;
  }

  stop(): void {
    this.running = false;
    this.clock.clearTimeout(this.firstRoundTimer);
    this.clock.clearInterval(this.ensureTimer);
    this.firstRoundTimer = undefined;
    this.ensureTimer = undefined;
    this.crawler?.stop();
  }

  addPeer(peer: P): void {
    if (peer.outbound) {
      // Connected: whatever dial path got us here, the address works.
      this.backoff.delete(peer.socketAddr().dialString());
      this.crawler?.peerAdded(peer);
      if (this.options.seedMode || this.book.needMoreAddrs()) this.requestAddrs(peer);
      return;
    }
    // An inbound peer tells us where it listens; it is its own source. A default node advertises
    // 0.0.0.0, which the book refuses: such peers are simply not learned.
    const addr = selfReportedAddr(peer);
    if (addr === undefined) return;
    try {
      this.book.addAddress(addr, addr);
    } catch (err) {
      this.logger.debug({ peer: peer.id, addr: addr.toString(), err: (err as Error).message }, 'inbound peer address not added');
    }
  }

  removePeer(peer: P, _reason: unknown): void {
    this.tracker.forget(peer.id);
    this.crawler?.peerRemoved(peer.id);
  }

  receive(envelope: { peer: P; channelId: number; message: Uint8Array }): void {
    const { peer, message } = envelope;
    let msg;
    try {
      msg = decodePexMessage(message, peer.id);
    } catch (err) {
      this.requireSwitch().stopPeerForError(peer, err);
      return;
    }
    if (msg.kind === 'request') this.onRequest(peer);
    else this.onAddrs(peer, msg.addrs);
  }

  // ---------------------------------------------------------------- public operations

  /** Asks `peer` for addresses unless a request is outstanding or the peer's interval forbids it. */
  requestAddrs(peer: P): boolean {
    if (!this.tracker.markRequested(peer.id, this.clock.now())) return false;
    this.stats.requestsSent++;
    this.observer.requestSent?.(peer.id);
    peer.send(PEX_CHANNEL_ID, encodePexRequest()).then(
      (ok) => {
        // Never queued: nothing will answer it, so it must not stay outstanding.
        if (!ok) this.tracker.onAddrsReceived(peer.id);
      },
      (err: unknown) => {
        this.tracker.onAddrsReceived(peer.id);
        this.logger.debug({ peer: peer.id, err: (err as Error)?.message }, 'PEX request not sent');
      },
    );
    return true;
  }

  /**
   * One ensurePeers round. `periodElapsed` is true on the timer and false on a seed wake-up; only
   * the former may send a PexRequest. Synchronous: every dial it decides on has started when it
   * returns.
   */
  ensurePeers(periodElapsed: boolean): void {
    if (!this.running || this.options.seedMode) return;
    const sw = this.requireSwitch();
    if (sw.isRunning === false) return;
    this.stats.ensureRounds++;
    const counts = this.counts();
    const numToDial = dialBudget(sw.maxOutboundPeers(), counts);
    if (numToDial <= 0) {
      this.observer.ensurePeersRan?.({ periodElapsed, numToDial: 0, chosen: 0 });
      return;
    }
    const bias = newBiasFor(counts.outbound);
    const nowMs = this.clock.now();
    const { chosen } = chooseDialTargets({
      numToDial,
      pick: () => this.book.pickAddress(bias),
      keyOf: (a) => a.dialString(),
      skipReason: (a) => this.skipReason(a, nowMs),
    });
    for (const addr of chosen) this.dialInBackground(addr, 'ensure');

    if (this.book.needMoreAddrs()) this.book.reinstateBadPeers();
    const plan = planRefill({
      needMoreAddrs: this.book.needMoreAddrs(),
      periodElapsed,
      chosenCount: chosen.length,
      requestablePeers: sw.peers.list().filter((p) => this.tracker.mayRequest(p.id, nowMs)),
      seedsConfigured: this.seedAddrs.length > 0,
      randomIndex: (n) => this.rng.int(n),
    });
    if (plan.requestFrom !== undefined) this.requestAddrs(plan.requestFrom);
    if (plan.dialSeeds) void this.dialSeeds();
    this.observer.ensurePeersRan?.({ periodElapsed, numToDial, chosen: chosen.length });
  }

  /**
   * Dials `addr` with the backoff rules. Resolves with the peer, or undefined when the address was
   * already connected or being dialed; rejects with ErrDialTooEarly, ErrDialMaxAttempts,
   * ErrDialBudgetSpent or the Switch's dial error.
   */
  async dialPeer(addr: NetAddress, reason: DialReason = 'ensure'): Promise<P | undefined> {
    const sw = this.requireSwitch();
    const key = addr.dialString();
    const nowMs = this.clock.now();
    const decision = decideDial(this.backoff.get(key), nowMs);
    if (decision.kind === 'too-early') throw new ErrDialTooEarly(addr.toString(), decision.attempts, decision.retryAtMs);
    if (this.inFlight.has(key) || sw.isDialingOrExistingAddress(addr)) return undefined;
    // The last guard of the outbound limit: holds even if a caller raced past its own count.
    if (reason !== 'crawl' && dialBudget(sw.maxOutboundPeers(), this.counts()) <= 0) {
      throw new ErrDialBudgetSpent(addr.toString(), sw.maxOutboundPeers());
    }
    const persistent = sw.isPeerPersistent(addr);
    this.inFlight.set(key, addr);
    this.stats.dialsStarted++;
    this.observer.dialStarted?.(addr, reason);
    try {
      const peer = await sw.dialPeerWithAddress(addr);
      this.stats.dialSuccesses++;
      this.backoff.delete(key);
      return peer;
    } catch (err) {
      // Lost a race with another dial or an inbound connection of the same peer: not a failure.
      if (isAlreadyConnectedError(err)) {
        this.stats.dialsAlreadyConnected++;
        return undefined;
      }
      if (isBannedRefusal(err)) {
        this.stats.dialsRefusedBanned++;
        throw err;
      }
      this.stats.dialFailures++;
      this.book.markAttempt(addr);
      const jitterMs = this.rng.float() * DIAL_BACKOFF_JITTER_MS;
      const outcome = recordDialFailure(this.backoff.get(key), this.clock.now(), jitterMs, persistent, this.backoffPolicy);
      if (outcome.kind === 'ban') {
        this.backoff.delete(key);
        const banErr = new ErrDialMaxAttempts(addr.toString(), outcome.attempts);
        this.ban(addr, banErr);
        throw banErr;
      }
      this.backoff.set(key, outcome.record);
      throw err;
    } finally {
      this.inFlight.delete(key);
    }
  }

  /** The backoff record of an address (tests, status). */
  dialRecord(addr: NetAddress): { attempts: number; retryAtMs: number } | undefined {
    const r = this.backoff.get(addr.dialString());
    return r === undefined ? undefined : { attempts: r.attempts, retryAtMs: r.retryAtMs };
  }

  /** Resolved seed addresses (after start). */
  seeds(): readonly NetAddress[] {
    return this.seedAddrs;
  }

  /** Number of peers with request-tracking state (tests: must follow the peer set). */
  trackedPeers(): number {
    return this.tracker.trackedPeers;
  }

  /** Whether `peer` is one of the configured seeds (matched by authenticated ID). */
  isSeed(peerId: string): boolean {
    return this.seedIds.has(peerId);
  }

  // ---------------------------------------------------------------- message handling

  private onRequest(peer: P): void {
    const sw = this.requireSwitch();
    this.stats.requestsReceived++;
    if (this.options.seedMode && !peer.outbound) {
      // A seed answers an inbound asker once, then lets it go once the answer is on the wire.
      if (!this.tracker.markSeedAnswered(peer.id)) return;
      this.stats.requestsAnswered++;
      const { bytes } = encodePexAddrs(this.book.getSelectionWithBias(SEED_ANSWER_BIAS_NEW));
      void (async () => {
        try {
          await peer.send(PEX_CHANNEL_ID, bytes);
          await peer.flushStop();
        } catch (err) {
          this.logger.debug({ peer: peer.id, err: (err as Error)?.message }, 'seed answer not delivered');
        }
        try {
          await sw.stopPeerGracefully(peer);
        } catch (err) {
          this.logger.debug({ peer: peer.id, err: (err as Error)?.message }, 'stopping peer after seed answer failed');
        }
      })();
      return;
    }
    const nowMs = this.clock.now();
    const verdict = this.tracker.onRequestReceived(peer.id, nowMs);
    if (verdict.kind === 'too-soon') {
      this.punish(peer, new ErrPexRequestTooSoon(peer.id, verdict.sinceLastMs, this.options.ensurePeersPeriodMs / REQUEST_INTERVAL_DIVISOR));
      return;
    }
    this.stats.requestsAnswered++;
    const { bytes } = encodePexAddrs(this.book.getSelection());
    peer.send(PEX_CHANNEL_ID, bytes).catch((err: unknown) => {
      this.logger.debug({ peer: peer.id, err: (err as Error)?.message }, 'PEX answer not sent');
    });
  }

  private onAddrs(peer: P, wire: { id: string; ip: string; port: number }[]): void {
    let validated;
    try {
      validated = validatePexAddrs(wire, { strict: this.options.routabilityStrict });
    } catch (err) {
      this.punish(peer, err as Error);
      return;
    }
    if (!this.tracker.onAddrsReceived(peer.id, this.clock.now())) {
      this.punish(peer, new ErrPexUnsolicitedAddrs(peer.id));
      return;
    }
    this.stats.addrsReceived += validated.accepted.length;
    const src = addressOf(peer);
    for (const addr of validated.accepted) {
      try {
        this.book.addAddress(addr, src);
      } catch (err) {
        this.logger.debug({ peer: peer.id, addr: addr.toString(), err: (err as Error).message }, 'address not added');
      }
    }
    if (this.crawler !== undefined) {
      this.crawler.answered(peer);
      return;
    }
    if (this.isSeed(peer.id)) {
      // Fast-dial: what a seed tells us is dialed now, not on the next tick. The round is
      // synchronous, so no wake-up can be lost, and it sends no request (periodElapsed = false).
      this.stats.seedWakeUps++;
      this.ensurePeers(false);
    }
  }

  /**
   * Bans the peer's address and disconnects it with `reason`. A persistent peer is disconnected
   * but never banned: the operator asked for it to be kept connected, and a ban would make the
   * Switch refuse it (and its redials) for the whole ban time.
   */
  private punish(peer: P, reason: Error): void {
    const sw = this.requireSwitch();
    const addr = addressOf(peer);
    if (peer.persistent || sw.isPeerPersistent(addr)) {
      this.logger.info({ peer: peer.id, reason: reason.message }, 'persistent peer misbehaved: disconnected, not banned');
    } else {
      this.ban(addr, reason);
    }
    sw.stopPeerForError(peer, reason);
  }

  private ban(addr: NetAddress, reason: Error): void {
    this.stats.bans++;
    this.logger.info({ addr: addr.toString(), reason: reason.message }, 'banning address');
    try {
      this.book.markBad(addr, this.options.banTimeMs);
    } catch (err) {
      this.logger.warn({ addr: addr.toString(), err: (err as Error).message }, 'address book refused the ban');
    }
    this.observer.banned?.(addr, reason);
  }

  // ---------------------------------------------------------------- dialing helpers

  private dialInBackground(addr: NetAddress, reason: DialReason): void {
    this.dialPeer(addr, reason).catch((err: unknown) => {
      this.logger.debug({ addr: addr.toString(), err: (err as Error)?.message }, 'PEX dial failed');
    });
  }

  /** Dials the seeds in random order until one connects (or is already connected or being dialed). */
  async dialSeeds(): Promise<boolean> {
    if (this.dialingSeeds || this.seedAddrs.length === 0) return false;
    const sw = this.requireSwitch();
    this.dialingSeeds = true;
    try {
      for (const seed of this.rng.shuffle([...this.seedAddrs])) {
        if (!this.running) return false;
        if (sw.isDialingOrExistingAddress(seed)) return true;
        this.stats.dialsStarted++;
        this.observer.dialStarted?.(seed, 'seed');
        try {
          await sw.dialPeerWithAddress(seed);
          this.stats.dialSuccesses++;
          return true;
        } catch (err) {
          if (isAlreadyConnectedError(err)) {
            this.stats.dialsAlreadyConnected++;
            return true;
          }
          if (isBannedRefusal(err)) this.stats.dialsRefusedBanned++;
          else this.stats.dialFailures++;
          this.logger.info({ seed: seed.toString(), err: (err as Error)?.message }, 'seed dial failed');
        }
      }
      return false;
    } finally {
      this.dialingSeeds = false;
    }
  }

  private skipReason(addr: NetAddress, nowMs: number): Exclude<SkipReason, 'duplicate'> | undefined {
    const sw = this.requireSwitch();
    if (addr.id === this.ourId() || this.book.ourAddress(addr)) return 'self';
    if (this.inFlight.has(addr.dialString()) || sw.isDialingOrExistingAddress(addr)) return 'connected-or-dialing';
    if (this.book.isBanned(addr)) return 'banned';
    // The Switch owns persistent peers: it dials them at start and redials them forever, so a PEX
    // dial could only ever be a second, concurrent dial of the same peer.
    if (sw.isPeerPersistent(addr)) return 'persistent';
    if (this.backoff.isBackingOff(addr.dialString(), nowMs)) return 'backing-off';
    return undefined;
  }

  /**
   * Peer counts with PEX's own in-flight dials folded in: if the Switch counts a dial only after
   * some asynchronous step, the larger of the two still keeps outbound + dialing within the limit.
   */
  private counts(): { outbound: number; inbound: number; dialing: number } {
    const c = this.requireSwitch().numPeers();
    return { outbound: c.outbound, inbound: c.inbound, dialing: Math.max(c.dialing, this.inFlight.size) };
  }

  private requireSwitch(): PexSwitch<P> {
    if (this.sw === undefined) throw new Error('PexReactor used before Switch.addReactor set its switch');
    return this.sw;
  }
}
