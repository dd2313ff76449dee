/**
 * Seed-mode decisions as pure functions: which addresses to crawl this round, which peers to
 * drop, which crawl records to forget.
 */

export interface CrawlPlanInput<A> {
  /** Addresses offered this round (the book's selection), in the order to try them. */
  readonly candidates: readonly A[];
  readonly keyOf: (addr: A) => string;
  /** When the address was last crawled, or undefined if never (or forgotten). */
  readonly lastCrawledMs: (key: string) => number | undefined;
  readonly nowMs: number;
  readonly minTimeBetweenCrawlsMs: number;
  /** Crawl dials that may still start this round (the concurrency bound minus dials in flight). */
  readonly slots: number;
  /** Addresses to leave alone this round (ourselves, banned, backing off, being dialed). */
  readonly skip?: (addr: A) => boolean;
}

/** The addresses to crawl now: not crawled within the minimum interval, de-duplicated, at most `slots`. */
export function planCrawl<A>(input: CrawlPlanInput<A>): A[] {
  const out: A[] = [];
  if (input.slots <= 0) return out;
  const seen = new Set<string>();
  for (const addr of input.candidates) {
    if (out.length >= input.slots) break;
    const key = input.keyOf(addr);
    if (seen.has(key)) continue;
    seen.add(key);
    const last = input.lastCrawledMs(key);
    if (last !== undefined && input.nowMs - last < input.minTimeBetweenCrawlsMs) continue;
    if (input.skip?.(addr)) continue;
    out.push(addr);
  }
  return out;
}

export interface ConnectedPeerView<P> {
  readonly peer: P;
  readonly persistent: boolean;
  readonly connectedAtMs: number;
}

/** Non-persistent peers connected for at least `waitMs`: the seed lets them go. */
export function planSeedDisconnects<P>(peers: readonly ConnectedPeerView<P>[], nowMs: number, waitMs: number): P[] {
  return peers.filter((p) => !p.persistent && nowMs - p.connectedAtMs >= waitMs).map((p) => p.peer);
}

/** Keys of crawl records older than `ttlMs`. */
export function expiredCrawlRecords(records: ReadonlyMap<string, number>, nowMs: number, ttlMs: number): string[] {
  const out: string[] = [];
  for (const [key, at] of records) if (nowMs - at > ttlMs) out.push(key);
  return out;
}
