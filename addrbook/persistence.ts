/**
 * addrbook.json codec, in CometBFT's shape: `{ "key": "<24 hex>", "addrs": [entry...] }`, each
 * entry `{ addr, src, buckets, attempts, bucket_type, last_attempt, last_success, last_ban_time }`,
 * tab-indented like Go's MarshalIndent, no trailing newline. We add one key CometBFT's decoder
 * ignores: `"banned"` (same entry shape, empty `buckets`), written only when bans exist, so bans
 * survive a restart and a CometBFT node can still read our file.
 */
import type { KnownAddress } from './known-address.js';
import { BUCKET_TYPE_NEW, BUCKET_TYPE_OLD } from './params.js';
import { formatTime, parseTime } from './time-format.js';
import { ErrAddrBookFileCorrupt } from './errors.js';

export const BOOK_KEY_PATTERN = /^[0-9a-f]{24}$/;

export interface RawAddr {
  id: string;
  ip: string;
  port: number;
}

export interface RawEntry {
  addr: RawAddr;
  src: RawAddr;
  buckets: number[];
  attempts: number;
  bucketType: number;
  lastAttemptMs: number;
  lastSuccessMs: number;
  lastBanTimeMs: number;
}

export interface DecodedBook {
  key: string;
  addrs: RawEntry[];
  banned: RawEntry[];
  /** Entries that could not be read, with why (the rest of the file still loads). */
  invalid: { list: 'addrs' | 'banned'; index: number; reason: string }[];
}

/**
 * The document as Go's MarshalIndent (tab) writes it. V8's JSON.stringify beats hand-built strings
 * here (measured: about 3x at 20 000 entries), so we let it do the layout. The book saves through
 * book-snapshot.ts (a frozen copy encoded in slices); this one-piece form is the reference its
 * output is tested against.
 */
export function encodeBook(key: string, addrs: readonly KnownAddress[], banned: readonly KnownAddress[]): string {
  const entry = (ka: KnownAddress, withBuckets: boolean): object => ({
    addr: ka.addr.toProto(),
    src: ka.src.toProto(),
    buckets: withBuckets ? ka.buckets : [],
    attempts: ka.attempts,
    bucket_type: ka.bucketType,
    last_attempt: formatTime(ka.lastAttemptMs),
    last_success: formatTime(ka.lastSuccessMs),
    last_ban_time: formatTime(ka.lastBanTimeMs),
  });
  const doc: Record<string, unknown> = { key, addrs: addrs.map((ka) => entry(ka, true)) };
  if (banned.length > 0) doc.banned = banned.map((ka) => entry(ka, false));
  return JSON.stringify(doc, null, '\t');
}

export function decodeBook(text: string, filePath: string): DecodedBook {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new ErrAddrBookFileCorrupt(filePath, `not JSON (${(err as Error).message})`);
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) {
    throw new ErrAddrBookFileCorrupt(filePath, 'the top level is not a JSON object');
  }
  const top = doc as Record<string, unknown>;
  if (typeof top.key !== 'string' || !BOOK_KEY_PATTERN.test(top.key)) {
    throw new ErrAddrBookFileCorrupt(filePath, '"key" must be 24 lowercase hex characters');
  }
  const out: DecodedBook = { key: top.key, addrs: [], banned: [], invalid: [] };
  for (const list of ['addrs', 'banned'] as const) {
    const items = top[list];
    if (items === undefined || items === null) {
      if (list === 'addrs' && items === undefined) throw new ErrAddrBookFileCorrupt(filePath, '"addrs" is missing');
      continue;
    }
    if (!Array.isArray(items)) throw new ErrAddrBookFileCorrupt(filePath, `"${list}" must be an array`);
    items.forEach((item, index) => {
      try {
        out[list].push(decodeEntry(item));
      } catch (err) {
        out.invalid.push({ list, index, reason: (err as Error).message });
      }
    });
  }
  return out;
}

function decodeAddr(v: unknown, field: string): RawAddr {
  if (typeof v !== 'object' || v === null) throw new TypeError(`${field} must be an object`);
  const o = v as Record<string, unknown>;
  if (typeof o.id !== 'string') throw new TypeError(`${field}.id must be a string`);
  if (typeof o.ip !== 'string') throw new TypeError(`${field}.ip must be a string`);
  if (typeof o.port !== 'number' || !Number.isInteger(o.port)) throw new TypeError(`${field}.port must be an integer`);
  // The parsed object itself (checked above), not a copy: loading a full book reads 40 000 of these.
  return o as unknown as RawAddr;
}

function decodeEntry(v: unknown): RawEntry {
  if (typeof v !== 'object' || v === null) throw new TypeError('entry must be an object');
  const o = v as Record<string, unknown>;
  const buckets = o.buckets ?? [];
  if (!Array.isArray(buckets) || !buckets.every((b) => Number.isInteger(b) && b >= 0)) {
    throw new TypeError('buckets must be a list of non-negative integers');
  }
  const attempts = o.attempts ?? 0;
  if (typeof attempts !== 'number' || !Number.isInteger(attempts) || attempts < 0 || attempts > 0x7fffffff) {
    throw new TypeError('attempts must be a non-negative 32-bit integer');
  }
  if (o.bucket_type !== BUCKET_TYPE_NEW && o.bucket_type !== BUCKET_TYPE_OLD) {
    throw new TypeError(`bucket_type must be 1 (new) or 2 (old), got ${JSON.stringify(o.bucket_type)}`);
  }
  return {
    addr: decodeAddr(o.addr, 'addr'),
    src: decodeAddr(o.src, 'src'),
    buckets: buckets as number[],
    attempts,
    bucketType: o.bucket_type,
    lastAttemptMs: parseTime(o.last_attempt),
    lastSuccessMs: parseTime(o.last_success),
    lastBanTimeMs: parseTime(o.last_ban_time),
  };
}
