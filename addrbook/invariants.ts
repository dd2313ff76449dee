/**
 * The address book's structural invariants, checked in full. Used by the property tests after
 * every operation and by the load benchmark; cheap enough (linear) to run on a full book.
 */
import type { BucketTable } from './bucket-table.js';
import type { KnownAddress } from './known-address.js';
import { ErrAddrBookInvariant } from './errors.js';
import type { AddrBookLayout } from './params.js';

export interface BookView {
  byId: ReadonlyMap<string, KnownAddress>;
  banned: ReadonlyMap<string, KnownAddress>;
  newTable: BucketTable;
  oldTable: BucketTable;
  layout: Readonly<AddrBookLayout>;
  /** The hashed slot of an address in a bucket (checked under the 'hashed' slot policy). */
  slotOf(type: number, bucket: number, key: string): number;
}

export function checkBookInvariants(v: BookView): void {
  const fail = (msg: string): never => {
    throw new ErrAddrBookInvariant(msg);
  };
  // Slot occurrences are counted on the entries themselves (a Map of 20 000 would dominate the cost).
  for (const ka of v.byId.values()) ka.checkCount = 0;
  for (const table of [v.newTable, v.oldTable]) {
    const name = table === v.newTable ? 'new' : 'old';
    // Slots: each occupant is a stored entry of this table that lists this bucket. Counting every
    // occurrence lets the per-entry pass below prove "exactly once per listed bucket".
    for (let b = 0; b < table.bucketCount; b++) {
      let occupied = 0;
      for (let s = 0; s < table.bucketSize; s++) {
        const ka = table.at(b, s);
        if (ka === undefined) continue;
        occupied++;
        ka.checkCount++;
        if (v.byId.get(ka.id) !== ka) fail(`${ka.key} in ${name} bucket ${b} is not in the index`);
        if (ka.bucketType !== table.type) fail(`${ka.key} has bucket type ${ka.bucketType} but sits in the ${name} table`);
        if (!ka.buckets.includes(b)) fail(`${ka.key} sits in ${name} bucket ${b} but does not list it`);
        if (v.layout.slotPolicy === 'hashed' && v.slotOf(table.type, b, ka.key) !== s) fail(`${ka.key} is not at its hashed slot in ${name} bucket ${b}`);
      }
      if (occupied !== table.counts[b]) fail(`${name} bucket ${b} counts ${table.counts[b]} but holds ${occupied}`);
      if (occupied > table.bucketSize) fail(`${name} bucket ${b} holds ${occupied} > ${table.bucketSize}`);
    }
    // Dense list: distinct, self-indexed, of this table.
    table.entries.forEach((ka, i) => {
      if (ka.listIndex !== i) fail(`${ka.key} has listIndex ${ka.listIndex} but stands at ${i} of the ${name} list`);
      if (ka.bucketType !== table.type) fail(`${ka.key} is listed in the ${name} table with type ${ka.bucketType}`);
    });
  }
  let nNew = 0;
  let nOld = 0;
  for (const [id, ka] of v.byId) {
    if (ka.id !== id) fail(`index key ${id} holds ${ka.key}`);
    if (v.banned.has(id)) fail(`${ka.key} is both stored and banned`);
    if (ka.buckets.length === 0) fail(`${ka.key} is in no bucket`);
    if (hasDuplicate(ka.buckets)) fail(`${ka.key} lists a bucket twice: ${ka.buckets.join(',')}`);
    const table = ka.isOld() ? v.oldTable : v.newTable;
    if (ka.isOld()) {
      nOld++;
      if (ka.buckets.length !== 1) fail(`old entry ${ka.key} is in ${ka.buckets.length} buckets`);
    } else {
      nNew++;
      if (ka.buckets.length > v.layout.maxNewBucketsPerAddress) fail(`${ka.key} is in ${ka.buckets.length} new buckets`);
    }
    for (const b of ka.buckets) {
      if (b < 0 || b >= table.bucketCount) fail(`${ka.key} lists bucket ${b} outside its table`);
    }
    // Each slot occurrence names a listed bucket (checked above), buckets are listed once, and the
    // occurrences equal the listed buckets: so the entry sits exactly once in each listed bucket.
    if (ka.checkCount !== ka.buckets.length) fail(`${ka.key} lists ${ka.buckets.length} buckets but occupies ${ka.checkCount} slots`);
    if (table.entries[ka.listIndex] !== ka) fail(`${ka.key} is missing from its table's list`);
    if (ka.attempts < 0 || !Number.isInteger(ka.attempts)) fail(`${ka.key} has attempts ${ka.attempts}`);
  }
  if (nNew !== v.newTable.entries.length) fail(`${nNew} new entries indexed but ${v.newTable.entries.length} listed`);
  if (nOld !== v.oldTable.entries.length) fail(`${nOld} old entries indexed but ${v.oldTable.entries.length} listed`);
  for (const [id, ka] of v.banned) {
    if (ka.id !== id) fail(`ban key ${id} holds ${ka.key}`);
    if (ka.buckets.length !== 0) fail(`banned ${ka.key} still lists buckets`);
    if (ka.listIndex !== -1) fail(`banned ${ka.key} is still listed in a table`);
  }
}

/** Whether a short list (an entry's few buckets) holds a value twice; no allocation. */
function hasDuplicate(list: readonly number[]): boolean {
  for (let i = 1; i < list.length; i++) for (let j = 0; j < i; j++) if (list[i] === list[j]) return true;
  return false;
}
