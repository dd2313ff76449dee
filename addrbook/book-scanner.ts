/**
 * A fast reader for addrbook.json in the shape encodeBook and CometBFT write it, straight from the
 * file's bytes. JSON.parse builds the whole document as objects (an object per entry, per address,
 * a string per timestamp: ~10 objects an entry) that all live until the load ends; at 20 000
 * entries that tree dominates the load through garbage collection. This scanner walks the bytes
 * once and allocates only what the book keeps (IDs, IPs, bucket lists) plus one small record per
 * entry.
 *
 * It is deliberately narrow. It returns undefined as soon as the bytes hold anything outside that
 * shape: escapes, control or non-ASCII characters inside strings, unknown, repeated or missing
 * keys, a null, a number that is not a plain non-negative integer, an entry decodeBook would call
 * invalid, trailing text. The caller then runs decodeBook on the text, which accepts and judges
 * everything. So whatever it accepts, it decodes exactly as decodeBook does (a property test
 * compares both on saved books and on mutated ones).
 */
import { BUCKET_TYPE_NEW, BUCKET_TYPE_OLD } from './params.js';
import { BOOK_KEY_PATTERN, type DecodedBook, type RawAddr, type RawEntry } from './persistence.js';
import { parseTime } from './time-format.js';

/** Thrown inside the scanner to give up; never escapes scanBook. */
class Bail {}
const BAIL = new Bail();

const QUOTE = 0x22;
const COMMA = 0x2c;
const COLON = 0x3a;
const LBRACE = 0x7b;
const RBRACE = 0x7d;
const LBRACKET = 0x5b;
const RBRACKET = 0x5d;
const BACKSLASH = 0x5c;
/** Integers up to 15 digits are exact in a double (larger ones go to JSON.parse). */
const MAX_INT_DIGITS = 15;

const ENTRY_KEYS = ['addr', 'src', 'buckets', 'attempts', 'bucket_type', 'last_attempt', 'last_success', 'last_ban_time'] as const;
const ADDR_KEYS = ['id', 'ip', 'port'] as const;
const TOP_KEYS = ['key', 'addrs', 'banned'] as const;

/** The decoded book, or undefined when the bytes need the general decoder. */
export function scanBook(bytes: Uint8Array): DecodedBook | undefined {
  try {
    return new Scanner(bytes).book();
  } catch (err) {
    if (err === BAIL) return undefined;
    throw err;
  }
}

class Scanner {
  private i = 0;
  /** Bounds of the last string read (its content, without the quotes). */
  private strStart = 0;
  private strEnd = 0;
  private readonly buf: Buffer;

  constructor(private readonly b: Uint8Array) {
    this.buf = Buffer.isBuffer(b) ? b : Buffer.from(b.buffer, b.byteOffset, b.byteLength);
  }

  /** The last string read. Accepted strings are ASCII, so latin1 gives exactly JSON.parse's string. */
  private text(): string {
    return this.buf.toString('latin1', this.strStart, this.strEnd);
  }

  book(): DecodedBook {
    let key: string | undefined;
    let addrs: RawEntry[] | undefined;
    let banned: RawEntry[] | undefined;
    let seen = 0;
    let more = this.openObject();
    while (more) {
      const k = this.nextKey(TOP_KEYS, seen);
      seen |= 1 << k;
      if (k === 0) {
        this.string();
        key = this.text();
        if (!BOOK_KEY_PATTERN.test(key)) throw BAIL;
      } else if (k === 1) addrs = this.entries();
      else banned = this.entries();
      more = !this.commaOr(RBRACE);
    }
    this.ws();
    if (this.i !== this.b.length || key === undefined || addrs === undefined) throw BAIL;
    return { key, addrs, banned: banned ?? [], invalid: [] };
  }

  private entries(): RawEntry[] {
    const out: RawEntry[] = [];
    this.expect(LBRACKET);
    if (this.peek() === RBRACKET) {
      this.i++;
      return out;
    }
    do out.push(this.entry());
    while (!this.commaOr(RBRACKET));
    return out;
  }

