/**
 * One table (new or old) of fixed-size buckets, stored as a flat slot array, plus a dense list of
 * the distinct entries it holds so uniform picks and selections cost O(1) per entry.
 */
import type { KnownAddress } from './known-address.js';
import type { BucketType } from './params.js';

export class BucketTable {
  /** slots[bucket * bucketSize + slot]; undefined = free. */
  readonly slots: (KnownAddress | undefined)[];
  /** Occupied slots per bucket. */
  readonly counts: Int32Array;
  /** Distinct entries of this table, each with `listIndex` pointing at itself. */
  readonly entries: KnownAddress[] = [];
  /**
   * Per bucket: before this time no occupant can be terrible, so a full bucket need not be scanned
   * for a victim (a flood against full buckets would otherwise scan 64 entries per announcement).
   * Reset to 0 whenever the bucket's content or an occupant's dial history changes.
   */
  readonly noVictimBeforeMs: Float64Array;

  constructor(
    readonly type: BucketType,
    readonly bucketCount: number,
    readonly bucketSize: number,
  ) {
    this.slots = new Array<KnownAddress | undefined>(bucketCount * bucketSize).fill(undefined);
    this.counts = new Int32Array(bucketCount);
    this.noVictimBeforeMs = new Float64Array(bucketCount);
  }

  isFull(bucket: number): boolean {
    return this.counts[bucket] >= this.bucketSize;
  }

  at(bucket: number, slot: number): KnownAddress | undefined {
    return this.slots[bucket * this.bucketSize + slot];
  }

  /** The first free slot of `bucket`, or -1 when it is full. */
  freeSlot(bucket: number): number {
    if (this.counts[bucket] >= this.bucketSize) return -1;
    const base = bucket * this.bucketSize;
    for (let s = 0; s < this.bucketSize; s++) if (this.slots[base + s] === undefined) return s;
    return -1;
  }

  /** The slot of `bucket` holding `ka`, or -1. */
  slotOf(bucket: number, ka: KnownAddress): number {
    const base = bucket * this.bucketSize;
    for (let s = 0; s < this.bucketSize; s++) if (this.slots[base + s] === ka) return s;
    return -1;
  }

  /** Occupants of `bucket` (a fresh array). */
  occupants(bucket: number): KnownAddress[] {
    const out: KnownAddress[] = [];
    const base = bucket * this.bucketSize;
    for (let s = 0; s < this.bucketSize; s++) {
      const ka = this.slots[base + s];
      if (ka !== undefined) out.push(ka);
    }
    return out;
  }

  /** Puts `ka` into a free `slot` of `bucket` and records the bucket on the entry. */
  place(bucket: number, slot: number, ka: KnownAddress): void {
    const i = bucket * this.bucketSize + slot;
    if (this.slots[i] !== undefined) throw new Error(`BucketTable.place: slot ${bucket}/${slot} is taken`);
    this.slots[i] = ka;
    this.counts[bucket]++;
    this.noVictimBeforeMs[bucket] = 0;
    ka.buckets.push(bucket);
    if (ka.buckets.length === 1) {
      ka.listIndex = this.entries.length;
      this.entries.push(ka);
    }
  }

  /** Takes `ka` out of `bucket`; leaving its last bucket takes it out of the table's list too. */
  unplace(bucket: number, ka: KnownAddress): void {
    const slot = this.slotOf(bucket, ka);
    if (slot >= 0) {
      this.slots[bucket * this.bucketSize + slot] = undefined;
      this.counts[bucket]--;
      this.noVictimBeforeMs[bucket] = 0;
    }
    const at = ka.buckets.indexOf(bucket);
    if (at >= 0) ka.buckets.splice(at, 1);
    if (ka.buckets.length === 0) this.dropFromList(ka);
  }

  /** Takes `ka` out of every bucket of this table. */
  unplaceAll(ka: KnownAddress): void {
    for (const bucket of [...ka.buckets]) this.unplace(bucket, ka);
  }

  /** Empties the table. */
  clear(): void {
    this.slots.fill(undefined);
    this.counts.fill(0);
    this.noVictimBeforeMs.fill(0);
    for (const ka of this.entries) ka.listIndex = -1;
    this.entries.length = 0;
  }

  private dropFromList(ka: KnownAddress): void {
    const i = ka.listIndex;
    if (i < 0 || this.entries[i] !== ka) return;
    const last = this.entries.pop()!;
    if (last !== ka) {
      this.entries[i] = last;
      last.listIndex = i;
    }
    ka.listIndex = -1;
  }
}
