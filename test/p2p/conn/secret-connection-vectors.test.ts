/**
 * SecretConnection against bytes from CometBFT: the HKDF golden file, the derived handshake
 * vector (checked against Go v0.38.25) and byte-for-byte replays of the Go-recorded conversation
 * and packet_split streams.
 */
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { createDuplexPair } from '../../../p2p/conn/duplex-pair.js';
import { encodeDelimited } from '../../../p2p/conn/delimited.js';
import { createFrameAead, FRAME_PLAINTEXT_BYTES, FRAME_SEALED_BYTES, type FrameAeadKind } from '../../../p2p/conn/frame-aead.js';
import {
  computeChallenge,
  deriveSecrets,
  generateEphemeralKeyPair,
  sortEphemeralKeys,
  verifyEd25519,
  x25519SharedSecret,
  type HandshakeCryptoBackend,
} from '../../../p2p/conn/handshake-crypto.js';
import { SecretConnection } from '../../../p2p/conn/secret-connection.js';
import { VirtualClock } from '../../../p2p/clock.js';
import { switchyard } from '../../../p2p/proto/gen/wire.js';
import {
  collect,
  handshakeVector,
  hex,
  identityFromSeed,
  readBytes,
  readVectorJson,
  unhex,
  VECTORS_DIR,
  waitFor,
  type RecordedKeys,
  type RecordedSegment,
  type RecordedStream,
} from './secret-connection-helpers.js';

const BACKENDS: HandshakeCryptoBackend[] = ['sodium-native', 'node:crypto'];
const AEADS: FrameAeadKind[] = ['sodium-native', 'node:crypto'];

describe('HKDF key split: TestDeriveSecretsAndChallengeGolden.golden', () => {
  const lines = readFileSync(VECTORS_DIR + 'TestDeriveSecretsAndChallengeGolden.golden', 'utf8').split('\n').filter((l) => l.length > 0);

  it('has 32 lines of 5 fields', () => {
    expect(lines.length).toBe(32);
    for (const l of lines) expect(l.split(',').length).toBe(5);
  });

  for (const backend of ['sodium-native', 'node:crypto'] as const) {
    it(`derives every recv/send key (and the legacy third block) with ${backend}`, () => {
      for (const line of lines) {
        const [dh, least, recv, send, legacy] = line.split(',');
        const out = deriveSecrets(unhex(dh), least === 'true', backend);
        expect(hex(out.recvKey)).toBe(recv);
        expect(hex(out.sendKey)).toBe(send);
        expect(hex(out.okm.subarray(64, 96))).toBe(legacy);
      }
    });
  }
});

