import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  chooseDialTargets,
  dialBudget,
  firstRoundDelayMs,
  newBiasFor,
  planRefill,
} from '../../pex/ensure-peers-planner.js';

describe('dial budget and bias', () => {
  it('numToDial = max − (outbound + dialing), never negative; inbound does not count', () => {
    expect(dialBudget(10, { outbound: 0, inbound: 0, dialing: 0 })).toBe(10);
    expect(dialBudget(10, { outbound: 3, inbound: 40, dialing: 2 })).toBe(5);
    expect(dialBudget(10, { outbound: 10, inbound: 0, dialing: 0 })).toBe(0);
    expect(dialBudget(10, { outbound: 9, inbound: 0, dialing: 5 })).toBe(0);
  });

  it('bias = min(outbound, 8) × 10 + 10', () => {
    expect([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 50].map(newBiasFor)).toEqual([10, 20, 30, 40, 50, 60, 70, 80, 90, 90, 90]);
  });

  it('first round: at once with nothing going on, else uniform in [0, period)', () => {
    expect(firstRoundDelayMs({ outbound: 0, inbound: 0, dialing: 0 }, 30_000, 0.99)).toBe(0);
    expect(firstRoundDelayMs({ outbound: 0, inbound: 1, dialing: 0 }, 30_000, 0.5)).toBe(15_000);
    expect(firstRoundDelayMs({ outbound: 0, inbound: 0, dialing: 1 }, 30_000, 0.999999)).toBe(29_999);
    expect(firstRoundDelayMs({ outbound: 1, inbound: 0, dialing: 0 }, 30_000, 0)).toBe(0);
  });
});

describe('chooseDialTargets', () => {
  const from = (list: (string | undefined)[]): (() => string | undefined) => {
    let i = 0;
    return () => list[i++ % list.length];
  };

  it('picks at most 3 × numToDial times and skips what must not be dialed, counting why', () => {
    const skip: Record<string, 'self' | 'banned' | 'backing-off' | 'connected-or-dialing'> = {
      me: 'self',
      bad: 'banned',
      slow: 'backing-off',
      conn: 'connected-or-dialing',
    };
    let picks = 0;
    const pick = from(['me', 'a', 'bad', 'a', undefined, 'slow', 'conn', 'b', 'c', 'd']);
    const r = chooseDialTargets({
      numToDial: 3,
      pick: () => {
        picks++;
        return pick();
      },
      keyOf: (x) => x,
      skipReason: (x) => skip[x],
    });
    expect(r.chosen).toEqual(['a', 'b', 'c']);
    expect(r.picks).toBe(9);
    expect(picks).toBe(9);
    expect(r.empty).toBe(1);
    expect(r.skipped).toEqual({ self: 1, banned: 1, duplicate: 1, 'backing-off': 1, 'connected-or-dialing': 1 });
  });

  it('stops after numToDial × 3 picks even when nothing is usable', () => {
    let picks = 0;
    const r = chooseDialTargets({ numToDial: 4, pick: () => (picks++, 'x'), keyOf: (x) => x, skipReason: () => 'banned' });
    expect(r.chosen).toEqual([]);
    expect(picks).toBe(12);
  });

  it('does not pick at all with no budget', () => {
    const r = chooseDialTargets({ numToDial: 0, pick: () => { throw new Error('picked'); }, keyOf: (x: string) => x, skipReason: () => undefined });
    expect(r.chosen).toEqual([]);
  });

  it('property: never more than numToDial, all distinct, none skipped', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 20 }), fc.array(fc.option(fc.integer({ min: 0, max: 30 }), { nil: undefined }), { minLength: 1 }), fc.integer({ min: 0, max: 30 }), (n, seq, bannedBelow) => {
        let i = 0;
        const r = chooseDialTargets({
          numToDial: n,
          pick: () => seq[i++ % seq.length],
          keyOf: String,
          skipReason: (x) => (x < bannedBelow ? 'banned' : undefined),
        });
        expect(r.chosen.length).toBeLessThanOrEqual(n);
        expect(new Set(r.chosen).size).toBe(r.chosen.length);
        for (const x of r.chosen) expect(x).toBeGreaterThanOrEqual(bannedBelow);
        expect(r.picks).toBeLessThanOrEqual(n * 3);
      }),
    );
  });
});

describe('planRefill', () => {
  const base = { needMoreAddrs: true, periodElapsed: true, chosenCount: 2, requestablePeers: ['p1', 'p2', 'p3'], seedsConfigured: true, randomIndex: () => 1 };

  it('asks one random requestable peer on a tick when the book needs addresses', () => {
    expect(planRefill(base)).toEqual({ requestFrom: 'p2', dialSeeds: false });
  });

  it('a seed wake-up (not a tick) never sends a request', () => {
    expect(planRefill({ ...base, periodElapsed: false }).requestFrom).toBeUndefined();
  });

  it('dials seeds only when nothing was chosen, seeds exist and the book needs addresses', () => {
    expect(planRefill({ ...base, chosenCount: 0 }).dialSeeds).toBe(true);
    expect(planRefill({ ...base, chosenCount: 0, seedsConfigured: false }).dialSeeds).toBe(false);
    expect(planRefill({ ...base, chosenCount: 0, needMoreAddrs: false })).toEqual({ requestFrom: undefined, dialSeeds: false });
  });

  it('no requestable peer: no request', () => {
    expect(planRefill({ ...base, requestablePeers: [] }).requestFrom).toBeUndefined();
  });
});
