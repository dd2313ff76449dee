/**
 * Randomness as a dependency. Core code never calls Math.random: it takes an Rng, so tests and
 * simulations replay exactly with a SeededRng. Key material (node keys, ephemeral keys, the
 * address book's hash key) comes from real entropy unless a test hands in fixed keys.
 */
import { randomBytes } from 'node:crypto';

export interface Rng {
  /** Uniform float in [0, 1). */
  float(): number;
  /** Uniform integer in [0, maxExclusive). `maxExclusive` must be a positive safe integer. */
  int(maxExclusive: number): number;
  /** `n` uniform random bytes. */
  bytes(n: number): Uint8Array;
  /** Shuffles `items` in place (Fisher–Yates) and returns it. */
  shuffle<T>(items: T[]): T[];
}

abstract class RngBase implements Rng {
  /** A uniform 32-bit unsigned integer. */
  protected abstract next32(): number;

  float(): number {
    // 53 random bits, like Math.random's resolution.
    const hi = this.next32() >>> 5; // 27 bits
    const lo = this.next32() >>> 6; // 26 bits
    return (hi * 67108864 + lo) / 9007199254740992;
  }

  int(maxExclusive: number): number {
    if (!(maxExclusive > 0) || !Number.isSafeInteger(maxExclusive)) {
      throw new RangeError(`Rng.int: maxExclusive must be a positive safe integer, got ${maxExclusive}`);
    }
    if (maxExclusive <= 0x100000000) {
      // Rejection sampling keeps the result unbiased.
      const limit = 0x100000000 - (0x100000000 % maxExclusive);
      for (;;) {
        const x = this.next32();
        if (x < limit) return x % maxExclusive;
      }
    }
    return Math.floor(this.float() * maxExclusive);
  }

  bytes(n: number): Uint8Array {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i += 4) {
      let x = this.next32();
      for (let j = i; j < Math.min(n, i + 4); j++) {
        out[j] = x & 0xff;
        x >>>= 8;
      }
    }
    return out;
  }

  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const tmp = items[i];
      items[i] = items[j];
      items[j] = tmp;
    }
    return items;
  }
}

/** splitmix32: spreads a seed over the generator's state words. */
function splitmix32(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  };
}

function hashSeed(seed: number | string): number {
  if (typeof seed === 'number') return (seed ^ Math.floor(seed / 0x100000000)) >>> 0;
  // FNV-1a over the UTF-16 code units.
  let h = 0x811c9dc5;
  for (let i = 0; i < seed.length; i++) {
    h ^= seed.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

/**
 * Deterministic generator (sfc32) for tests and simulations: the same seed always gives the same
 * sequence. Not for key material.
 */
export class SeededRng extends RngBase {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(seed: number | string = 1) {
    super();
    const mix = splitmix32(hashSeed(seed));
    this.a = mix();
    this.b = mix();
    this.c = mix();
    this.d = mix();
    for (let i = 0; i < 12; i++) this.next32();
  }

  /** An independent generator derived from this one (for giving each simulated node its own). */
  fork(): SeededRng {
    return new SeededRng(this.next32());
  }

  protected next32(): number {
    const t = (((this.a + this.b) >>> 0) + this.d) >>> 0;
    this.d = (this.d + 1) >>> 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) >>> 0;
    this.c = ((this.c << 21) | (this.c >>> 11)) >>> 0;
    this.c = (this.c + t) >>> 0;
    return t;
  }
}

/** Real entropy from the OS (node:crypto), read in blocks to keep per-call cost low. */
export class CryptoRng extends RngBase {
  private pool = new Uint32Array(0);
  private index = 0;

  protected next32(): number {
    if (this.index >= this.pool.length) {
      const buf = randomBytes(4096);
      this.pool = new Uint32Array(buf.buffer, buf.byteOffset, buf.byteLength / 4);
      this.index = 0;
    }
    return this.pool[this.index++];
  }

  override bytes(n: number): Uint8Array {
    return new Uint8Array(randomBytes(n));
  }
}

/** Shared default for components constructed without an Rng. */
export const cryptoRng: Rng = new CryptoRng();
