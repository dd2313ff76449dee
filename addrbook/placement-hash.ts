/**
 * Keyed 64-bit hash for bucket placement: SipHash-2-4, written over 32-bit halves so it needs
 * neither BigInt nor allocation per call. The key is secret (derived from the book's key), so an
 * attacker cannot aim addresses at chosen buckets. Nothing on the wire depends on this hash;
 * CometBFT uses HighwayHash with a per-process key, we derive ours from the saved book key so
 * bucket numbers are reproducible across restarts.
 */
import { createHash } from 'node:crypto';

/** SipHash constants "somepseudorandomlygeneratedbytes" as (hi, lo) halves. */
const C0H = 0x736f6d65, C0L = 0x70736575;
const C1H = 0x646f7261, C1L = 0x6e646f6d;
const C2H = 0x6c796765, C2L = 0x6e657261;
const C3H = 0x74656462, C3L = 0x79746573;

export class SipHash24 {
  private readonly k0h: number;
  private readonly k0l: number;
  private readonly k1h: number;
  private readonly k1l: number;
  // State v0..v3 as 32-bit halves; fields rather than locals so the round can be a method.
  private v0h = 0; private v0l = 0; private v1h = 0; private v1l = 0;
  private v2h = 0; private v2l = 0; private v3h = 0; private v3l = 0;
  /** High and low 32 bits of the last digest. */
  hi = 0;
  lo = 0;

  constructor(key: Uint8Array) {
    if (key.length !== 16) throw new RangeError(`SipHash key must be 16 bytes, got ${key.length}`);
    this.k0l = le32(key, 0); this.k0h = le32(key, 4);
    this.k1l = le32(key, 8); this.k1h = le32(key, 12);
  }

  /** Hashes `data[0..length)`; the result is in `hi`/`lo`. */
  hash(data: Uint8Array, length = data.length): void {
    this.v0h = (this.k0h ^ C0H) >>> 0; this.v0l = (this.k0l ^ C0L) >>> 0;
    this.v1h = (this.k1h ^ C1H) >>> 0; this.v1l = (this.k1l ^ C1L) >>> 0;
    this.v2h = (this.k0h ^ C2H) >>> 0; this.v2l = (this.k0l ^ C2L) >>> 0;
    this.v3h = (this.k1h ^ C3H) >>> 0; this.v3l = (this.k1l ^ C3L) >>> 0;
    const full = length - (length % 8);
    let i = 0;
    for (; i < full; i += 8) this.block(le32(data, i + 4), le32(data, i));
    // Last block: remaining bytes little-endian, length mod 256 in the top byte.
    let mh = ((length & 0xff) << 24) >>> 0;
    let ml = 0;
    const rem = length - full;
    for (let j = 0; j < rem; j++) {
      const b = data[i + j];
      if (j < 4) ml = (ml | (b << (8 * j))) >>> 0;
      else mh = (mh | (b << (8 * (j - 4)))) >>> 0;
    }
    this.block(mh, ml);
    this.v2l = (this.v2l ^ 0xff) >>> 0;
    this.round(); this.round(); this.round(); this.round();
    this.hi = (this.v0h ^ this.v1h ^ this.v2h ^ this.v3h) >>> 0;
    this.lo = (this.v0l ^ this.v1l ^ this.v2l ^ this.v3l) >>> 0;
  }

  /** The last digest modulo `n` (n < 2^21 keeps the arithmetic exact in doubles). */
  mod(n: number): number {
    return ((this.hi % n) * 4294967296 + this.lo) % n;
  }

  private block(mh: number, ml: number): void {
    this.v3h = (this.v3h ^ mh) >>> 0; this.v3l = (this.v3l ^ ml) >>> 0;
    this.round(); this.round();
    this.v0h = (this.v0h ^ mh) >>> 0; this.v0l = (this.v0l ^ ml) >>> 0;
  }

