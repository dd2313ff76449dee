import { describe, expect, it } from 'vitest';
import { VirtualClock } from '../../../p2p/clock.js';
import { silentLogger } from '../../../p2p/logger.js';
import { NetAddress } from '../../../p2p/net-address.js';
import { PersistentRedialer, STABLE_CONNECTION_MS } from '../../../p2p/persistent-redialer.js';
import { SeededRng } from '../../../p2p/rng.js';
import { ErrAlreadyDialingOrConnected, ErrRejectedSelf } from '../../../p2p/switch-errors.js';

const addr = new NetAddress('ab'.repeat(20), '10.0.0.2', 26656);

function setup(dial: (n: number) => Promise<unknown>) {
  const clock = new VirtualClock();
  const tasks: Promise<unknown>[] = [];
  let calls = 0;
  let running = true;
  const r = new PersistentRedialer(
    { clock, rng: new SeededRng(7), logger: silentLogger, dial: () => dial(++calls), isRunning: () => running, track: (t) => tasks.push(t) },
    { maxDialPeriodMs: 0 },
  );
  return { clock, r, tasks, calls: () => calls, stop: () => (running = false) };
}

describe('PersistentRedialer', () => {
  it('keeps one loop per ID and ends it on success', async () => {
    const s = setup(async (n) => {
      if (n < 3) throw new Error('refused');
    });
    s.r.start(addr, 1);
    s.r.start(addr, 0); // ignored: a loop runs
    expect(s.r.active()).toEqual([addr.id]);
    await s.clock.advanceAsync(30_000);
    expect(s.calls()).toBe(3);
    expect(s.r.size).toBe(0);
    // Dropped right away: resume after the attempt that succeeded (attempt 3 → next is 4).
    expect(s.r.firstAttemptAfterDrop(addr.id, 1000)).toBe(4);
    expect(s.r.firstAttemptAfterDrop(addr.id, STABLE_CONNECTION_MS)).toBe(0);
    expect(s.r.firstAttemptAfterDrop('cd'.repeat(20), 0)).toBe(0);
  });

  it('ends on errors another try cannot fix, and on stopAll', async () => {
    for (const err of [new ErrAlreadyDialingOrConnected('x', 'connected'), new ErrRejectedSelf('x', addr.id)]) {
      const s = setup(async () => {
        throw err;
      });
      s.r.start(addr, 0);
      await s.clock.advanceAsync(0);
      expect(s.calls()).toBe(1);
      expect(s.r.size).toBe(0);
    }
    const s = setup(async () => {
      throw new Error('down');
    });
    s.r.start(addr, 1);
    await s.clock.advanceAsync(60_000);
    expect(s.calls()).toBeGreaterThan(5);
    s.r.stopAll(new Error('stop'));
    await Promise.all(s.tasks);
    expect(s.r.size).toBe(0);
    expect(s.clock.pendingTimers()).toBe(0);
    s.stop();
    s.r.start(addr, 0); // not running: no loop
    expect(s.r.size).toBe(0);
  });
  it('a restart asked for once a dial began continues the loop; one asked for while sleeping does not add a dial', async () => {
    const times: number[] = [];
    let resumeFrom: number | undefined;
    let s!: ReturnType<typeof setup>;
    s = setup(async (n) => {
      times.push(s.clock.now());
      if (n === 1) throw new Error('refused');
      if (n === 2) {
        // The connection this dial makes drops before the loop has seen the dial succeed.
        resumeFrom = s.r.firstAttemptAfterDrop(addr.id, 10);
        s.r.start(addr, resumeFrom);
      }
    });
    const t0 = s.clock.now();
    s.r.start(addr, 0); // dial 1 at once (fails), then sleeps toward attempt 1
    await s.clock.advanceAsync(1000);
    s.r.start(addr, 0); // while sleeping: the coming dial serves it
    await s.clock.advanceAsync(60_000);
    expect(resumeFrom).toBe(2); // the dropped dial was attempt 1: resume after it, not at once
    expect(s.calls()).toBe(3); // attempt 0, attempt 1 (dropped), attempt 2
    expect(times[0]).toBe(t0);
    // Each later dial waits 5 s plus jitter in [0, 3 s).
    for (const gap of [times[1] - times[0], times[2] - times[1]]) {
      expect(gap).toBeGreaterThanOrEqual(5000);
      expect(gap).toBeLessThan(8000);
    }
    expect(s.r.size).toBe(0);
    expect(s.r.firstAttemptAfterDrop(addr.id, 10)).toBe(3);
    expect(s.clock.pendingTimers()).toBe(0);
  });

  it('a restart recorded while the owner stops ends the loop without a timer', async () => {
    let s!: ReturnType<typeof setup>;
    s = setup(async () => {
      s.r.start(addr, 1);
      s.stop();
    });
    s.r.start(addr, 0);
    await s.clock.advanceAsync(0);
    await Promise.all(s.tasks);
    expect(s.calls()).toBe(1);
    expect(s.r.size).toBe(0);
    expect(s.clock.pendingTimers()).toBe(0);
  });
});
