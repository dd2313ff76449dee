/** The fast frame AEAD (libsodium) against the node:crypto reference, in both directions. */
import { describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { createFrameAead, createFrameAeadVariant, defaultFrameAeadKind, FRAME_PLAINTEXT_BYTES, FRAME_SEALED_BYTES, type FrameAeadVariant } from '../../../p2p/conn/frame-aead.js';
import { sodiumAeadDirect, sodiumBinding } from '../../../p2p/conn/sodium-binding.js';

function nonceFor(counter: bigint): Buffer {
  const n = Buffer.alloc(12);
  n.writeBigUInt64LE(counter, 4);
  return n;
}

const counters = [0n, 1n, 255n, 256n, 0xffffffffn, 0x1_0000_0000n, (1n << 64n) - 2n];

describe('frame AEAD', () => {
  it('the fast path is available here and is the default', () => {
    expect(sodiumBinding()).toBeDefined();
    expect(sodiumAeadDirect()).toBeDefined(); // the raw functions passed their self-test
    expect(defaultFrameAeadKind()).toBe('sodium-native');
  });

  const variants: FrameAeadVariant[] = ['sodium-direct', 'sodium-wrapper', 'node:crypto'];
  for (const [sealer, opener] of variants.flatMap((a) => variants.filter((b) => b !== a).map((b) => [a, b] as const))) {
    it(`frames sealed by ${sealer} open with ${opener} to the same plaintext, and the ciphertexts are identical`, () => {
      const key = randomBytes(32);
      const seal = createFrameAeadVariant(key, sealer);
      const open = createFrameAeadVariant(key, opener);
      const ref = createFrameAeadVariant(key, opener);
      for (const counter of counters) {
        const plain = randomBytes(FRAME_PLAINTEXT_BYTES);
        const a = Buffer.alloc(FRAME_SEALED_BYTES);
        plain.copy(a);
        seal.sealFrame(a, 0, nonceFor(counter));
        const b = Buffer.alloc(FRAME_SEALED_BYTES);
        plain.copy(b);
        ref.sealFrame(b, 0, nonceFor(counter));
        expect(a.equals(b)).toBe(true);
        const out = Buffer.alloc(FRAME_PLAINTEXT_BYTES + 10);
        expect(open.openFrameInto(a, 0, out, 10, nonceFor(counter))).toBe(true);
        expect(out.subarray(10).equals(plain)).toBe(true);
        // Wrong nonce, wrong key, any flipped bit: rejected.
        expect(open.openFrameInto(a, 0, out, 0, nonceFor(counter + 1n))).toBe(false);
        expect(createFrameAeadVariant(randomBytes(32), opener).openFrameInto(a, 0, out, 0, nonceFor(counter))).toBe(false);
        for (const bit of [0, 1027 * 8 + 7, 1028 * 8, 1043 * 8 + 7]) {
          const t = Buffer.from(a);
          t[bit >> 3] ^= 1 << (bit & 7);
          expect(open.openFrameInto(t, 0, out, 0, nonceFor(counter))).toBe(false);
        }
      }
    });
  }

  for (const kind of variants) {
    it(`${kind}: works at an offset inside a larger buffer and never modifies the sealed input`, () => {
      const key = randomBytes(32);
      const aead = createFrameAeadVariant(key, kind);
      const buf = Buffer.alloc(3 * FRAME_SEALED_BYTES);
      const plain = randomBytes(FRAME_PLAINTEXT_BYTES);
      plain.copy(buf, FRAME_SEALED_BYTES);
      aead.sealFrame(buf, FRAME_SEALED_BYTES, nonceFor(5n));
      expect(buf.subarray(0, FRAME_SEALED_BYTES).every((x) => x === 0)).toBe(true);
      expect(buf.subarray(2 * FRAME_SEALED_BYTES).every((x) => x === 0)).toBe(true);
      const before = Buffer.from(buf);
      const out = Buffer.alloc(FRAME_PLAINTEXT_BYTES);
      expect(aead.openFrameInto(buf, FRAME_SEALED_BYTES, out, 0, nonceFor(5n))).toBe(true);
      expect(out.equals(plain)).toBe(true);
      expect(buf.equals(before)).toBe(true);
    });
  }

  it('rejects keys that are not 32 bytes', () => {
    expect(() => createFrameAead(new Uint8Array(31), 'node:crypto')).toThrow(RangeError);
    expect(() => createFrameAead(new Uint8Array(33), 'sodium-native')).toThrow(RangeError);
  });
});
