import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { RequestTracker } from '../../pex/request-tracker.js';

describe('inbound request rule', () => {
  it('first two are free, later ones need the interval after the previous accepted one', () => {
    const t = new RequestTracker({ minIntervalMs: 10_000 });
    expect(t.onRequestReceived('p', 0)).toEqual({ kind: 'accept' });
    expect(t.onRequestReceived('p', 1)).toEqual({ kind: 'accept' });
    expect(t.onRequestReceived('p', 10_000)).toEqual({ kind: 'too-soon', sinceLastMs: 9_999 });
    expect(t.onRequestReceived('p', 10_001)).toEqual({ kind: 'accept' });
    expect(t.onRequestReceived('p', 20_000)).toEqual({ kind: 'too-soon', sinceLastMs: 9_999 });
    expect(t.onRequestReceived('p', 20_001)).toEqual({ kind: 'accept' });
  });

  it('is per peer, and forgetting a peer resets it (a reconnect is not flagged as early)', () => {
    const t = new RequestTracker({ minIntervalMs: 10_000 });
    t.onRequestReceived('a', 0);
    t.onRequestReceived('a', 0);
    expect(t.onRequestReceived('b', 1).kind).toBe('accept');
    expect(t.onRequestReceived('a', 5).kind).toBe('too-soon');
    t.forget('a');
    expect(t.onRequestReceived('a', 6).kind).toBe('accept');
    expect(t.onRequestReceived('a', 7).kind).toBe('accept');
  });

  it('property: a peer following the sending rule is never refused', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 50_000 }), { maxLength: 40 }), (gaps) => {
        const rx = new RequestTracker({ minIntervalMs: 10_000 });
        const tx = new RequestTracker({ minIntervalMs: 10_000 });
        let now = 0;
        for (const g of gaps) {
          now += g;
          if (!tx.markRequested('x', now)) continue;
          tx.onAddrsReceived('x');
          expect(rx.onRequestReceived('x', now).kind).toBe('accept');
        }
      }),
    );
  });
});

describe('outbound requests', () => {
  it('one outstanding request per peer; an answer clears it; an unsolicited answer is reported', () => {
    const t = new RequestTracker({ minIntervalMs: 10_000 });
    expect(t.onAddrsReceived('p')).toBe(false);
    expect(t.markRequested('p', 0)).toBe(true);
    expect(t.hasOutstanding('p')).toBe(true);
    expect(t.markRequested('p', 50_000)).toBe(false);
    expect(t.onAddrsReceived('p')).toBe(true);
    expect(t.onAddrsReceived('p')).toBe(false);
  });

  it('we keep the peer rule: 3rd request only the interval (plus margin) after the 2nd', () => {
    const t = new RequestTracker({ minIntervalMs: 10_000, sendMarginMs: 500 });
    t.markRequested('p', 0);
    t.onAddrsReceived('p');
    expect(t.markRequested('p', 100)).toBe(true);
    t.onAddrsReceived('p');
    expect(t.nextRequestAtMs('p')).toBe(10_600);
    expect(t.mayRequest('p', 10_599)).toBe(false);
    expect(t.markRequested('p', 10_599)).toBe(false);
    expect(t.markRequested('p', 10_600)).toBe(true);
  });

  it('seed answers are given once per connection', () => {
    const t = new RequestTracker({ minIntervalMs: 10_000 });
    expect(t.markSeedAnswered('p')).toBe(true);
    expect(t.markSeedAnswered('p')).toBe(false);
    expect(t.trackedPeers).toBe(1);
    t.forget('p');
    expect(t.trackedPeers).toBe(0);
    expect(t.markSeedAnswered('p')).toBe(true);
  });
});
