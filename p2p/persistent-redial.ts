/**
 * The persistent-peer redial schedule as a pure planner: given how many dials have failed so far
 * and a jitter value, how long to wait before the next dial. The Switch's redial loop (one per
 * peer) owns the timer and draws the jitter from its Rng.
 *
 * Schedule (delays are *before* dial number `attempt`, 0-based):
 *  - attempt 0: at once;
 *  - attempts 1..19: 5 s + jitter (CometBFT's 20 quick tries, 5 s apart);
 *  - attempts 20..29: 3^i s + jitter for i = 1..10 (CometBFT v0.38.14+ backoff, 3 s … 59 049 s),
 *    each capped at `maxDialPeriodMs` when that is set;
 *  - attempts ≥ 30: the cap + jitter, forever. CometBFT gives up here (after about 24.6 h); we keep
 *    trying because a persistent peer is one the operator told us to keep, and an outage of a day
 *    should not need a restart to heal.
 * Jitter is uniform in [0, 3000) ms, like CometBFT's randomSleep.
 *
 * One deliberate difference: CometBFT sleeps an extra 5 s + jitter between its last quick try and
 * the first backoff sleep (its loop sleeps after every quick try, including the last). We do not.
 */

export const REDIAL_QUICK_ATTEMPTS = 20;
export const REDIAL_QUICK_INTERVAL_MS = 5_000;
export const REDIAL_BACKOFF_ATTEMPTS = 10;
export const REDIAL_BACKOFF_BASE_SECONDS = 3;
/** Upper bound (exclusive) of the random extra delay added to every wait. */
export const REDIAL_JITTER_MAX_MS = 3_000;
/** Interval after the backoff phase when `persistent_peers_max_dial_period` is 0 (unset). */
export const DEFAULT_REDIAL_CAP_MS = 10 * 60_000;

export type RedialPhase = 'immediate' | 'quick' | 'backoff' | 'capped';

export interface RedialStep {
  /** Wait this long, then dial. */
  delayMs: number;
  phase: RedialPhase;
}

export interface RedialScheduleOptions {
  /** `persistent_peers_max_dial_period` in ms; 0 or undefined means unset. */
  maxDialPeriodMs?: number;
}

/**
 * The wait before dial number `attempt` (0 = the first dial, made at once). `jitterMs` must be in
 * [0, REDIAL_JITTER_MAX_MS); it is ignored for attempt 0.
 */
export function planRedial(attempt: number, jitterMs: number, options: RedialScheduleOptions = {}): RedialStep {
  if (!Number.isInteger(attempt) || attempt < 0) throw new RangeError(`attempt must be a non-negative integer, got ${attempt}`);
  const cap = options.maxDialPeriodMs && options.maxDialPeriodMs > 0 ? options.maxDialPeriodMs : undefined;
  if (attempt === 0) return { delayMs: 0, phase: 'immediate' };
  if (attempt < REDIAL_QUICK_ATTEMPTS) return { delayMs: REDIAL_QUICK_INTERVAL_MS + jitterMs, phase: 'quick' };
  const i = attempt - REDIAL_QUICK_ATTEMPTS + 1;
  if (i <= REDIAL_BACKOFF_ATTEMPTS) {
    const backoffMs = REDIAL_BACKOFF_BASE_SECONDS ** i * 1000;
    return { delayMs: (cap === undefined ? backoffMs : Math.min(backoffMs, cap)) + jitterMs, phase: 'backoff' };
  }
  return { delayMs: (cap ?? DEFAULT_REDIAL_CAP_MS) + jitterMs, phase: 'capped' };
}
