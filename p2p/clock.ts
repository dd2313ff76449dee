/**
 * Time as a dependency. Core code never calls Date.now/setTimeout/setInterval directly: it takes
 * a Clock, so a VirtualClock can drive whole networks deterministically in tests and simulations.
 */

/** Opaque handle of a scheduled timer; pass it back to clearTimeout/clearInterval. */
export interface TimerHandle {
  readonly __timer: true;
}

export interface Clock {
  /** Milliseconds since the Unix epoch. */
  now(): number;
  setTimeout(fn: () => void, ms: number): TimerHandle;
  clearTimeout(handle: TimerHandle | undefined): void;
  setInterval(fn: () => void, ms: number): TimerHandle;
  clearInterval(handle: TimerHandle | undefined): void;
  /** Resolves after `ms`; rejects with the signal's reason if the signal aborts first. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

function sleepOn(clock: Clock, ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = (): void => {
      clock.clearTimeout(handle);
      reject(signal!.reason);
    };
    const handle = clock.setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** The real wall clock and Node's timers. */
export class SystemClock implements Clock {
  now(): number {
    return Date.now();
  }
  setTimeout(fn: () => void, ms: number): TimerHandle {
    return setTimeout(fn, Math.max(0, ms)) as unknown as TimerHandle;
  }
  clearTimeout(handle: TimerHandle | undefined): void {
    if (handle !== undefined) clearTimeout(handle as unknown as NodeJS.Timeout);
  }
  setInterval(fn: () => void, ms: number): TimerHandle {
    return setInterval(fn, Math.max(1, ms)) as unknown as TimerHandle;
  }
  clearInterval(handle: TimerHandle | undefined): void {
    if (handle !== undefined) clearInterval(handle as unknown as NodeJS.Timeout);
  }
  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return sleepOn(this, ms, signal);
  }
}

/** Shared default for components constructed without a clock. */
export const systemClock: Clock = new SystemClock();

interface VirtualTimer extends TimerHandle {
  due: number;
  seq: number;
  fn: () => void;
  /** Repeat period for intervals; undefined for one-shot timers. */
  periodMs: number | undefined;
  cancelled: boolean;
}

/** Lets real I/O callbacks (sockets, memory pipes, promise chains) run between virtual timers. */
function realTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/**
 * A clock that only moves when told to. Timers fire in due-time order (ties in scheduling order),
 * and timers scheduled by firing timers fire too when they fall due within the same advance.
 */
export class VirtualClock implements Clock {
  private current: number;
  private seq = 0;
  /** Binary min-heap ordered by (due, seq). */
  private heap: VirtualTimer[] = [];

  constructor(startMs = 0) {
    this.current = startMs;
  }

  now(): number {
    return this.current;
  }

  setTimeout(fn: () => void, ms: number): TimerHandle {
    return this.schedule(fn, ms, undefined);
  }

  clearTimeout(handle: TimerHandle | undefined): void {
    if (handle !== undefined) (handle as VirtualTimer).cancelled = true;
  }

  setInterval(fn: () => void, ms: number): TimerHandle {
    return this.schedule(fn, Math.max(1, ms), Math.max(1, ms));
  }

  clearInterval(handle: TimerHandle | undefined): void {
    this.clearTimeout(handle);
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return sleepOn(this, ms, signal);
  }

  /** Number of live (not cancelled, not yet fired) timers: lets tests prove nothing leaks. */
  pendingTimers(): number {
    let n = 0;
    for (const t of this.heap) if (!t.cancelled) n++;
    return n;
  }

  /** Due time of the next live timer, or undefined when none is scheduled. */
  nextDue(): number | undefined {
    this.dropCancelledTop();
    return this.heap[0]?.due;
  }

  /**
   * Moves time forward by `ms`, synchronously firing every timer that falls due, in order.
   * Promise continuations run only after this returns; use `advanceAsync` when the code under
   * test awaits between timers.
   */
  advance(ms: number): void {
    const target = this.current + Math.max(0, ms);
    for (;;) {
      const t = this.popDue(target);
      if (!t) break;
      this.fire(t);
    }
    this.current = target;
  }

  /**
   * Like `advance`, but lets real event-loop turns pass before each timer and at the end, so
   * promise chains, memory pipes and socket callbacks progress as they would in real time.
   */
  async advanceAsync(ms: number): Promise<void> {
    const target = this.current + Math.max(0, ms);
    await this.settle();
    for (;;) {
      const t = this.popDue(target);
      if (!t) break;
      this.fire(t);
      await this.settle();
    }
    this.current = target;
    await this.settle();
  }

  /**
   * Advances in steps of at most `stepMs` until `predicate()` holds or `maxMs` of virtual time
   * has passed. Returns whether the predicate held.
   */
  async runUntil(predicate: () => boolean, maxMs: number, stepMs = 100): Promise<boolean> {
    const end = this.current + maxMs;
    await this.settle();
    while (!predicate()) {
      if (this.current >= end) return false;
      await this.advanceAsync(Math.min(stepMs, end - this.current));
    }
    return true;
  }

  /** A few real event-loop turns with no virtual time passing. */
  async settle(turns = 3): Promise<void> {
    for (let i = 0; i < turns; i++) await realTurn();
  }

  private schedule(fn: () => void, ms: number, periodMs: number | undefined): VirtualTimer {
    const t: VirtualTimer = {
      __timer: true,
      due: this.current + Math.max(0, ms),
      seq: this.seq++,
      fn,
      periodMs,
      cancelled: false,
    };
    this.push(t);
    return t;
  }

  private fire(t: VirtualTimer): void {
    this.current = Math.max(this.current, t.due);
    if (t.periodMs !== undefined) {
      t.due += t.periodMs;
      t.seq = this.seq++;
      this.push(t);
    }
    t.fn();
  }

  private popDue(target: number): VirtualTimer | undefined {
    this.dropCancelledTop();
    const top = this.heap[0];
    if (!top || top.due > target) return undefined;
    return this.pop();
  }

  private dropCancelledTop(): void {
    while (this.heap.length > 0 && this.heap[0].cancelled) this.pop();
  }

  private less(a: VirtualTimer, b: VirtualTimer): boolean {
    return a.due < b.due || (a.due === b.due && a.seq < b.seq);
  }

  private push(t: VirtualTimer): void {
    const h = this.heap;
    h.push(t);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.less(h[i], h[p])) break;
      [h[i], h[p]] = [h[p], h[i]];
      i = p;
    }
  }

  private pop(): VirtualTimer {
    const h = this.heap;
    const top = h[0];
    const last = h.pop()!;
    if (h.length > 0) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && this.less(h[l], h[m])) m = l;
        if (r < h.length && this.less(h[r], h[m])) m = r;
        if (m === i) break;
        [h[i], h[m]] = [h[m], h[i]];
        i = m;
      }
    }
    return top;
  }
}
