import { describe, expect, it } from 'vitest';
import { expiredCrawlRecords, planCrawl, planSeedDisconnects } from '../../pex/crawl-planner.js';

describe('planCrawl', () => {
  const last = new Map<string, number>([
    ['recent', 100_000],
    ['old', 0],
  ]);
  const base = {
    keyOf: (x: string) => x,
    lastCrawledMs: (k: string) => last.get(k),
    nowMs: 120_000 + 50_000,
    minTimeBetweenCrawlsMs: 120_000,
    slots: 10,
  };

  it('skips addresses crawled less than 2 minutes ago, and duplicates', () => {
    expect(planCrawl({ ...base, candidates: ['recent', 'old', 'new', 'new'] })).toEqual(['old', 'new']);
  });

  it('exactly at 2 minutes the address is due again', () => {
    expect(planCrawl({ ...base, nowMs: 220_000, candidates: ['recent'] })).toEqual(['recent']);
    expect(planCrawl({ ...base, nowMs: 219_999, candidates: ['recent'] })).toEqual([]);
  });

  it('never more than the free slots; skip() leaves addresses out', () => {
    expect(planCrawl({ ...base, slots: 2, candidates: ['a', 'b', 'c'] })).toEqual(['a', 'b']);
    expect(planCrawl({ ...base, slots: 0, candidates: ['a'] })).toEqual([]);
    expect(planCrawl({ ...base, candidates: ['a', 'b', 'c'], skip: (x) => x === 'b' })).toEqual(['a', 'c']);
  });
});

describe('planSeedDisconnects', () => {
  it('drops non-persistent peers connected for the wait period or longer', () => {
    const H = 3_600_000;
    const peers = [
      { peer: 'young', persistent: false, connectedAtMs: 10 * H },
      { peer: 'old', persistent: false, connectedAtMs: 0 },
      { peer: 'oldPersistent', persistent: true, connectedAtMs: 0 },
      { peer: 'exact', persistent: false, connectedAtMs: 1 * H },
    ];
    expect(planSeedDisconnects(peers, 29 * H, 28 * H)).toEqual(['old', 'exact']);
  });
});

describe('expiredCrawlRecords', () => {
  it('lists records older than the TTL', () => {
    const m = new Map([
      ['a', 0],
      ['b', 50],
    ]);
    expect(expiredCrawlRecords(m, 150, 100)).toEqual(['a']);
  });
});