  private entry(): RawEntry {
    let addr: RawAddr | undefined;
    let src: RawAddr | undefined;
    let buckets: number[] | undefined;
    let attempts = 0;
    let bucketType = 0;
    let lastAttemptMs = 0;
    let lastSuccessMs = 0;
    let lastBanTimeMs = 0;
    let seen = 0;
    let more = this.openObject();
    while (more) {
      const k = this.nextKey(ENTRY_KEYS, seen);
      seen |= 1 << k;
      switch (k) {
        case 0:
          addr = this.addr();
          break;
        case 1:
          src = this.addr();
          break;
        case 2:
          buckets = this.intList();
          break;
        case 3:
          attempts = this.int();
          if (attempts > 0x7fffffff) throw BAIL;
          break;
        case 4:
          bucketType = this.int();
          if (bucketType !== BUCKET_TYPE_NEW && bucketType !== BUCKET_TYPE_OLD) throw BAIL;
          break;
        case 5:
          lastAttemptMs = this.time();
          break;
        case 6:
          lastSuccessMs = this.time();
          break;
        default:
          lastBanTimeMs = this.time();
      }
      more = !this.commaOr(RBRACE);
    }
    if (seen !== (1 << ENTRY_KEYS.length) - 1) throw BAIL;
    return { addr: addr!, src: src!, buckets: buckets!, attempts, bucketType, lastAttemptMs, lastSuccessMs, lastBanTimeMs };
  }

  private addr(): RawAddr {
    let id = '';
    let ip = '';
    let port = 0;
    let seen = 0;
    let more = this.openObject();
    while (more) {
      const k = this.nextKey(ADDR_KEYS, seen);
      seen |= 1 << k;
      if (k === 2) port = this.int();
      else {
        this.string();
        if (k === 0) id = this.text();
        else ip = this.text();
      }
      more = !this.commaOr(RBRACE);
    }
    if (seen !== 0b111) throw BAIL;
    return { id, ip, port };
  }

  private time(): number {
    this.string();
    const fast = parseUtcBytes(this.b, this.strStart, this.strEnd);
    if (fast === fast) return fast; // not NaN
    try {
      return parseTime(this.text());
    } catch {
      throw BAIL;
    }
  }

  /** Consumes `{`; returns whether a key follows (false for `{}`, whose `}` is consumed too). */
  private openObject(): boolean {
    this.expect(LBRACE);
    if (this.peek() !== RBRACE) return true;
    this.i++;
    return false;
  }

  /** Reads `"key":` and returns its index in `keys`; an unknown key or one in `seen` bails. */
  private nextKey(keys: readonly string[], seen: number): number {
    this.string();
    const k = this.keyIndex(keys);
    if (k < 0 || (seen & (1 << k)) !== 0) throw BAIL;
    this.expect(COLON);
    return k;
  }

  /** Which of `keys` the last string is (compared in place, no string built), or -1. */
  private keyIndex(keys: readonly string[]): number {
    const b = this.b;
    const from = this.strStart;
    const len = this.strEnd - from;
    for (let k = 0; k < keys.length; k++) {
      const key = keys[k];
      if (key.length !== len) continue;
      let j = 0;
      while (j < len && b[from + j] === key.charCodeAt(j)) j++;
      if (j === len) return k;
    }
    return -1;
  }

  /** A string without escapes, control characters or non-ASCII; sets strStart/strEnd. */
  private string(): void {
    this.expect(QUOTE);
    const b = this.b;
    const n = b.length;
    const start = this.i;
    let i = start;
    let c = 0;
    while (i < n && (c = b[i]) !== QUOTE) {
      if (c === BACKSLASH || c < 0x20 || c >= 0x80) throw BAIL;
      i++;
    }
    if (i >= n) throw BAIL;
    this.strStart = start;
    this.strEnd = i;
    this.i = i + 1;
  }

