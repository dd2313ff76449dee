import { describe, expect, it } from 'vitest';
import { VirtualClock } from '../../p2p/clock.js';

describe('VirtualClock', () => {
  it('starts at the given time and only moves when advanced', () => {
    const clock = new VirtualClock(1_000);
    expect(clock.now()).toBe(1_000);
    clock.advance(250);
    expect(clock.now()).toBe(1_250);
  });

  it('fires due timers in time order, ties in scheduling order', () => {
    const clock = new VirtualClock(0);
    const fired: string[] = [];
    clock.setTimeout(() => fired.push('c@30'), 30);
    clock.setTimeout(() => fired.push('a@10'), 10);
    clock.setTimeout(() => fired.push('b@10'), 10);
    clock.setTimeout(() => fired.push('late@100'), 100);
    clock.advance(50);
    expect(fired).toEqual(['a@10', 'b@10', 'c@30']);
    expect(clock.pendingTimers()).toBe(1);
  });

  it('fires timers scheduled by firing timers when they fall due within the same advance', () => {
    const clock = new VirtualClock(0);
    const seen: number[] = [];
    clock.setTimeout(() => {
      seen.push(clock.now());
      clock.setTimeout(() => seen.push(clock.now()), 15);
      clock.setTimeout(() => seen.push(clock.now()), 500);
    }, 10);
    clock.advance(100);
    expect(seen).toEqual([10, 25]);
    clock.advance(409);
    expect(seen).toEqual([10, 25]);
    clock.advance(1);
    expect(seen).toEqual([10, 25, 510]);
  });

  it('repeats intervals at their period and stops after clearInterval', () => {
    const clock = new VirtualClock(0);
    const ticks: number[] = [];
    const h = clock.setInterval(() => ticks.push(clock.now()), 30);
    clock.advance(100);
    expect(ticks).toEqual([30, 60, 90]);
    clock.clearInterval(h);
    clock.advance(100);
    expect(ticks).toEqual([30, 60, 90]);
    expect(clock.pendingTimers()).toBe(0);
  });

  it('cancelled timers never fire', () => {
    const clock = new VirtualClock(0);
    let fired = false;
    const h = clock.setTimeout(() => (fired = true), 5);
    clock.clearTimeout(h);
    clock.advance(10);
    expect(fired).toBe(false);
  });

  it('advanceAsync lets promise chains run between timers', async () => {
    const clock = new VirtualClock(0);
    const log: number[] = [];
    const loop = async (): Promise<void> => {
      for (let i = 0; i < 3; i++) {
        await clock.sleep(1_000);
        log.push(clock.now());
      }
    };
    const done = loop();
    await clock.advanceAsync(5_000);
    await done;
    expect(log).toEqual([1_000, 2_000, 3_000]);
  });

  it('sleep rejects when its signal aborts and leaves no timer behind', async () => {
    const clock = new VirtualClock(0);
    const ac = new AbortController();
    const p = clock.sleep(1_000, ac.signal);
    ac.abort(new Error('stopped'));
    await expect(p).rejects.toThrow('stopped');
    expect(clock.pendingTimers()).toBe(0);
  });

  it('runUntil stops as soon as the predicate holds', async () => {
    const clock = new VirtualClock(0);
    let ready = false;
    clock.setTimeout(() => (ready = true), 2_500);
    expect(await clock.runUntil(() => ready, 10_000, 1_000)).toBe(true);
    expect(clock.now()).toBe(3_000);
    expect(await clock.runUntil(() => false, 1_000)).toBe(false);
  });
});
