import { describe, expect, it } from 'vitest';
import { CryptoRng, SeededRng } from '../../p2p/rng.js';

describe('SeededRng', () => {
  it('replays the same sequence for the same seed and differs for another', () => {
    const a = new SeededRng(42);
    const b = new SeededRng(42);
    const c = new SeededRng('other');
    const seqA = Array.from({ length: 20 }, () => a.int(1_000_000));
    const seqB = Array.from({ length: 20 }, () => b.int(1_000_000));
    const seqC = Array.from({ length: 20 }, () => c.int(1_000_000));
    expect(seqA).toEqual(seqB);
    expect(seqA).not.toEqual(seqC);
  });

  it('produces floats in [0, 1) and unbiased-looking ints', () => {
    const rng = new SeededRng(7);
    const counts = new Array(10).fill(0);
    for (let i = 0; i < 100_000; i++) {
      const f = rng.float();
      expect(f >= 0 && f < 1).toBe(true);
      counts[rng.int(10)]++;
    }
    for (const n of counts) expect(Math.abs(n - 10_000)).toBeLessThan(600);
  });

  it('shuffles into a permutation and rejects a bad bound', () => {
    const rng = new SeededRng(3);
    const xs = rng.shuffle(Array.from({ length: 50 }, (_, i) => i));
    expect([...xs].sort((p, q) => p - q)).toEqual(Array.from({ length: 50 }, (_, i) => i));
    expect(() => rng.int(0)).toThrow(RangeError);
  });

  it('forks independent deterministic generators', () => {
    const x = new SeededRng(9).fork();
    const y = new SeededRng(9).fork();
    expect(x.bytes(16)).toEqual(y.bytes(16));
  });
});

describe('CryptoRng', () => {
  it('gives values in range and distinct byte strings', () => {
    const rng = new CryptoRng();
    for (let i = 0; i < 10_000; i++) expect(rng.int(7)).toBeLessThan(7);
    expect(Buffer.from(rng.bytes(32)).equals(Buffer.from(rng.bytes(32)))).toBe(false);
  });
});
