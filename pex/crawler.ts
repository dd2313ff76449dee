/**
 * Seed mode: the crawler. Every crawl period it drops peers it has kept too long, then takes the
 * book's selection, dials addresses not crawled for a while (a bounded number at once), asks each
 * new connection for addresses and hangs up once it has answered (or has not answered in time).
 * Decisions come from crawl-planner.ts; this class owns the timers and the bookkeeping.
 */
import type { Clock, TimerHandle } from '../p2p/clock.js';
import type { Logger } from '../p2p/logger.js';
import type { NetAddress } from '../p2p/net-address.js';
import { expiredCrawlRecords, planCrawl, planSeedDisconnects } from './crawl-planner.js';
import type { PexAddrBook, PexPeer, PexSwitch } from './pex-deps.js';
import { CRAWL_RECORD_TTL_MS } from './params.js';

/** What the crawler needs from the reactor (dialing with backoff, asking, seeds). */
export interface CrawlHost<P extends PexPeer> {
  dialPeer(addr: NetAddress, reason: 'crawl'): Promise<P | undefined>;
  requestAddrs(peer: P): boolean;
  dialSeeds(): Promise<boolean>;
}

export interface SeedCrawlerOptions {
  crawlPeriodMs: number;
  minTimeBetweenCrawlsMs: number;
  seedDisconnectWaitPeriodMs: number;
  maxConcurrentCrawlDials: number;
  crawlAnswerTimeoutMs: number;
}

/** Crawl records kept at most (oldest dropped first); a forgotten record only means an earlier re-crawl. */
const MAX_CRAWL_RECORDS = 50_000;

export class SeedCrawler<P extends PexPeer> {
  private readonly lastCrawled = new Map<string, number>();
  private readonly awaitingAnswer = new Map<string, TimerHandle>();
  private dialsInFlight = 0;
  private timer: TimerHandle | undefined;
  private running = false;
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly book: PexAddrBook;
  private readonly sw: PexSwitch<P>;
  private readonly host: CrawlHost<P>;

  constructor(
    deps: { clock: Clock; logger: Logger; book: PexAddrBook; sw: PexSwitch<P>; reactor: CrawlHost<P> },
    private readonly options: SeedCrawlerOptions,
  ) {
    this.clock = deps.clock;
    this.logger = deps.logger;
    this.book = deps.book;
    this.sw = deps.sw;
    this.host = deps.reactor;
  }

  /** First contact (the seeds if any, else one crawl of the book), then a round every period. */
  start(hasSeeds: boolean): void {
    if (this.running) return;
    this.running = true;
    if (hasSeeds) void this.host.dialSeeds();
    else this.crawl();
    this.timer = this.clock.setInterval(() => this.round(), this.options.crawlPeriodMs);
  }

  stop(): void {
    this.running = false;
    this.clock.clearInterval(this.timer);
    this.timer = undefined;
    for (const t of this.awaitingAnswer.values()) this.clock.clearTimeout(t);
    this.awaitingAnswer.clear();
  }

  /** One crawl period: drop old peers, crawl, forget stale records. */
  round(): void {
    if (!this.running) return;
    this.attemptDisconnects();
    this.crawl();
    for (const key of expiredCrawlRecords(this.lastCrawled, this.clock.now(), CRAWL_RECORD_TTL_MS)) this.lastCrawled.delete(key);
  }

  /** Crawl dials in flight plus crawled connections awaiting their answer (never above the bound). */
  inFlight(): number {
    return this.dialsInFlight + this.awaitingAnswer.size;
  }

  /** An outbound peer came up: it will be asked (by the reactor) and must answer in time. */
  peerAdded(peer: P): void {
    if (!peer.outbound || peer.persistent || this.awaitingAnswer.has(peer.id)) return;
    const timer = this.clock.setTimeout(() => {
      this.awaitingAnswer.delete(peer.id);
      this.logger.debug({ peer: peer.id }, 'crawled peer did not answer in time; disconnecting');
      void this.release(peer);
    }, this.options.crawlAnswerTimeoutMs);
    this.awaitingAnswer.set(peer.id, timer);
  }

  /** A peer's PexAddrs was accepted: a crawled (outbound, non-persistent) peer has done its job. */
  answered(peer: P): void {
    const timer = this.awaitingAnswer.get(peer.id);
    this.clock.clearTimeout(timer);
    this.awaitingAnswer.delete(peer.id);
    if (peer.outbound && !peer.persistent) void this.release(peer);
  }

  peerRemoved(peerId: string): void {
    this.clock.clearTimeout(this.awaitingAnswer.get(peerId));
    this.awaitingAnswer.delete(peerId);
  }

  private crawl(): void {
    if (!this.running) return;
    const nowMs = this.clock.now();
    const ourId = this.sw.netAddress().id;
    const plan = planCrawl({
      candidates: this.book.getSelection(),
      keyOf: (a) => a.dialString(),
      lastCrawledMs: (k) => this.lastCrawled.get(k),
      nowMs,
      minTimeBetweenCrawlsMs: this.options.minTimeBetweenCrawlsMs,
      // Connections still waiting for their answer hold a socket too: they use up slots.
      slots: this.options.maxConcurrentCrawlDials - this.dialsInFlight - this.awaitingAnswer.size,
      skip: (a) => a.id === ourId || this.book.ourAddress(a) || this.book.isBanned(a),
    });
    for (const addr of plan) {
      this.record(addr.dialString(), nowMs);
      if (this.sw.isDialingOrExistingAddress(addr)) {
        // Already connected (the spec asks these too): ask it if it is ours to ask.
        const peer = this.sw.peers.list().find((p) => p.id === addr.id);
        if (peer !== undefined && peer.outbound) this.host.requestAddrs(peer);
        continue;
      }
      this.dialsInFlight++;
      this.host
        .dialPeer(addr, 'crawl')
        .then((peer) => {
          if (peer !== undefined) this.host.requestAddrs(peer);
        })
        .catch((err: unknown) => this.logger.debug({ addr: addr.toString(), err: (err as Error)?.message }, 'crawl dial failed'))
        .finally(() => {
          this.dialsInFlight--;
        });
    }
  }

  private attemptDisconnects(): void {
    const peers = this.sw.peers.list().map((peer) => ({ peer, persistent: peer.persistent, connectedAtMs: peer.connectedAtMs }));
    for (const peer of planSeedDisconnects(peers, this.clock.now(), this.options.seedDisconnectWaitPeriodMs)) void this.release(peer);
  }

  private async release(peer: P): Promise<void> {
    try {
      await this.sw.stopPeerGracefully(peer);
    } catch (err) {
      this.logger.debug({ peer: peer.id, err: (err as Error)?.message }, 'graceful stop failed');
    }
  }

  private record(key: string, nowMs: number): void {
    this.lastCrawled.delete(key);
    this.lastCrawled.set(key, nowMs);
    while (this.lastCrawled.size > MAX_CRAWL_RECORDS) this.lastCrawled.delete(this.lastCrawled.keys().next().value as string);
  }
}
