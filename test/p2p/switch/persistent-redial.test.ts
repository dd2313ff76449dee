import { describe, expect, it } from 'vitest';
import { DEFAULT_REDIAL_CAP_MS, planRedial } from '../../../p2p/persistent-redial.js';

/** Seconds from the first dial to dial number n, with a fixed jitter per wait. */
function dialTimesSeconds(n: number, jitterMs: number, maxDialPeriodMs?: number): number[] {
  const out: number[] = [];
  let t = 0;
  for (let a = 0; a < n; a++) {
    t += planRedial(a, jitterMs, { maxDialPeriodMs }).delayMs;
    out.push(t / 1000);
  }
  return out;
}

describe('planRedial', () => {
  it('dials at once, then 19 quick tries 5 s apart', () => {
    const t = dialTimesSeconds(20, 0);
    expect(t).toEqual(Array.from({ length: 20 }, (_, i) => 5 * i));
    expect(planRedial(0, 2999)).toEqual({ delayMs: 0, phase: 'immediate' });
    expect(planRedial(1, 1234)).toEqual({ delayMs: 6234, phase: 'quick' });
    expect(planRedial(19, 0).phase).toBe('quick');
  });

  it('then backs off 3^i s for i = 1..10 with jitter', () => {
    const table: Array<[number, number]> = [
      [20, 3], [21, 9], [22, 27], [23, 81], [24, 243], [25, 729], [26, 2187], [27, 6561], [28, 19683], [29, 59049],
    ];
    for (const [attempt, seconds] of table) {
      expect(planRedial(attempt, 0)).toEqual({ delayMs: seconds * 1000, phase: 'backoff' });
      expect(planRedial(attempt, 2500).delayMs).toBe(seconds * 1000 + 2500);
    }
  });

  it('then keeps dialing forever every 10 minutes when no max dial period is set', () => {
    for (const attempt of [30, 31, 100, 10_000]) {
      expect(planRedial(attempt, 0)).toEqual({ delayMs: DEFAULT_REDIAL_CAP_MS, phase: 'capped' });
    }
    expect(DEFAULT_REDIAL_CAP_MS).toBe(600_000);
    expect(planRedial(30, 1000).delayMs).toBe(601_000);
  });

  it('has the exact timeline to the second over days of downtime', () => {
    const t = dialTimesSeconds(40, 0);
    // Dial 19 at 95 s, then the backoff waits.
    expect(t[19]).toBe(95);
    expect(t[20]).toBe(98);
    expect(t[21]).toBe(107);
    expect(t[29]).toBe(95 + (3 ** 11 - 3) / 2); // 95 + sum 3^1..3^10 = 88667 s
    expect(t[29]).toBe(88_667);
    expect(t[30]).toBe(88_667 + 600);
    expect(t[39]).toBe(88_667 + 600 * 10);
    // Three days down: dials keep coming every 10 minutes after the backoff ends.
    const threeDays = 3 * 86_400;
    const dialsAfterBackoff = Math.floor((threeDays - 88_667) / 600);
    expect(dialsAfterBackoff).toBe(284);
  });

  it('caps the backoff and the forever interval at persistent_peers_max_dial_period', () => {
    const cap = 60_000;
    expect(planRedial(20, 0, { maxDialPeriodMs: cap }).delayMs).toBe(3_000);
    expect(planRedial(22, 0, { maxDialPeriodMs: cap }).delayMs).toBe(27_000);
    expect(planRedial(23, 0, { maxDialPeriodMs: cap }).delayMs).toBe(60_000); // 81 s capped
    expect(planRedial(29, 100, { maxDialPeriodMs: cap }).delayMs).toBe(60_100);
    expect(planRedial(30, 0, { maxDialPeriodMs: cap })).toEqual({ delayMs: 60_000, phase: 'capped' });
    // A cap does not shorten the quick phase.
    expect(planRedial(5, 0, { maxDialPeriodMs: 1_000 }).delayMs).toBe(5_000);
    // 0 means unset.
    expect(planRedial(40, 0, { maxDialPeriodMs: 0 }).delayMs).toBe(600_000);
  });

  it('rejects a negative or fractional attempt', () => {
    expect(() => planRedial(-1, 0)).toThrow(RangeError);
    expect(() => planRedial(1.5, 0)).toThrow(RangeError);
  });
});

describe('planRedial (property)', () => {
  it('every wait is base + jitter, never below 5 s after the first, never above max(cap, 59 049 s) + jitter', async () => {
    const fc = await import('fast-check');
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 100_000 }),
        fc.integer({ min: 0, max: 2999 }),
        fc.constantFrom(0, 1_000, 60_000, 3_600_000),
        (attempt, jitter, cap) => {
          const step = planRedial(attempt, jitter, { maxDialPeriodMs: cap });
          const noJitter = planRedial(attempt, 0, { maxDialPeriodMs: cap });
          expect(step.delayMs - noJitter.delayMs).toBe(jitter);
          expect(noJitter.delayMs).toBeGreaterThanOrEqual(attempt < 20 ? 5_000 : Math.min(3_000, cap || 3_000));
          expect(noJitter.delayMs).toBeLessThanOrEqual(Math.max(attempt < 20 ? 5_000 : 0, cap || 59_049_000));
          if (attempt >= 30) expect(noJitter.delayMs).toBe(cap || 600_000);
        },
      ),
    );
  });
});