  private round(): void {
    let v0h = this.v0h, v0l = this.v0l, v1h = this.v1h, v1l = this.v1l;
    let v2h = this.v2h, v2l = this.v2l, v3h = this.v3h, v3l = this.v3l;
    let l: number, h: number, t: number;
    // v0 += v1; v1 = rotl(v1, 13); v1 ^= v0; v0 = rotl(v0, 32)
    l = (v0l + v1l) >>> 0; v0h = (v0h + v1h + (l < v0l ? 1 : 0)) >>> 0; v0l = l;
    h = ((v1h << 13) | (v1l >>> 19)) >>> 0; l = ((v1l << 13) | (v1h >>> 19)) >>> 0;
    v1h = (h ^ v0h) >>> 0; v1l = (l ^ v0l) >>> 0;
    t = v0h; v0h = v0l; v0l = t;
    // v2 += v3; v3 = rotl(v3, 16); v3 ^= v2
    l = (v2l + v3l) >>> 0; v2h = (v2h + v3h + (l < v2l ? 1 : 0)) >>> 0; v2l = l;
    h = ((v3h << 16) | (v3l >>> 16)) >>> 0; l = ((v3l << 16) | (v3h >>> 16)) >>> 0;
    v3h = (h ^ v2h) >>> 0; v3l = (l ^ v2l) >>> 0;
    // v0 += v3; v3 = rotl(v3, 21); v3 ^= v0
    l = (v0l + v3l) >>> 0; v0h = (v0h + v3h + (l < v0l ? 1 : 0)) >>> 0; v0l = l;
    h = ((v3h << 21) | (v3l >>> 11)) >>> 0; l = ((v3l << 21) | (v3h >>> 11)) >>> 0;
    v3h = (h ^ v0h) >>> 0; v3l = (l ^ v0l) >>> 0;
    // v2 += v1; v1 = rotl(v1, 17); v1 ^= v2; v2 = rotl(v2, 32)
    l = (v2l + v1l) >>> 0; v2h = (v2h + v1h + (l < v2l ? 1 : 0)) >>> 0; v2l = l;
    h = ((v1h << 17) | (v1l >>> 15)) >>> 0; l = ((v1l << 17) | (v1h >>> 15)) >>> 0;
    v1h = (h ^ v2h) >>> 0; v1l = (l ^ v2l) >>> 0;
    t = v2h; v2h = v2l; v2l = t;
    this.v0h = v0h; this.v0l = v0l; this.v1h = v1h; this.v1l = v1l;
    this.v2h = v2h; this.v2l = v2l; this.v3h = v3h; this.v3l = v3l;
  }
}

function le32(b: Uint8Array, i: number): number {
  return (b[i] | (b[i + 1] << 8) | (b[i + 2] << 16) | (b[i + 3] << 24)) >>> 0;
}

/** Domain tags keep the different placement questions from colliding with each other. */
export const enum PlacementTag {
  NewGroupSpread = 1,
  NewBucket = 2,
  OldGroupSpread = 3,
  OldBucket = 4,
  Slot = 5,
}

/**
 * Placement questions over the keyed hash: which bucket an (address, source) pair goes to, which
 * slot inside it. Inputs are ASCII strings (group keys, 'id@ip:port') written into a reused buffer,
 * separated by a zero byte (group keys never contain one).
 */
export class PlacementHasher {
  private readonly sip: SipHash24;
  private buf = new Uint8Array(256);
  private len = 0;

  /** `bookKey` is the 24-hex key saved in addrbook.json. */
  constructor(bookKey: string) {
    const digest = createHash('sha256').update('switchyard/addrbook/placement/v1\0').update(bookKey).digest();
    this.sip = new SipHash24(new Uint8Array(digest.subarray(0, 16)));
  }

  /** New bucket for an address group heard from a source group: a source group reaches at most `perGroup` buckets. */
  newBucket(addrGroup: string, srcGroup: string, perGroup: number, bucketCount: number): number {
    this.start(PlacementTag.NewGroupSpread).str(addrGroup).byte(0).str(srcGroup);
    const k = this.digestMod(perGroup);
    this.start(PlacementTag.NewBucket).str(srcGroup).byte(0).u32(k);
    return this.digestMod(bucketCount);
  }

  /** Old bucket for an address ('id@ip:port'): one address group reaches at most `perGroup` buckets. */
  oldBucket(addrKey: string, addrGroup: string, perGroup: number, bucketCount: number): number {
    this.start(PlacementTag.OldGroupSpread).str(addrKey);
    const k = this.digestMod(perGroup);
    this.start(PlacementTag.OldBucket).str(addrGroup).byte(0).u32(k);
    return this.digestMod(bucketCount);
  }

  /** The fixed slot of an address inside a bucket (for the 'hashed' slot policy). */
  slot(bucketType: number, bucket: number, addrKey: string, bucketSize: number): number {
    this.start(PlacementTag.Slot).byte(bucketType).u32(bucket).str(addrKey);
    return this.digestMod(bucketSize);
  }

  private start(tag: PlacementTag): this {
    this.len = 0;
    return this.byte(tag);
  }

  private byte(b: number): this {
    this.ensure(1);
    this.buf[this.len++] = b & 0xff;
    return this;
  }

  private u32(x: number): this {
    this.ensure(4);
    this.buf[this.len++] = x >>> 24;
    this.buf[this.len++] = (x >>> 16) & 0xff;
    this.buf[this.len++] = (x >>> 8) & 0xff;
    this.buf[this.len++] = x & 0xff;
    return this;
  }

  private str(s: string): this {
    this.ensure(s.length);
    // Inputs are ASCII (hex IDs, IP literals, group keys); the low byte of a code unit suffices.
    for (let i = 0; i < s.length; i++) this.buf[this.len++] = s.charCodeAt(i) & 0xff;
    return this;
  }

  private ensure(extra: number): void {
    if (this.len + extra <= this.buf.length) return;
    const bigger = new Uint8Array(Math.max(this.buf.length * 2, this.len + extra));
    bigger.set(this.buf.subarray(0, this.len));
    this.buf = bigger;
  }

  private digestMod(n: number): number {
    this.sip.hash(this.buf, this.len);
    return this.sip.mod(n);
  }
}
