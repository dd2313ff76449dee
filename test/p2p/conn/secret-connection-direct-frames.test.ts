/**
 * SecretConnection.writeFrames (MConnection's bulk path: bytes laid out in frame slots with
 * copyIntoFrames, sealed where they lie) against write() of the same bytes: identical frames on
 * the wire, over real TCP on 127.0.0.1 with fixed keys so both runs encrypt identically.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { Server } from 'node:net';
import fc from 'fast-check';
import { rawTcpPair } from './secret-connection-helpers.js';
import { VirtualClock } from '../../../p2p/clock.js';
import { NodeKey } from '../../../p2p/node-key.js';
import { SecretConnection } from '../../../p2p/conn/secret-connection.js';
import { copyIntoFrames, FRAME_DATA_MAX_BYTES, FRAME_LENGTH_FIELD_BYTES, FRAME_SEALED_BYTES } from '../../../p2p/conn/frame-aead.js';

const servers: Server[] = [];
afterEach(() => {
  for (const s of servers.splice(0)) s.close();
});

/** Reads the data regions of `frames` slots back as one stream. */
function dataOf(buf: Uint8Array, bytes: number): Uint8Array {
  const out = new Uint8Array(bytes);
  for (let pos = 0; pos < bytes; pos += FRAME_DATA_MAX_BYTES) {
    const at = (pos / FRAME_DATA_MAX_BYTES) * FRAME_SEALED_BYTES + FRAME_LENGTH_FIELD_BYTES;
    out.set(buf.subarray(at, at + Math.min(FRAME_DATA_MAX_BYTES, bytes - pos)), pos);
  }
  return out;
}

function pattern(n: number, seed: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + seed * 7 + (i >> 10)) & 0xff;
  return b;
}

/** Sends `payloads` over a fresh fixed-key connection; returns the bytes A wrote to its socket after the handshake and what B decrypted. */
async function run(payloads: Uint8Array[], direct: boolean): Promise<{ wire: Buffer; plain: Buffer }> {
  const [rawA, rawB] = await rawTcpPair(servers);
  const clock = new VirtualClock();
  const wire: Buffer[] = [];
  const [a, b] = await Promise.all([
    SecretConnection.handshake({ clock }, rawA, NodeKey.fromSeed(new Uint8Array(32).fill(1)), { ephemeralPrivateKey: new Uint8Array(32).fill(3) }),
    SecretConnection.handshake({ clock }, rawB, NodeKey.fromSeed(new Uint8Array(32).fill(2)), { ephemeralPrivateKey: new Uint8Array(32).fill(4) }),
  ]);
  // Everything A hands its socket after the handshake (a copy: the buffers are reused).
  const write = rawA.write.bind(rawA) as (chunk: Uint8Array, cb?: (err?: Error | null) => void) => boolean;
  (rawA as unknown as { write: typeof write }).write = (chunk, cb) => {
    wire.push(Buffer.from(chunk));
    return write(chunk, cb);
  };
  const plain: Buffer[] = [];
  b.on('data', (c: Buffer) => plain.push(Buffer.from(c)));
  let expected = 0;
  for (const p of payloads) {
    expected += Math.ceil(p.length / FRAME_DATA_MAX_BYTES) * FRAME_SEALED_BYTES;
    if (direct) {
      expect(a.directWritable).toBe(true);
      const sb = a.takeFrameBuffer();
      // Laid out in uneven pieces, as packet headers and data are.
      let pos = 0;
      for (let s = 0; s < p.length; ) {
        const e = Math.min(p.length, s + (s % 3 === 0 ? 7 : 1500));
        pos = copyIntoFrames(sb.buf, pos, p, s, e);
        s = e;
      }
      expect(pos).toBe(p.length);
      const done = new Promise<void>((resolve, reject) => a.writeFrames(sb, p.length, (err) => (err ? reject(err) : resolve())));
      await done;
    } else {
      await new Promise<void>((resolve, reject) => a.write(p, (err) => (err ? reject(err) : resolve())));
    }
  }
  const deadline = Date.now() + 10_000;
  const total = payloads.reduce((n, p) => n + p.length, 0);
  while (plain.reduce((n, c) => n + c.length, 0) < total && Date.now() < deadline) await new Promise((r) => setImmediate(r));
  expect(wire.reduce((n, c) => n + c.length, 0)).toBe(expected);
  a.destroy();
  b.destroy();
  return { wire: Buffer.concat(wire), plain: Buffer.concat(plain) };
}

describe('SecretConnection direct frame writes', () => {
  it('copyIntoFrames lays any pieces out as one stream across frame data regions', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 3000 }), { maxLength: 40 }), fc.integer({ min: 0, max: 255 }), (sizes, seed) => {
        const total = Math.min(sizes.reduce((n, s) => n + s, 0), 256 * FRAME_DATA_MAX_BYTES);
        const src = pattern(total, seed);
        const out = new Uint8Array(256 * FRAME_SEALED_BYTES).fill(0xee);
        let pos = 0;
        for (const s of sizes) {
          const e = Math.min(total, pos + s);
          expect(copyIntoFrames(out, pos, src, pos, e)).toBe(e);
          pos = e;
        }
        expect(Buffer.from(dataOf(out, total)).equals(Buffer.from(src))).toBe(true);
        // Length fields and tags are never touched.
        for (let f = 0; f < 256; f++) expect(out[f * FRAME_SEALED_BYTES]).toBe(0xee);
      }),
      { numRuns: 60 },
    );
  });

  it('puts exactly the frames of write() on the wire, for full, partial and empty last frames', async () => {
    const payloads = [pattern(256 * 1024, 1), pattern(70_001, 2), pattern(1024, 3), pattern(5, 4), pattern(100_000, 5)];
    const viaWrite = await run(payloads, false);
    const viaFrames = await run(payloads, true);
    expect(viaFrames.wire.length).toBe(viaWrite.wire.length);
    expect(viaFrames.wire.equals(viaWrite.wire)).toBe(true);
    expect(viaFrames.plain.equals(Buffer.concat(payloads.map((p) => Buffer.from(p))))).toBe(true);
  });

  it('refuses buffers and sizes it cannot seal, and direct writes once the stream is ending', async () => {
    const [rawA, rawB] = await rawTcpPair(servers);
    const clock = new VirtualClock();
    const [a, b] = await Promise.all([
      SecretConnection.handshake({ clock }, rawA, NodeKey.fromSeed(new Uint8Array(32).fill(1))),
      SecretConnection.handshake({ clock }, rawB, NodeKey.fromSeed(new Uint8Array(32).fill(2))),
    ]);
    const sb = a.takeFrameBuffer();
    expect(() => a.writeFrames(sb, 256 * 1024 + 1, () => {})).toThrow(RangeError);
    a.cork();
    expect(a.directWritable).toBe(false);
    a.uncork();
    a.end();
    expect(a.directWritable).toBe(false);
    expect(() => a.writeFrames(sb, 10, () => {})).toThrow(/directWritable/);
    a.destroy();
    b.destroy();
  });
});