  /** A non-negative integer in JSON's form (no leading zeros), up to 15 digits. */
  private int(): number {
    this.ws();
    const b = this.b;
    const n = b.length;
    const start = this.i;
    let i = start;
    let v = 0;
    let c = 0;
    while (i < n && (c = b[i] - 0x30) >= 0 && c <= 9) {
      v = v * 10 + c;
      i++;
    }
    const digits = i - start;
    if (digits === 0 || digits > MAX_INT_DIGITS || (digits > 1 && b[start] === 0x30)) throw BAIL;
    // A fraction or exponent would follow directly; the caller's ',' / '}' check catches it.
    this.i = i;
    return v;
  }

  private intList(): number[] {
    const out: number[] = [];
    this.expect(LBRACKET);
    if (this.peek() === RBRACKET) {
      this.i++;
      return out;
    }
    do out.push(this.int());
    while (!this.commaOr(RBRACKET));
    return out;
  }

  /** After a value: true at the closing `close`, false after a comma; anything else bails. */
  private commaOr(close: number): boolean {
    const c = this.peek();
    this.i++;
    if (c === COMMA) return false;
    if (c === close) return true;
    throw BAIL;
  }

  private expect(c: number): void {
    if (this.peek() !== c) throw BAIL;
    this.i++;
  }

  /** The next byte after JSON whitespace (-1 at the end), not consumed. */
  private peek(): number {
    this.ws();
    return this.i < this.b.length ? this.b[this.i] : -1;
  }

  private ws(): void {
    const b = this.b;
    const n = b.length;
    let i = this.i;
    let c = 0;
    while (i < n && ((c = b[i]) === 0x09 || c === 0x0a || c === 0x20 || c === 0x0d)) i++;
    this.i = i;
  }
}

/** Two or four decimal digits at b[at..], or -1 when any is not a digit. */
function digits(b: Uint8Array, at: number, len: number): number {
  let v = 0;
  for (let k = 0; k < len; k++) {
    const c = b[at + k] - 0x30;
    if (c < 0 || c > 9) return -1;
    v = v * 10 + c;
  }
  return v;
}

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/**
 * The common time shape 'YYYY-MM-DDTHH:MM:SS[.f...]Z' (years 1000-9999) read from bytes, without
 * building a string; NaN for anything else (the caller then uses parseTime, which also knows Go's
 * zero time and offsets). Same rules as parseTime: milliseconds kept, finer digits dropped.
 */
function parseUtcBytes(b: Uint8Array, from: number, to: number): number {
  const n = to - from;
  if (n < 20 || b[to - 1] !== 0x5a /* Z */ || b[from + 4] !== 0x2d || b[from + 7] !== 0x2d || b[from + 10] !== 0x54 || b[from + 13] !== 0x3a || b[from + 16] !== 0x3a) {
    return NaN;
  }
  const year = digits(b, from, 4);
  const month = digits(b, from + 5, 2);
  const day = digits(b, from + 8, 2);
  const hour = digits(b, from + 11, 2);
  const minute = digits(b, from + 14, 2);
  const second = digits(b, from + 17, 2);
  let ms = 0;
  if (n > 20) {
    const fracDigits = n - 21;
    if (b[from + 19] !== 0x2e /* . */ || fracDigits < 1 || fracDigits > 9 || digits(b, from + 20, fracDigits) < 0) return NaN;
    ms = digits(b, from + 20, Math.min(3, fracDigits)) * (fracDigits >= 3 ? 1 : fracDigits === 2 ? 10 : 100);
  }
  if (year < 1000 || month < 1 || month > 12 || day < 1 || hour < 0 || hour > 23 || minute < 0 || minute > 59 || second < 0 || second > 59) return NaN;
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  if (day > (month === 2 && leap ? 29 : DAYS_IN_MONTH[month - 1])) return NaN;
  return Date.UTC(year, month - 1, day, hour, minute, second, ms);
}
