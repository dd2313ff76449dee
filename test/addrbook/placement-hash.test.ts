import { describe, expect, it } from 'vitest';
import { PlacementHasher, SipHash24 } from '../../addrbook/placement-hash.js';

const key = Uint8Array.from({ length: 16 }, (_, i) => i);
const hex = (s: SipHash24) => s.hi.toString(16).padStart(8, '0') + s.lo.toString(16).padStart(8, '0');

describe('SipHash-2-4', () => {
  it('matches the reference vectors (key 00..0f)', () => {
    const s = new SipHash24(key);
    // From the SipHash paper, appendix A: message 00..0e.
    s.hash(Uint8Array.from({ length: 15 }, (_, i) => i));
    expect(hex(s)).toBe('a129ca6149be45e5');
    // vectors.h of the reference implementation: empty message, 8 bytes (one full block + tail).
    s.hash(new Uint8Array(0));
    expect(hex(s)).toBe('726fdb47dd0e0e31');
    s.hash(Uint8Array.from({ length: 8 }, (_, i) => i));
    expect(hex(s)).toBe('93f5f5799a932462');
  });
  it('mod is exact for 64-bit values', () => {
    const s = new SipHash24(key);
    s.hash(new Uint8Array(0));
    const big = (BigInt(s.hi) << 32n) | BigInt(s.lo);
    for (const n of [1, 4, 32, 64, 256, 1000, 65535, 1 << 20]) expect(s.mod(n)).toBe(Number(big % BigInt(n)));
  });
});

describe('PlacementHasher', () => {
  const h = new PlacementHasher('0123456789abcdef01234567');
  it('is deterministic per key and differs between keys', () => {
    const other = new PlacementHasher('76543210fedcba9876543210');
    const a: number[] = [];
    const b: number[] = [];
    for (let i = 0; i < 50; i++) {
      a.push(h.newBucket(`${i}.1.0.0`, '9.9.0.0', 32, 256));
      b.push(other.newBucket(`${i}.1.0.0`, '9.9.0.0', 32, 256));
    }
    expect(a).toEqual(Array.from({ length: 50 }, (_, i) => h.newBucket(`${i}.1.0.0`, '9.9.0.0', 32, 256)));
    expect(a).not.toEqual(b);
  });
  it('one source group reaches at most newBucketsPerGroup new buckets', () => {
    const buckets = new Set<number>();
    for (let i = 0; i < 5000; i++) buckets.add(h.newBucket(`${i & 255}.${i >> 8}.0.0`, '9.9.0.0', 32, 256));
    expect(buckets.size).toBeLessThanOrEqual(32);
    expect(buckets.size).toBeGreaterThan(20);
  });
  it('one address group reaches at most oldBucketsPerGroup old buckets', () => {
    const buckets = new Set<number>();
    for (let i = 0; i < 2000; i++) buckets.add(h.oldBucket(`${i.toString(16).padStart(40, '0')}@9.9.1.1:26656`, '9.9.0.0', 4, 64));
    expect(buckets.size).toBeLessThanOrEqual(4);
  });
  it('spreads sources over all buckets', () => {
    const buckets = new Set<number>();
    for (let s = 0; s < 200; s++) for (let a = 0; a < 40; a++) buckets.add(h.newBucket(`${a}.1.0.0`, `${s}.2.0.0`, 32, 256));
    expect(buckets.size).toBe(256);
  });
});
