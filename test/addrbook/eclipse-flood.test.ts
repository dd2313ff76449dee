/**
 * ECLIPSE-FLOOD in CI (../shared/reference/eclipse-experiment.md): the K=0 and K=1000 attacks with
 * the full 10 000 restarts, and the identity flood. The long sweep over designs and larger attacks
 * is bench/eclipse-sweep.ts. Targets are checked on the one-sided 95 % upper confidence bound, not
 * just the point estimate, so a pass proves the target at that confidence.
 */
import { describe, expect, it } from 'vitest';
import { runEclipseFlood, upper95 } from '../../bench/eclipse-flood.js';
import { NetAddress } from '../../p2p/net-address.js';
import { makeBook, routableAddr } from './helpers.js';

const ATTACK = { attackerAddrs: 20_000, attackerGroups: 256, attackerSources: 64 };

describe('ECLIPSE-FLOOD', () => {
  it('K=0: P(eclipse) <= 0.001 (95 % bound), attacker share of new <= 0.70, no honest entry lost', () => {
    const r = runEclipseFlood({ ...ATTACK, promoted: 0, restarts: 10_000, seed: 1 });
    expect(r.restarts).toBe(10_000);
    expect(r.pEclipseUpper95).toBeLessThanOrEqual(0.001);
    expect(r.attackerShareNew).toBeLessThanOrEqual(0.7);
    expect(r.honestLostToFlood).toBe(0);
    expect(r.nOld).toBe(1500);
  });

  it('K=1000: P(eclipse) <= 0.02 (95 % bound)', () => {
    const r = runEclipseFlood({ ...ATTACK, promoted: 1_000, restarts: 10_000, seed: 2 });
    expect(r.promotedOld).toBe(1_000);
    expect(r.pEclipseUpper95).toBeLessThanOrEqual(0.02);
    expect(r.honestLostToFlood).toBe(0);
  });

  it('the harness does detect eclipses: a CometBFT-like book fails the K=0 target', () => {
    const r = runEclipseFlood({ ...ATTACK, promoted: 0, restarts: 4_000, seed: 3, book: { layout: { fullBucketPolicy: 'evict-oldest', pickWithin: 'bucket' } } });
    expect(r.attackerShareNew).toBeGreaterThan(0.9);
    expect(r.honestLostToFlood).toBeGreaterThan(10_000);
    expect(r.pEclipse).toBeGreaterThan(0.01);
  });

  it('upper95 bound: 0 of 10 000 proves <= 0.0003; 5 of 10 000 does not prove <= 0.0005', () => {
    expect(upper95(0, 10_000)).toBeLessThan(0.0003);
    expect(upper95(5, 10_000)).toBeGreaterThan(0.0005);
  });

  it('identity flood: 100 000 fresh IDs in one /16 take at most 64 entries per source group, incumbents stay', () => {
    const { book, clock } = makeBook({}, 11);
    const honest: NetAddress[] = [];
    for (let i = 0; i < 3000; i++) {
      const a = routableAddr(i, 'a');
      book.addAddress(a, new NetAddress((`b${i % 50}`).padStart(40, '0'), `${100 + (i % 50)}.7.1.1`, 26656));
      honest.push(a);
      clock.advance(100);
    }
    const honestStored = honest.filter((a) => book.hasAddress(a));
    const sourcesPerCase = [1, 100];
    for (const nSources of sourcesPerCase) {
      const perSource = new Map<number, number>();
      const flood: { a: NetAddress; s: number }[] = [];
      for (let i = 0; i < 100_000; i++) {
        const s = i % nSources;
        const a = new NetAddress(`${nSources === 1 ? 'c' : 'd'}${i.toString(16)}`.padStart(40, '0'), `150.${nSources === 1 ? 1 : 2}.${(i >> 8) & 0xff}.${i & 0xff}`, 26656);
        book.addAddress(a, new NetAddress(`e${s}`.padStart(40, '0'), `160.${s}.0.1`, 26656));
        flood.push({ a, s });
      }
      for (const { a, s } of flood) if (book.hasAddress(a)) perSource.set(s, (perSource.get(s) ?? 0) + 1);
      for (const stored of perSource.values()) expect(stored).toBeLessThanOrEqual(64);
      expect([...perSource.values()].reduce((x, y) => x + y, 0)).toBeLessThanOrEqual(64 * nSources);
      expect(honestStored.every((a) => book.hasAddress(a))).toBe(true);
    }
    book.checkInvariants();
  });
});
