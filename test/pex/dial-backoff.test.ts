import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  backoffDelayMs,
  decideDial,
  DialBackoffTable,
  recordDialFailure,
  type DialRecord,
} from '../../pex/dial-backoff.js';

const policy = { persistentPeersMaxDialPeriodMs: 0 };

describe('dial backoff schedule', () => {
  it('waits 2^n s plus the jitter after n failures, to the millisecond', () => {
    const table: [number, number, number][] = [
      [0, 500, 0],
      [1, 0, 2_000],
      [1, 999, 2_999],
      [2, 250, 4_250],
      [3, 0, 8_000],
      [10, 0, 1_024_000],
      [15, 123, 32_768_123],
    ];
    for (const [attempts, jitter, expected] of table) expect(backoffDelayMs(attempts, jitter, false, policy)).toBe(expected);
  });

  it('caps persistent peers at persistentPeersMaxDialPeriodMs, and only them', () => {
    const capped = { persistentPeersMaxDialPeriodMs: 60_000 };
    expect(backoffDelayMs(10, 0, true, capped)).toBe(60_000);
    expect(backoffDelayMs(3, 0, true, capped)).toBe(8_000);
    expect(backoffDelayMs(10, 0, false, capped)).toBe(1_024_000);
    // No cap configured: persistent peers follow the plain schedule, still finite for huge counts.
    expect(backoffDelayMs(5, 0, true, policy)).toBe(32_000);
    expect(Number.isFinite(backoffDelayMs(10_000, 0, true, policy))).toBe(true);
  });

  it('a full failure sequence: retry times, too-early refusals, and the ban at the 16th failure', () => {
    let record: DialRecord | undefined;
    let now = 1_000_000;
    for (let n = 1; n <= 15; n++) {
      expect(decideDial(record, now).kind).toBe('dial');
      const out = recordDialFailure(record, now, 400, false, policy);
      if (out.kind !== 'backoff') throw new Error(`unexpected ban at ${n}`);
      record = out.record;
      expect(record.attempts).toBe(n);
      expect(record.retryAtMs).toBe(now + 2 ** n * 1000 + 400);
      // One millisecond early is refused and counts nothing.
      const early = decideDial(record, record.retryAtMs - 1);
      expect(early).toEqual({ kind: 'too-early', attempts: n, retryAtMs: record.retryAtMs });
      now = record.retryAtMs;
    }
    expect(decideDial(record, now).kind).toBe('dial');
    expect(recordDialFailure(record, now, 0, false, policy)).toEqual({ kind: 'ban', attempts: 16 });
  });

  it('persistent addresses are never banned', () => {
    let record: DialRecord | undefined;
    for (let n = 1; n <= 40; n++) {
      const out = recordDialFailure(record, n * 1e9, 0, true, { persistentPeersMaxDialPeriodMs: 30_000 });
      expect(out.kind).toBe('backoff');
      if (out.kind === 'backoff') {
        record = out.record;
        expect(record.retryAtMs - record.lastDialedMs).toBeLessThanOrEqual(30_000);
      }
    }
  });

  it('property: the wait is 2^n s + jitter (capped for persistent), never negative', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 60 }), fc.float({ min: 0, max: 999, noNaN: true }), fc.boolean(), fc.integer({ min: 0, max: 1e7 }), (n, j, persistent, cap) => {
        const d = backoffDelayMs(n, j, persistent, { persistentPeersMaxDialPeriodMs: cap });
        const plain = 2 ** Math.min(n, 30) * 1000 + j;
        expect(d).toBe(persistent && cap > 0 ? Math.min(plain, cap) : plain);
        expect(d).toBeGreaterThan(0);
      }),
    );
  });
});

describe('DialBackoffTable', () => {
  it('tracks records by key and reports backing-off', () => {
    const t = new DialBackoffTable();
    t.set('1.2.3.4:1', { attempts: 1, lastDialedMs: 0, retryAtMs: 2_000 });
    expect(t.isBackingOff('1.2.3.4:1', 1_999)).toBe(true);
    expect(t.isBackingOff('1.2.3.4:1', 2_000)).toBe(false);
    expect(t.isBackingOff('5.6.7.8:1', 0)).toBe(false);
    t.delete('1.2.3.4:1');
    expect(t.size).toBe(0);
  });

  it('is bounded: the oldest record goes first', () => {
    const t = new DialBackoffTable(3);
    for (let i = 0; i < 5; i++) t.set(`k${i}`, { attempts: 1, lastDialedMs: 0, retryAtMs: 1 });
    expect(t.size).toBe(3);
    expect(t.get('k0')).toBeUndefined();
    expect(t.get('k4')).toBeDefined();
  });
});
