/**
 * Byte-rate measurement and limiting on the injected Clock.
 *
 * RateMonitor: what an operator sees. Bytes are grouped into 100 ms samples; the current rate
 * is an exponential moving average over about a 1 s window (CometBFT's flowrate settings). It
 * needs no timer: samples are closed lazily whenever bytes are added or the status is read.
 *
 * RateLimiter: a token bucket. Tokens accrue at `rate` bytes per second up to a burst of
 * `burstMs` worth of bytes; a writer may spend while the balance is positive and may overdraw
 * by one batch, after which it waits until the balance is repaid. Over any window T the bytes
 * let through are at most rate * T + burst + one batch, and a writer that always has data gets
 * at least rate * T - one batch, so the achieved rate converges on the configured one.
 */
import type { Clock } from '../clock.js';

export interface RateStatus {
  /** Clock time the monitor started (ms since epoch). */
  startMs: number;
  /** Time since start (ms). */
  durationMs: number;
  /** Time since bytes last moved (ms). */
  idleMs: number;
  /** Total bytes. */
  bytes: number;
  /** Closed 100 ms samples. */
  samples: number;
  /** Rate of the last closed sample (B/s). */
  instRate: number;
  /** Moving average over about the last second (B/s). */
  curRate: number;
  /** Total bytes over total duration (B/s). */
  avgRate: number;
  /** Highest sample rate seen (B/s). */
  peakRate: number;
}

export const RATE_SAMPLE_MS = 100;
export const RATE_WINDOW_MS = 1000;

export class RateMonitor {
  private readonly startMs: number;
  private sampleStartMs: number;
  private sampleBytes = 0;
  private totalBytes = 0;
  private samples = 0;
  private instRate = 0;
  private emaRate = 0;
  private peakRate = 0;
  private lastActivityMs: number;
  /** EMA weight of one sample: the sample period over the window. */
  private readonly alpha = RATE_SAMPLE_MS / RATE_WINDOW_MS;

  constructor(private readonly clock: Clock) {
    this.startMs = clock.now();
    this.sampleStartMs = this.startMs;
    this.lastActivityMs = this.startMs;
  }

  /** Records `n` bytes moved now. */
  update(n: number): void {
    const now = this.clock.now();
    this.roll(now);
    this.sampleBytes += n;
    this.totalBytes += n;
    if (n > 0) this.lastActivityMs = now;
  }

  get bytes(): number {
    return this.totalBytes;
  }

  status(): RateStatus {
    const now = this.clock.now();
    this.roll(now);
    const durationMs = now - this.startMs;
    return {
      startMs: this.startMs,
      durationMs,
      idleMs: now - this.lastActivityMs,
      bytes: this.totalBytes,
      samples: this.samples,
      instRate: Math.round(this.instRate),
      curRate: Math.round(this.emaRate),
      avgRate: durationMs > 0 ? Math.round((this.totalBytes * 1000) / durationMs) : 0,
      peakRate: Math.round(this.peakRate),
    };
  }

  /** Closes every sample period that ended by `now`. */
  private roll(now: number): void {
    if (now < this.sampleStartMs + RATE_SAMPLE_MS) return;
    const rate = (this.sampleBytes * 1000) / RATE_SAMPLE_MS;
    this.closeSample(rate);
    this.sampleBytes = 0;
    this.sampleStartMs += RATE_SAMPLE_MS;
    // Idle periods: the remaining whole samples were empty; fold them in closed form.
    const empty = Math.floor((now - this.sampleStartMs) / RATE_SAMPLE_MS);
    if (empty > 0) {
      this.emaRate *= Math.pow(1 - this.alpha, empty);
      this.instRate = 0;
      this.samples += empty;
      this.sampleStartMs += empty * RATE_SAMPLE_MS;
    }
  }

  private closeSample(rate: number): void {
    this.instRate = rate;
    this.emaRate = this.samples === 0 ? rate : this.emaRate + this.alpha * (rate - this.emaRate);
    if (rate > this.peakRate) this.peakRate = rate;
    this.samples++;
  }
}

/** Default burst of a RateLimiter: 100 ms worth of bytes (one monitor sample). */
export const DEFAULT_BURST_MS = 100;

export class RateLimiter {
  private rate: number;
  private tokens: number;
  private lastRefillMs: number;

  /**
   * @param rate bytes per second; 0 means unlimited.
   * @param minBurstBytes the bucket never holds less than this (one full packet), so a low rate
   *   still lets a packet through whole.
   */
  constructor(
    private readonly clock: Clock,
    rate: number,
    private readonly minBurstBytes: number,
    private readonly burstMs = DEFAULT_BURST_MS,
  ) {
    this.rate = rate;
    this.lastRefillMs = clock.now();
    this.tokens = this.burstBytes();
  }

  get bytesPerSecond(): number {
    return this.rate;
  }

  get unlimited(): boolean {
    return this.rate === 0;
  }

  /** Changes the rate; the balance is kept but capped at the new burst. */
  setRate(rate: number): void {
    this.refill();
    this.rate = rate;
    if (rate === 0) this.tokens = 0;
    else this.tokens = Math.min(this.tokens, this.burstBytes());
  }

  /** Bytes that may be spent now (Infinity when unlimited; may be negative while in debt). */
  available(): number {
    if (this.rate === 0) return Infinity;
    this.refill();
    return this.tokens;
  }

  /** Spends `n` bytes (the balance may go negative: the debt is repaid by waiting). */
  consume(n: number): void {
    if (this.rate === 0) return;
    this.refill();
    this.tokens -= n;
  }

  /** Milliseconds until the balance is positive again (0 if it is already, or unlimited). */
  delayMs(): number {
    if (this.rate === 0) return 0;
    this.refill();
    if (this.tokens > 0) return 0;
    // +1 byte so that the balance is strictly positive when the wait ends.
    return Math.max(1, Math.ceil(((1 - this.tokens) * 1000) / this.rate));
  }

  /** The bucket's size in bytes (also the most a preempting send may overdraw). */
  burstBytes(): number {
    return Math.max(this.minBurstBytes, Math.floor((this.rate * this.burstMs) / 1000));
  }

  private refill(): void {
    const now = this.clock.now();
    const elapsed = now - this.lastRefillMs;
    if (elapsed <= 0) return;
    this.lastRefillMs = now;
    if (this.rate === 0) return;
    this.tokens = Math.min(this.burstBytes(), this.tokens + (elapsed * this.rate) / 1000);
  }
}
