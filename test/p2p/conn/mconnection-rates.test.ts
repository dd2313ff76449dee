/**
 * Rate measurement and limiting on the VirtualClock: the monitor's numbers, the token bucket,
 * and achieved send/receive rates within 5 % of the configured ones over 10 s, changeable at
 * runtime for one connection without touching another.
 */
import { describe, expect, it } from 'vitest';
import { VirtualClock } from '../../../p2p/clock.js';
import { RateLimiter, RateMonitor } from '../../../p2p/conn/flow-rate.js';
import { connectedPair, pattern, withRawPeer, type Side } from './mconnection-helpers.js';

describe('RateMonitor', () => {
  it('reports totals, sample rates, the moving average and the peak', () => {
    const clock = new VirtualClock(5_000);
    const m = new RateMonitor(clock);
    for (let i = 0; i < 20; i++) {
      m.update(10_000); // 10 kB per 100 ms = 100 kB/s
      clock.advance(100);
    }
    let s = m.status();
    expect(s).toMatchObject({ startMs: 5_000, durationMs: 2_000, bytes: 200_000, samples: 20, instRate: 100_000, avgRate: 100_000, peakRate: 100_000 });
    expect(s.curRate).toBe(100_000);
    expect(s.idleMs).toBe(100);
    clock.advance(1_000); // idle: the average decays, the total does not
    s = m.status();
    expect(s.instRate).toBe(0);
    expect(s.curRate).toBeLessThan(40_000);
    expect(s.curRate).toBeGreaterThan(30_000); // 0.9^10 ≈ 0.35
    expect(s.bytes).toBe(200_000);
    expect(s.idleMs).toBe(1_100);
  });

  it('folds hours of idleness without looping over every sample', () => {
    const clock = new VirtualClock();
    const m = new RateMonitor(clock);
    m.update(1000);
    clock.advance(3_600_000 * 24 * 365);
    const s = m.status();
    expect(s.samples).toBe(10 * 3600 * 24 * 365);
    expect(s.curRate).toBe(0);
  });
});

describe('RateLimiter', () => {
  it('lets a burst through, then meters at the rate; unlimited at 0', () => {
    const clock = new VirtualClock();
    const l = new RateLimiter(clock, 10_000, 1034);
    expect(l.available()).toBe(1_034); // burst = max(100 ms worth = 1000, one packet)
    l.consume(3_034);
    expect(l.delayMs()).toBe(201); // 2000 bytes of debt + 1 at 10 kB/s
    clock.advance(201);
    expect(l.delayMs()).toBe(0);
    l.setRate(0);
    expect(l.unlimited).toBe(true);
    expect(l.available()).toBe(Infinity);
    expect(l.delayMs()).toBe(0);
  });
});

/** Keeps a channel's queue full while the clock runs `ms`; returns nothing (callers read counters). */
async function runFed(clock: VirtualClock, sides: { side: Side; ch: number; msg: Uint8Array }[], ms: number, stepMs = 20): Promise<void> {
  const end = clock.now() + ms;
  while (clock.now() < end) {
    for (const { side, ch, msg } of sides) while (side.mconn.trySend(ch, msg));
    await clock.advanceAsync(Math.min(stepMs, end - clock.now()));
  }
}

const within5 = (achieved: number, configured: number): void => {
  expect(Math.abs(achieved - configured) / configured).toBeLessThan(0.05);
};

