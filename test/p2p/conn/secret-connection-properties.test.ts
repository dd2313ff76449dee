/**
 * Properties of the receive path over arbitrary segmentation: whatever the split points of the
 * peer's sealed stream, the plaintext arrives intact and in order; any corrupted byte ends the
 * connection with ErrFrameAuthFailed and nothing but an intact prefix is delivered.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { once } from 'node:events';
import { createDuplexPair } from '../../../p2p/conn/duplex-pair.js';
import { SecretConnection } from '../../../p2p/conn/secret-connection.js';
import { ErrFrameAuthFailed } from '../../../p2p/conn/secret-connection-errors.js';
import { VirtualClock } from '../../../p2p/clock.js';
import { authSigBytes, identityFromSeed, scriptedKeyExchange, waitFor, type ScriptedPeer } from './secret-connection-helpers.js';

const me = identityFromSeed(Buffer.alloc(32, 5));
const peer = identityFromSeed(Buffer.alloc(32, 6));

async function session(): Promise<{ conn: SecretConnection; p: ScriptedPeer; evil: import('node:stream').Duplex }> {
  const [ours, evil] = createDuplexPair();
  const result = SecretConnection.handshake({ clock: new VirtualClock() }, ours, me);
  const p = await scriptedKeyExchange(evil);
  evil.write(p.sealFrame(authSigBytes({ ed25519: peer.publicKey }, peer.sign(p.challenge))));
  return { conn: await result, p, evil };
}

/** Seals messages the way a CometBFT writer does: each cut into chunks of at most 1024 bytes. */
function sealMessages(p: ScriptedPeer, messages: Buffer[]): Buffer {
  const frames: Buffer[] = [];
  for (const m of messages) for (let i = 0; i < m.length; i += 1024) frames.push(p.sealFrame(m.subarray(i, i + 1024)));
  return Buffer.concat(frames);
}

async function feed(evil: import('node:stream').Duplex, stream: Buffer, splits: number[]): Promise<void> {
  let at = 0;
  let k = 0;
  while (at < stream.length) {
    const n = splits.length > 0 ? splits[k++ % splits.length] : stream.length;
    evil.write(stream.subarray(at, at + n));
    at += n;
    if (k % 5 === 0) await new Promise((r) => setImmediate(r));
  }
}

const messagesArb = fc.array(fc.integer({ min: 1, max: 3000 }), { minLength: 1, maxLength: 12 }).map((sizes) =>
  sizes.map((n, i) => Buffer.alloc(n, (i * 37 + n) & 0xff)),
);

describe('SecretConnection receive path (properties)', () => {
  it('delivers the exact plaintext for any segmentation of the sealed stream', async () => {
    await fc.assert(
      fc.asyncProperty(messagesArb, fc.array(fc.integer({ min: 1, max: 2500 }), { maxLength: 8 }), async (messages, splits) => {
        const { conn, p, evil } = await session();
        const got: Buffer[] = [];
        conn.on('data', (c: Buffer) => got.push(c));
        const expected = Buffer.concat(messages);
        await feed(evil, sealMessages(p, messages), splits);
        await waitFor(() => Buffer.concat(got).length >= expected.length);
        expect(Buffer.concat(got).equals(expected)).toBe(true);
        conn.destroy();
      }),
      { numRuns: 40 },
    );
  });

  it('detects any corrupted byte, delivering only an intact prefix first', async () => {
    await fc.assert(
      fc.asyncProperty(messagesArb, fc.nat(), fc.integer({ min: 1, max: 255 }), async (messages, where, flip) => {
        const { conn, p, evil } = await session();
        const got: Buffer[] = [];
        conn.on('data', (c: Buffer) => got.push(c));
        const failed = once(conn, 'error') as Promise<[unknown]>;
        const stream = sealMessages(p, messages);
        const pos = where % stream.length;
        stream[pos] ^= flip;
        evil.write(stream);
        const [err] = await failed;
        expect(err).toBeInstanceOf(ErrFrameAuthFailed);
        const badFrame = Math.floor(pos / 1044);
        expect((err as ErrFrameAuthFailed).nonce).toBe(BigInt(badFrame + 1)); // frame 0 was the AuthSig
        // Every frame before the bad one is delivered (they arrived in the same chunk), nothing after.
        const chunkLengths = messages.flatMap((m) => Array.from({ length: Math.ceil(m.length / 1024) }, (_, i) => Math.min(1024, m.length - i * 1024)));
        const before = chunkLengths.slice(0, badFrame).reduce((a, b) => a + b, 0);
        const delivered = Buffer.concat(got);
        expect(delivered.equals(Buffer.concat(messages).subarray(0, before))).toBe(true);
      }),
      { numRuns: 40 },
    );
  });
});
