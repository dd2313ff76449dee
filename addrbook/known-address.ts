/**
 * One address-book entry: the address, where we heard of it, which buckets hold it, and its
 * dial history. Times are milliseconds since the epoch; ZERO_TIME_MS stands for Go's zero time
 * ("never"), so a clock that starts at 0 (VirtualClock) cannot be mistaken for "unset".
 */
import type { NetAddress } from '../p2p/net-address.js';
import {
  BUCKET_TYPE_NEW,
  BUCKET_TYPE_OLD,
  type BucketType,
  DAY_MS,
  FUTURE_TOLERANCE_MS,
  MAX_FAILURES,
  MIN_BAD_DAYS,
  NUM_MISSING_DAYS,
  NUM_RETRIES,
  RECENT_ATTEMPT_GRACE_MS,
} from './params.js';

/** 0001-01-01T00:00:00Z, Go's zero time.Time, in epoch milliseconds. */
export const ZERO_TIME_MS = -62135596800000;

export class KnownAddress {
  /** Bucket indices (of `bucketType`'s table) holding this entry, in the order they were added. */
  buckets: number[] = [];
  attempts = 0;
  bucketType: BucketType = BUCKET_TYPE_NEW;
  lastAttemptMs: number;
  lastSuccessMs = ZERO_TIME_MS;
  /** When the current or last ban ends. */
  lastBanTimeMs = ZERO_TIME_MS;
  /** Position in its table's dense entry list (for O(1) uniform picks and removal); -1 when in none. */
  listIndex = -1;
  /** Scratch counter of the invariant checker (slot occurrences); meaningless elsewhere. */
  checkCount = 0;
  /** 'id@ip:port', computed once (placement hashes it). */
  readonly key: string;

  constructor(
    readonly addr: NetAddress,
    readonly src: NetAddress,
    nowMs: number,
  ) {
    // A fresh entry counts as just attempted, as in CometBFT: it gets a grace period before it can
    // be judged terrible for never being tried.
    this.lastAttemptMs = nowMs;
    this.key = addr.toString();
  }

  get id(): string {
    return this.addr.id;
  }

  isNew(): boolean {
    return this.bucketType === BUCKET_TYPE_NEW;
  }

  isOld(): boolean {
    return this.bucketType === BUCKET_TYPE_OLD;
  }

  isBanned(nowMs: number): boolean {
    return this.lastBanTimeMs > nowMs;
  }

  markAttempt(nowMs: number): void {
    this.lastAttemptMs = nowMs;
    this.attempts++;
  }

  markGood(nowMs: number): void {
    this.lastAttemptMs = nowMs;
    this.lastSuccessMs = nowMs;
    this.attempts = 0;
  }

  /** Bans until now + banTimeMs; an existing longer ban is kept. */
  ban(nowMs: number, banTimeMs: number): void {
    this.lastBanTimeMs = Math.max(this.lastBanTimeMs, nowMs + banTimeMs);
  }

  /**
   * Whether this entry may be pushed out of a full new bucket. CometBFT's `isBad` rules, plus
   * Bitcoin Core's "timestamp from the future" rule. Old entries are never terrible here; the old
   * table has its own test-before-evict rule (`failedSinceSuccess`).
   */
  isTerrible(nowMs: number): boolean {
    if (this.lastAttemptMs > nowMs + FUTURE_TOLERANCE_MS || this.lastSuccessMs > nowMs + FUTURE_TOLERANCE_MS) return true;
    if (this.isOld()) return false;
    if (this.lastAttemptMs > nowMs - RECENT_ATTEMPT_GRACE_MS) return false;
    if (this.lastAttemptMs < nowMs - NUM_MISSING_DAYS * DAY_MS) return true;
    if (this.lastSuccessMs === ZERO_TIME_MS && this.attempts >= NUM_RETRIES) return true;
    if (this.lastSuccessMs < nowMs - MIN_BAD_DAYS * DAY_MS && this.attempts >= MAX_FAILURES) return true;
    return false;
  }

  /**
   * A time before which `isTerrible` cannot turn true unless the entry changes (a lower bound:
   * erring early only costs a rescan). Only meaningful for entries that are not terrible now.
   */
  terribleNotBeforeMs(): number {
    if (this.isOld()) return Number.POSITIVE_INFINITY;
    const graceEnd = this.lastAttemptMs + RECENT_ATTEMPT_GRACE_MS;
    let earliest = this.lastAttemptMs + NUM_MISSING_DAYS * DAY_MS;
    if (this.lastSuccessMs === ZERO_TIME_MS && this.attempts >= NUM_RETRIES) earliest = graceEnd;
    if (this.attempts >= MAX_FAILURES) earliest = Math.min(earliest, this.lastSuccessMs + MIN_BAD_DAYS * DAY_MS);
    return Math.max(graceEnd, earliest);
  }

  /**
   * The test half of test-before-evict: the entry was dialled after its last success and that
   * dial did not succeed (or its timestamps are impossible). Only such old entries make room.
   */
  failedSinceSuccess(nowMs: number): boolean {
    if (this.lastAttemptMs > nowMs + FUTURE_TOLERANCE_MS || this.lastSuccessMs > nowMs + FUTURE_TOLERANCE_MS) return true;
    return this.attempts > 0 && this.lastAttemptMs > this.lastSuccessMs;
  }
}
