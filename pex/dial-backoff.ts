/**
 * Per-address dial backoff and the max-attempts ban, as pure decisions plus a small bounded map.
 *
 * After the n-th failed dial in a row, the address may be dialed again after 2^n s plus a jitter
 * drawn once per failure from U[0, 1 s) (drawn once, not per check as CometBFT does, so a
 * schedule is a fixed point in time that the planner can skip over and tests can pin to the
 * millisecond). A non-persistent address that fails MAX_DIAL_ATTEMPTS (16) dials in a row is
 * banned and its record dropped, so after the ban it starts from zero instead of being banned
 * again at the next pick (CometBFT keeps the count until restart). Persistent addresses are never
 * banned; their wait is capped by persistentPeersMaxDialPeriodMs when that is > 0. A successful
 * dial clears the record.
 */
import { DIAL_BACKOFF_UNIT_MS, MAX_BACKOFF_EXPONENT, MAX_DIAL_ATTEMPTS } from './params.js';

/** Failed dials of one address since its last success. */
export interface DialRecord {
  readonly attempts: number;
  readonly lastDialedMs: number;
  /** Earliest time the address may be dialed again. */
  readonly retryAtMs: number;
}

export interface BackoffPolicy {
  /** Cap on a persistent address's wait; 0 means no cap. */
  readonly persistentPeersMaxDialPeriodMs: number;
  /** Failed dials in a row after which a non-persistent address is banned. Default 16. */
  readonly maxAttempts?: number;
}

/** The wait after `attempts` failed dials in a row: 2^attempts s + jitter, capped for persistent peers. */
export function backoffDelayMs(attempts: number, jitterMs: number, persistent: boolean, policy: BackoffPolicy): number {
  if (attempts <= 0) return 0;
  const delay = 2 ** Math.min(attempts, MAX_BACKOFF_EXPONENT) * DIAL_BACKOFF_UNIT_MS + jitterMs;
  if (persistent && policy.persistentPeersMaxDialPeriodMs > 0) return Math.min(delay, policy.persistentPeersMaxDialPeriodMs);
  return delay;
}

export type DialDecision = { kind: 'dial' } | { kind: 'too-early'; attempts: number; retryAtMs: number };

/** May the address with this record be dialed at `nowMs`? */
export function decideDial(record: DialRecord | undefined, nowMs: number): DialDecision {
  if (record === undefined || nowMs >= record.retryAtMs) return { kind: 'dial' };
  return { kind: 'too-early', attempts: record.attempts, retryAtMs: record.retryAtMs };
}

export type FailureOutcome = { kind: 'backoff'; record: DialRecord } | { kind: 'ban'; attempts: number };

/** What a failed dial at `nowMs` leads to: a later retry, or (non-persistent, too many) a ban. */
export function recordDialFailure(
  record: DialRecord | undefined,
  nowMs: number,
  jitterMs: number,
  persistent: boolean,
  policy: BackoffPolicy,
): FailureOutcome {
  const attempts = (record?.attempts ?? 0) + 1;
  if (!persistent && attempts >= (policy.maxAttempts ?? MAX_DIAL_ATTEMPTS)) return { kind: 'ban', attempts };
  return {
    kind: 'backoff',
    record: { attempts, lastDialedMs: nowMs, retryAtMs: nowMs + backoffDelayMs(attempts, jitterMs, persistent, policy) },
  };
}

/**
 * Dial records keyed by dial string (`ip:port`), bounded: when full, the oldest-inserted record
 * goes first (a forgotten record only means one dial sooner than the schedule).
 */
export class DialBackoffTable {
  private readonly records = new Map<string, DialRecord>();

  constructor(private readonly maxEntries = 10_000) {}

  get(key: string): DialRecord | undefined {
    return this.records.get(key);
  }

  set(key: string, record: DialRecord): void {
    this.records.delete(key);
    this.records.set(key, record);
    while (this.records.size > this.maxEntries) {
      const oldest = this.records.keys().next().value as string;
      this.records.delete(oldest);
    }
  }

  delete(key: string): void {
    this.records.delete(key);
  }

  isBackingOff(key: string, nowMs: number): boolean {
    return decideDial(this.records.get(key), nowMs).kind === 'too-early';
  }

  get size(): number {
    return this.records.size;
  }
}
