/**
 * A frozen copy of the book for saving, and its encoding in slices.
 *
 * Saving a full book (20 000 entries, about 9 MB of text) in one go blocks the event loop for
 * tens of milliseconds of encoding alone. A periodic save therefore copies what the file needs
 * into flat arrays in one synchronous step (the consistent view at one instant: about 1 ms at full
 * tables) and encodes that copy a slice of entries at a time, the file writes in between giving
 * the event loop back. Later changes to the live book do not reach the copy: the entries' mutable
 * fields are copied, and the NetAddress objects it keeps are immutable.
 *
 * The text is byte-identical to `encodeBook` (JSON.stringify with a tab indent, Go's
 * MarshalIndent layout); the tests check that on random books.
 */
import type { NetAddress } from '../p2p/net-address.js';
import type { KnownAddress } from './known-address.js';
import { formatTime } from './time-format.js';

export interface BookSnapshot {
  readonly key: string;
  /** Entries in total; the first `addrCount` are stored entries, the rest bans. */
  readonly count: number;
  readonly addrCount: number;
  readonly addr: readonly NetAddress[];
  readonly src: readonly NetAddress[];
  readonly attempts: Float64Array;
  readonly bucketType: Uint8Array;
  /** last_attempt, last_success, last_ban_time of entry i at 3i, 3i+1, 3i+2. */
  readonly times: Float64Array;
  /** Buckets of entry i are buckets[bucketStart[i] .. bucketStart[i+1]) (empty for bans). */
  readonly bucketStart: Int32Array;
  readonly buckets: Int32Array;
}

/**
 * Copies what the file needs from the live entries (stored entries first, then bans). One tight
 * loop over arrays (about 1.5 ms for 20 000 entries on the 2-vCPU machine; iterating the Map
 * directly or per-entry objects measured 2-5x slower).
 */
export function takeSnapshot(key: string, addrs: readonly KnownAddress[], banned: readonly KnownAddress[]): BookSnapshot {
  const addrCount = addrs.length;
  const count = addrCount + banned.length;
  const addr: NetAddress[] = [];
  const src: NetAddress[] = [];
  const attempts = new Float64Array(count);
  const bucketType = new Uint8Array(count);
  const times = new Float64Array(3 * count);
  const bucketStart = new Int32Array(count + 1);
  let totalBuckets = 0;
  for (let i = 0; i < addrCount; i++) totalBuckets += addrs[i].buckets.length;
  const buckets = new Int32Array(totalBuckets);
  let nb = 0;
  for (let i = 0; i < count; i++) {
    const stored = i < addrCount;
    const ka = stored ? addrs[i] : banned[i - addrCount];
    addr.push(ka.addr);
    src.push(ka.src);
    attempts[i] = ka.attempts;
    bucketType[i] = ka.bucketType;
    const t = 3 * i;
    times[t] = ka.lastAttemptMs;
    times[t + 1] = ka.lastSuccessMs;
    times[t + 2] = ka.lastBanTimeMs;
    bucketStart[i] = nb;
    // Bans are written with no buckets (they are in none).
    if (stored) {
      const bs = ka.buckets;
      for (let j = 0; j < bs.length; j++) buckets[nb++] = bs[j];
    }
  }
  bucketStart[count] = nb;
  return { key, count, addrCount, addr, src, attempts, bucketType, times, bucketStart, buckets };
}

const str = (s: string): string => JSON.stringify(s);

/** Entry i as the object JSON.stringify lays out; key order is the file's. */
function entryObject(s: BookSnapshot, i: number): object {
  const a = s.addr[i];
  const b = s.src[i];
  return {
    addr: { id: a.id, ip: a.ip, port: a.port },
    src: { id: b.id, ip: b.ip, port: b.port },
    buckets: Array.from(s.buckets.subarray(s.bucketStart[i], s.bucketStart[i + 1])),
    attempts: s.attempts[i],
    bucket_type: s.bucketType[i],
    last_attempt: formatTime(s.times[3 * i]),
    last_success: formatTime(s.times[3 * i + 1]),
    last_ban_time: formatTime(s.times[3 * i + 2]),
  };
}

/**
 * Entries from..to-1 as they appear inside the document's lists (two tabs deep, comma-separated).
 * V8's JSON.stringify lays them out about 3x faster than string building (measured), so we let it:
 * wrapped in two arrays, the entries sit exactly two levels deep, and the wrapping
 * ("[\n\t[\n" ... "\n\t]\n]", 5 characters each side) is cut off.
 */
function entriesText(s: BookSnapshot, from: number, to: number): string {
  const objs: object[] = new Array(to - from);
  for (let i = from; i < to; i++) objs[i - from] = entryObject(s, i);
  const text = JSON.stringify([objs], null, '\t');
  return text.slice(5, text.length - 5);
}

/**
 * The file's text in consecutive pieces, each covering at most `entriesPerSlice` entries; joined,
 * they are exactly `encodeBook`'s output for the same book. Lazy: each piece is encoded when asked.
 */
export function* encodeSnapshotSlices(s: BookSnapshot, entriesPerSlice: number): Generator<string> {
  const per = Math.max(1, Math.floor(entriesPerSlice));
  // Text not yielded yet: each piece starts with it.
  let pending = `{\n\t"key": ${str(s.key)},\n\t"addrs": `;
  const lists: [number, number][] = [[0, s.addrCount]];
  // "banned" is written only when bans exist (CometBFT's decoder ignores it).
  if (s.count > s.addrCount) lists.push([s.addrCount, s.count]);
  for (let l = 0; l < lists.length; l++) {
    const [from, to] = lists[l];
    if (l === 1) pending += ',\n\t"banned": ';
    if (from === to) {
      pending += '[]';
      continue;
    }
    pending += '[';
    for (let start = from; start < to; start += per) {
      const end = Math.min(to, start + per);
      const text = pending + (start === from ? '\n' : ',\n') + entriesText(s, start, end);
      pending = '';
      yield end === to ? text + '\n\t]' : text;
    }
  }
  yield pending + '\n}';
}

/** The whole text at once (the synchronous save). */
export function encodeSnapshot(s: BookSnapshot): string {
  let text = '';
  for (const piece of encodeSnapshotSlices(s, s.count + 1)) text += piece;
  return text;
}