describe('derived-secret-connection-handshake.json, step by step', () => {
  const v = handshakeVector();
  for (const [name, side, other] of [
    ['A', v.side_A, v.side_B],
    ['B', v.side_B, v.side_A],
  ] as const) {
    for (const backend of BACKENDS) {
      it(`side ${name}: keys, DH, HKDF, challenge (${backend})`, () => {
        const eph = generateEphemeralKeyPair(unhex(side.ephemeral_x25519_private), backend);
        expect(hex(eph.publicKey)).toBe(side.ephemeral_x25519_public);
        const wire = encodeDelimited(switchyard.p2p.BytesValue.encode({ value: eph.publicKey }).finish());
        expect(hex(wire)).toBe(side.wire_ephemeral_key_msg_length_delimited);
        expect(wire.length).toBe(35);
        const { lo, hi, localIsLeast } = sortEphemeralKeys(eph.publicKey, unhex(other.ephemeral_x25519_public));
        expect(hex(lo)).toBe(side.sorted_lo);
        expect(hex(hi)).toBe(side.sorted_hi);
        expect(localIsLeast).toBe(side.loc_is_least);
        const dh = x25519SharedSecret(eph.privateKey, unhex(other.ephemeral_x25519_public), backend)!;
        expect(hex(dh)).toBe(side.dh_secret);
        const keys = deriveSecrets(dh, localIsLeast);
        expect(hex(keys.okm)).toBe(side.hkdf_output_96);
        expect(hex(keys.recvKey)).toBe(side.recv_key);
        expect(hex(keys.sendKey)).toBe(side.send_key);
        expect(hex(computeChallenge(lo, hi, dh))).toBe(side.challenge);
      });
    }

    it(`side ${name}: signature, AuthSigMessage and first sealed frame (both AEADs)`, () => {
      const id = identityFromSeed(unhex(side.ed25519_seed));
      expect(hex(id.publicKey)).toBe(side.ed25519_pubkey);
      const sig = id.sign(unhex(side.challenge));
      expect(hex(sig)).toBe(side.challenge_signature);
      for (const backend of BACKENDS) expect(verifyEd25519(id.publicKey, unhex(side.challenge), sig, backend)).toBe(true);
      const authSig = encodeDelimited(switchyard.p2p.AuthSigMessage.encode({ pubKey: { ed25519: id.publicKey }, sig }).finish());
      expect(hex(authSig)).toBe(side.auth_sig_message_length_delimited);
      expect(authSig.length).toBe(103);
      const frame = Buffer.alloc(FRAME_SEALED_BYTES);
      frame.writeUInt32LE(authSig.length, 0);
      authSig.copy(frame, 4);
      expect(hex(frame.subarray(0, FRAME_PLAINTEXT_BYTES))).toBe(side.first_frame_plaintext_1028_zero_padded);
      for (const kind of AEADS) {
        const f = Buffer.from(frame);
        createFrameAead(unhex(side.send_key), kind).sealFrame(f, 0, Buffer.alloc(12));
        expect(hex(f)).toBe(side.first_frame_sealed_1044_nonce0);
      }
    });
  }

  it('a full handshake with the fixed keys writes exactly the vector bytes on both sides', async () => {
    const clock = new VirtualClock();
    const [rawA, rawB] = createDuplexPair();
    const wiredA: Buffer[] = [];
    const wiredB: Buffer[] = [];
    const origWriteA = rawA.write.bind(rawA);
    const origWriteB = rawB.write.bind(rawB);
    rawA.write = ((c: Buffer, ...rest: never[]) => (wiredA.push(Buffer.from(c)), origWriteA(c, ...rest))) as typeof rawA.write;
    rawB.write = ((c: Buffer, ...rest: never[]) => (wiredB.push(Buffer.from(c)), origWriteB(c, ...rest))) as typeof rawB.write;
    const [a, b] = await Promise.all([
      SecretConnection.handshake({ clock }, rawA, identityFromSeed(unhex(v.side_A.ed25519_seed)), { ephemeralPrivateKey: unhex(v.side_A.ephemeral_x25519_private) }),
      SecretConnection.handshake({ clock }, rawB, identityFromSeed(unhex(v.side_B.ed25519_seed)), { ephemeralPrivateKey: unhex(v.side_B.ephemeral_x25519_private) }),
    ]);
    expect(hex(Buffer.concat(wiredA))).toBe(v.side_A.wire_ephemeral_key_msg_length_delimited + v.side_A.first_frame_sealed_1044_nonce0);
    expect(hex(Buffer.concat(wiredB))).toBe(v.side_B.wire_ephemeral_key_msg_length_delimited + v.side_B.first_frame_sealed_1044_nonce0);
    expect(hex(a.remotePubKey)).toBe(v.side_B.ed25519_pubkey);
    expect(a.remoteNodeId).toBe(v.side_B.node_id);
    expect(hex(b.remotePubKey)).toBe(v.side_A.ed25519_pubkey);
    expect(b.remoteNodeId).toBe(v.side_A.node_id);
    expect(clock.pendingTimers()).toBe(0);
    a.destroy();
    b.destroy();
  });
});

interface GoVectors {
  conversation: { keys_A: RecordedKeys; keys_B: RecordedKeys; stream_A_to_B: RecordedStream; stream_B_to_A: RecordedStream };
  packet_split: {
    raw_stream_hex: string;
    raw_stream_length: number;
    secret_connection: { mconn_write_sizes_into_secret_connection: number[]; stream_A_to_B: RecordedStream };
  };
}

const go = readVectorJson<GoVectors>('go-generated-vectors.json');

/**
 * Checks one frame we sealed against the frame Go recorded. Frames whose Go padding is zero must
 * match byte for byte; for frames whose Go padding holds stale bytes, the ciphertext depends on
 * those, so we compare the decrypted length field and data and check our padding is zero.
 */
function expectSameFrame(ours: Buffer, recorded: RecordedSegment, sendKeyHex: string): void {
  expect(ours.length).toBe(FRAME_SEALED_BYTES);
  if (!recorded.padding_has_nonzero_stale_bytes) {
    expect(hex(ours)).toBe(recorded.hex);
    return;
  }
  const nonce = Buffer.alloc(12);
  nonce.writeUInt32LE(recorded.nonce!, 4);
  const plain = Buffer.alloc(FRAME_PLAINTEXT_BYTES);
  expect(createFrameAead(unhex(sendKeyHex), 'node:crypto').openFrameInto(ours, 0, plain, 0, nonce)).toBe(true);
  const used = 4 + recorded.chunk_length!;
  expect(hex(plain.subarray(0, used))).toBe(recorded.plaintext_frame_hex!.slice(0, used * 2));
  expect(plain.subarray(used).every((x) => x === 0)).toBe(true);
  expect(hex(ours)).not.toBe(recorded.hex); // the stale Go padding really changes the ciphertext
}

type Side = 'A' | 'B';

/**
 * Plays side `me` with its recorded keys against the other side's recorded byte stream, fed in
 * pieces of `feedChunk` bytes (Infinity = all at once). Returns our connection, the bytes we
 * wrote, and the plaintext we received.
 */