describe('send rate', () => {
  it.each([200_000, 1_000_000])('achieves %d B/s within 5 percent over 10 s', async (rate) => {
    const t = withRawPeer([{ id: 1, priority: 1, sendQueueCapacity: 100 }], { sendRate: rate });
    await runFed(t.clock, [{ side: t.side, ch: 1, msg: pattern(1000) }], 1_000); // warm-up (burst spent)
    const before = t.peer.bytes;
    await runFed(t.clock, [{ side: t.side, ch: 1, msg: pattern(1000) }], 10_000);
    within5((t.peer.bytes - before) / 10, rate);
    const s = t.mconn.status();
    expect(s.sendRate).toBe(rate);
    within5(s.sendMonitor.curRate, rate);
    t.mconn.stop();
  });

  it('the default (5 120 000 B/s) holds too', async () => {
    const t = withRawPeer([{ id: 1, priority: 1, sendQueueCapacity: 100 }], { recvRate: 0 });
    await runFed(t.clock, [{ side: t.side, ch: 1, msg: pattern(10_000) }], 500, 10);
    const before = t.peer.bytes;
    await runFed(t.clock, [{ side: t.side, ch: 1, msg: pattern(10_000) }], 10_000, 10);
    within5((t.peer.bytes - before) / 10, 5_120_000);
    t.mconn.stop();
  });

  it('setRates throttles one connection at runtime and leaves another alone', async () => {
    const clock = new VirtualClock();
    const chans = [{ id: 1, priority: 1, sendQueueCapacity: 100 }];
    const one = withRawPeer(chans, { sendRate: 400_000 }, { clock });
    const two = withRawPeer(chans, { sendRate: 400_000 }, { clock });
    const feed = [{ side: one.side, ch: 1, msg: pattern(1000) }, { side: two.side, ch: 1, msg: pattern(1000) }];
    await runFed(clock, feed, 1_000);
    let b1 = one.peer.bytes;
    let b2 = two.peer.bytes;
    await runFed(clock, feed, 10_000);
    within5((one.peer.bytes - b1) / 10, 400_000);
    within5((two.peer.bytes - b2) / 10, 400_000);
    one.mconn.setRates({ sendRate: 100_000 });
    await runFed(clock, feed, 1_000);
    b1 = one.peer.bytes;
    b2 = two.peer.bytes;
    await runFed(clock, feed, 10_000);
    within5((one.peer.bytes - b1) / 10, 100_000);
    within5((two.peer.bytes - b2) / 10, 400_000);
    expect(one.mconn.status().sendRate).toBe(100_000);
    // A bad value changes nothing and names the key.
    expect(() => one.mconn.setRates({ sendRate: 5, recvRate: -1 })).toThrow(/recvRate/);
    expect(one.mconn.status().sendRate).toBe(100_000);
    // Unlimited: the 100-message backlog (100 kB) goes out within a step.
    const queued = one.mconn.status().channels[0].sendQueueSize;
    expect(queued).toBeGreaterThan(90);
    b1 = one.peer.bytes;
    one.mconn.setRates({ sendRate: 0 });
    await clock.advanceAsync(20);
    expect(one.peer.bytes - b1).toBeGreaterThan(queued * 1000);
    one.mconn.stop();
    two.mconn.stop();
    expect(clock.pendingTimers()).toBe(0);
  });
});

describe('receive rate', () => {
  it.each([300_000, 2_000_000])('reads at most %d B/s (within 5 percent over 10 s) from an unlimited sender', async (rate) => {
    const { clock, A, B } = connectedPair([{ id: 1, priority: 1, sendQueueCapacity: 100 }], { sendRate: 0, recvRate: 0 }, { sendRate: 0, recvRate: rate });
    const feed = [{ side: A, ch: 1, msg: pattern(4000) }];
    await runFed(clock, feed, 1_000);
    const before = B.mconn.status().recvMonitor.bytes;
    await runFed(clock, feed, 10_000);
    within5((B.mconn.status().recvMonitor.bytes - before) / 10, rate);
    expect(A.errors).toEqual([]);
    expect(B.errors).toEqual([]);
    // Raising the limit at runtime speeds reading up at once.
    B.mconn.setRates({ recvRate: rate * 2 });
    await runFed(clock, feed, 1_000);
    const mid = B.mconn.status().recvMonitor.bytes;
    await runFed(clock, feed, 10_000);
    within5((B.mconn.status().recvMonitor.bytes - mid) / 10, rate * 2);
    A.mconn.stop();
    await clock.settle();
    expect(clock.pendingTimers()).toBe(0);
  });
});
