/**
 * Our own request interval runs from the answer's arrival when that is later than the send: the
 * peer starts its clock when it handles our request, which can be long after we sent it. Whatever
 * the delays, the peer's receive rule never finds our next request too soon.
 */
import { describe, expect, it } from 'vitest';
import { RequestTracker } from '../../pex/request-tracker.js';

const MIN_INTERVAL_MS = 100;

describe('RequestTracker: interval measured from the answer', () => {
  it('a late answer to the 2nd request moves the earliest 3rd request to answer time + interval', () => {
    const t = new RequestTracker({ minIntervalMs: MIN_INTERVAL_MS });
    expect(t.markRequested('p', 0)).toBe(true);
    expect(t.onAddrsReceived('p', 10)).toBe(true);
    expect(t.markRequested('p', 20)).toBe(true);
    // The answer arrives 210 ms after the 2nd request was sent.
    expect(t.onAddrsReceived('p', 230)).toBe(true);
    expect(t.mayRequest('p', 120)).toBe(false);
    expect(t.mayRequest('p', 329)).toBe(false);
    expect(t.nextRequestAtMs('p')).toBe(330);
    expect(t.mayRequest('p', 330)).toBe(true);
  });

  it('an answer without a time (the request never left) keeps the send time; an early answer changes nothing', () => {
    const t = new RequestTracker({ minIntervalMs: MIN_INTERVAL_MS });
    t.markRequested('p', 0);
    t.onAddrsReceived('p', 5);
    t.markRequested('p', 50);
    t.onAddrsReceived('p');
    expect(t.nextRequestAtMs('p')).toBe(150);
  });

  it('for any handling delay of the 2nd request, the receiver accepts our 3rd request sent at the earliest allowed time', () => {
    for (let handleDelayMs = 0; handleDelayMs <= 500; handleDelayMs += 7) {
      for (const answerDelayMs of [0, 3, 40]) {
        const sender = new RequestTracker({ minIntervalMs: MIN_INTERVAL_MS });
        const receiver = new RequestTracker({ minIntervalMs: MIN_INTERVAL_MS });
        // 1st request: handled and answered at once.
        sender.markRequested('r', 0);
        expect(receiver.onRequestReceived('s', 0).kind).toBe('accept');
        sender.onAddrsReceived('r', 0);
        // 2nd request: sent at 1, handled after handleDelayMs, answered answerDelayMs later.
        sender.markRequested('r', 1);
        const handledAt = 1 + handleDelayMs;
        expect(receiver.onRequestReceived('s', handledAt).kind).toBe('accept');
        sender.onAddrsReceived('r', handledAt + answerDelayMs);
        // 3rd request at the sender's earliest time; it can only be handled at or after that.
        const sendAt = Math.max(handledAt + answerDelayMs, sender.nextRequestAtMs('r'));
        expect(sender.markRequested('r', sendAt)).toBe(true);
        expect(receiver.onRequestReceived('s', sendAt).kind, `handle delay ${handleDelayMs}, answer delay ${answerDelayMs}`).toBe('accept');
      }
    }
  });
});
