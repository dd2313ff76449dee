/**
 * Address-book constants (CometBFT's params.go values where they carry over) and the table layout,
 * which is an option so the eclipse experiment can measure alternatives against the same code.
 */

/** `needMoreAddrs()` is true while the book holds fewer entries than this. */
export const NEED_ADDRESS_THRESHOLD = 1000;
/** Period of the background save (only when something changed). */
export const DUMP_ADDRESS_INTERVAL_MS = 2 * 60 * 1000;

/** A new entry is "terrible" once it was not attempted for this long... */
export const NUM_MISSING_DAYS = 7;
/** ...or never succeeded after this many attempts... */
export const NUM_RETRIES = 3;
/** ...or failed this many times with no success in `MIN_BAD_DAYS`. */
export const MAX_FAILURES = 10;
export const MIN_BAD_DAYS = 7;
/** An entry attempted within this window is never terrible (it is being tried right now). */
export const RECENT_ATTEMPT_GRACE_MS = 60 * 1000;
/** A timestamp further than this in the future marks the entry terrible (clock skew or forgery). */
export const FUTURE_TOLERANCE_MS = 10 * 60 * 1000;
export const DAY_MS = 24 * 60 * 60 * 1000;
/**
 * Most bans the book keeps at once. Bans of addresses the book never stored (markBad on a peer it
 * did not know) are not bounded by the tables, so the list is: past this, the ban that ends
 * soonest is dropped. Ours: CometBFT only bans stored entries.
 */
export const MAX_BANNED_ENTRIES = 10_000;

/** getSelection: max(min(MIN, size), size * PERCENT / 100), capped at MAX. */
export const GET_SELECTION_PERCENT = 23;
export const MIN_GET_SELECTION = 32;
export const MAX_GET_SELECTION = 250;

export const BUCKET_TYPE_NEW = 1;
export const BUCKET_TYPE_OLD = 2;
export type BucketType = typeof BUCKET_TYPE_NEW | typeof BUCKET_TYPE_OLD;

/** Where a new reference goes inside its bucket. */
export type SlotPolicy =
  /** Any free slot of the bucket (first free). */
  | 'any-free'
  /** One slot chosen by the keyed hash of (bucket, address), as Bitcoin Core's addrman does. */
  | 'hashed';

/** What happens when the slot/bucket a new reference needs is taken. */
export type FullBucketPolicy =
  /** The incumbent stays unless it is terrible; otherwise the newcomer is refused (our default). */
  | 'keep-unless-terrible'
  /** CometBFT: drop a terrible entry, else the one with the oldest last attempt. Experiments only. */
  | 'evict-oldest';

/** How pickAddress chooses an entry once it has chosen the new or the old table. */
export type PickWithin =
  /** Uniformly over the table's entries (each address once, however many buckets it sits in). */
  | 'entry'
  /** CometBFT: a random non-empty bucket, then a random entry in it. */
  | 'bucket'
  /** Bitcoin Core: random (bucket, slot) pairs until an occupied one (entries weigh by references). */
  | 'slot';

export interface AddrBookLayout {
  /** Number of new buckets. Default 256 (CometBFT's). */
  newBucketCount: number;
  /** Number of old buckets. Default 64 (CometBFT's). */
  oldBucketCount: number;
  /** Entries per bucket, enforced strictly (CometBFT lets a bucket reach size + 1). Default 64. */
  bucketSize: number;
  /** New buckets one source group can reach. Default 32. */
  newBucketsPerGroup: number;
  /** Old buckets one address group can reach. Default 4. */
  oldBucketsPerGroup: number;
  /** New buckets one address may sit in at once. Default 4. */
  maxNewBucketsPerAddress: number;
  slotPolicy: SlotPolicy;
  fullBucketPolicy: FullBucketPolicy;
  pickWithin: PickWithin;
}

/** The design chosen with ECLIPSE-FLOOD; spec/addrbook.md has the measurements behind it. */
export const DEFAULT_LAYOUT: Readonly<AddrBookLayout> = Object.freeze({
  newBucketCount: 256,
  oldBucketCount: 64,
  bucketSize: 64,
  newBucketsPerGroup: 32,
  oldBucketsPerGroup: 4,
  maxNewBucketsPerAddress: 4,
  slotPolicy: 'any-free',
  fullBucketPolicy: 'keep-unless-terrible',
  pickWithin: 'entry',
});