async function replay(me: Side, peerStream: RecordedStream, feedChunk: number, aead: FrameAeadKind): Promise<{ conn: SecretConnection; wrote: () => Buffer; received: Buffer }> {
  const keys = me === 'A' ? go.conversation.keys_A : go.conversation.keys_B;
  const [ours, script] = createDuplexPair();
  const wrote = collect(script);
  const peerBytes = unhex(peerStream.hex);
  const feeding = (async () => {
    for (let i = 0; i < peerBytes.length; i += feedChunk) {
      script.write(peerBytes.subarray(i, Math.min(peerBytes.length, i + feedChunk)));
      await new Promise((r) => setImmediate(r));
    }
  })();
  const conn = await SecretConnection.handshake({ clock: new VirtualClock() }, ours, identityFromSeed(unhex(keys.ed25519_seed)), {
    ephemeralPrivateKey: unhex(keys.ephemeral_x25519_private),
    aead,
  });
  await feeding;
  const dataSegments = peerStream.segments.slice(2);
  const expectedBytes = dataSegments.reduce((n, s) => n + s.chunk_length!, 0);
  const received = await readBytes(conn, expectedBytes);
  return { conn, wrote: wrote.bytes, received };
}

describe('go-generated-vectors.json conversation: byte-for-byte replay', () => {
  const conv = go.conversation;
  for (const me of ['A', 'B'] as Side[]) {
    for (const aead of AEADS) {
      for (const feed of [Infinity, 1, 1000]) {
        it(`as ${me} (${aead}, peer bytes fed ${feed === Infinity ? 'all at once' : `${feed} at a time`})`, async () => {
          const mine = me === 'A' ? conv.stream_A_to_B : conv.stream_B_to_A;
          const theirs = me === 'A' ? conv.stream_B_to_A : conv.stream_A_to_B;
          const myKeys = me === 'A' ? conv.keys_A : conv.keys_B;
          const peerKeys = me === 'A' ? conv.keys_B : conv.keys_A;
          const { conn, wrote, received } = await replay(me, theirs, feed, aead);
          expect(conn.remoteNodeId).toBe(peerKeys.node_id);
          expect(hex(conn.remotePubKey)).toBe(peerKeys.ed25519_pubkey);
          // The recorded peer frames are accepted and decrypt to the recorded chunks, in order.
          expect(hex(received)).toBe(theirs.segments.slice(2).map((s) => s.chunk_hex).join(''));
          // Our handshake bytes are Go's.
          await waitFor(() => wrote().length >= 35 + FRAME_SEALED_BYTES);
          expect(hex(wrote().subarray(0, 35))).toBe(mine.segments[0].hex);
          expect(hex(wrote().subarray(35, 35 + FRAME_SEALED_BYTES))).toBe(mine.segments[1].hex);
          // Each later message was one Write in Go, so one frame here too.
          for (const seg of mine.segments.slice(2)) conn.write(unhex(seg.chunk_hex!));
          await waitFor(() => wrote().length >= mine.total_length);
          expect(wrote().length).toBe(mine.total_length);
          for (const seg of mine.segments.slice(2)) {
            expectSameFrame(wrote().subarray(seg.offset, seg.offset + seg.length), seg, myKeys.send_key);
          }
          conn.destroy();
        });
      }
    }
  }

  it('records at least one frame with stale padding (so the padding path is exercised)', () => {
    const all = [...conv.stream_A_to_B.segments, ...conv.stream_B_to_A.segments];
    expect(all.some((s) => s.padding_has_nonzero_stale_bytes)).toBe(true);
  });
});

describe('go-generated-vectors.json packet_split over a SecretConnection', () => {
  const ps = go.packet_split;
  const stream = ps.secret_connection.stream_A_to_B;

  it('one 2532-byte write becomes frames of 1024, 1024 and 484 bytes, as in Go', async () => {
    expect(ps.secret_connection.mconn_write_sizes_into_secret_connection).toEqual([ps.raw_stream_length]);
    // B's handshake bytes are the first two segments of the conversation's B stream (same keys).
    const bHandshake: RecordedStream = { ...go.conversation.stream_B_to_A, segments: go.conversation.stream_B_to_A.segments.slice(0, 2) };
    bHandshake.hex = bHandshake.segments.map((s) => s.hex).join('');
    const { conn, wrote } = await replay('A', bHandshake, Infinity, 'sodium-native');
    conn.write(unhex(ps.raw_stream_hex));
    await waitFor(() => wrote().length >= stream.total_length);
    expect(wrote().length).toBe(stream.total_length);
    expect(stream.segments.slice(2).map((s) => s.chunk_length)).toEqual([1024, 1024, 484]);
    for (const seg of stream.segments) {
      if (seg.nonce === undefined) expect(hex(wrote().subarray(seg.offset, seg.offset + seg.length))).toBe(seg.hex);
      else expectSameFrame(wrote().subarray(seg.offset, seg.offset + seg.length), seg, go.conversation.keys_A.send_key);
    }
    conn.destroy();
  });

  it('as B, the recorded frames decrypt to the raw packet stream', async () => {
    for (const aead of AEADS) {
      const { conn, received } = await replay('B', stream, 777, aead);
      expect(hex(received)).toBe(ps.raw_stream_hex);
      conn.destroy();
    }
  });
});
