/**
 * Bad input ends a SecretConnection handshake or session with a typed error and nothing else:
 * each condition of issue 2, plus CometBFT's evil-peer scenarios (evil_secret_connection_test.go).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { once } from 'node:events';
import { connect, createServer, Socket } from 'node:net';
import { Duplex } from 'node:stream';
import { ed25519 } from '@noble/curves/ed25519.js';
import { createDuplexPair } from '../../../p2p/conn/duplex-pair.js';
import { encodeUvarint, ErrDelimitedMessageTooLarge, ErrDelimitedMessageTruncated } from '../../../p2p/conn/delimited.js';
import { x25519SharedSecret, verifyEd25519, generateEphemeralKeyPair, type HandshakeCryptoBackend } from '../../../p2p/conn/handshake-crypto.js';
import { SecretConnection, type SecretConnectionOptions } from '../../../p2p/conn/secret-connection.js';
import {
  ErrChallengeVerification,
  ErrFrameAuthFailed,
  ErrFrameTooLarge,
  ErrHandshakeMessageMalformed,
  ErrHandshakeStreamFailed,
  ErrHandshakeTimeout,
  ErrInvalidEphemeralKey,
  ErrInvalidLocalIdentity,
  ErrMalformedPubKey,
  ErrNonceExhausted,
  ErrSmallOrderRemotePubKey,
  ErrTruncatedFrame,
  ErrUnsupportedPubKeyType,
} from '../../../p2p/conn/secret-connection-errors.js';
import { SwitchyardError } from '../../../p2p/errors.js';
import { VirtualClock } from '../../../p2p/clock.js';
import { switchyard } from '../../../p2p/proto/gen/wire.js';
import { encodeDelimited } from '../../../p2p/conn/delimited.js';
import { authSigBytes, FRAME_SEALED, identityFromSeed, scriptedKeyExchange, unhex, waitFor, type ScriptedPeer } from './secret-connection-helpers.js';

const me = identityFromSeed(Buffer.alloc(32, 1));
const peerId = identityFromSeed(Buffer.alloc(32, 2));

/** Starts our handshake on one end of a fresh pair; the test scripts the other end. */
function victim(options: SecretConnectionOptions = {}, clock = new VirtualClock()): { result: Promise<SecretConnection>; ours: Duplex; evil: Duplex; clock: VirtualClock } {
  const [ours, evil] = createDuplexPair();
  const result = SecretConnection.handshake({ clock }, ours, me, options);
  result.catch(() => undefined); // observed by the test
  return { result, ours, evil, clock };
}

function ephemeralMessage(value: Uint8Array): Buffer {
  return encodeDelimited(switchyard.p2p.BytesValue.encode({ value }).finish());
}

/** Awaits the handshake's failure, checks its class, and that our raw stream was destroyed. */
async function expectFailure<T extends SwitchyardError>(v: { result: Promise<SecretConnection>; ours: Duplex }, cls: new (...args: never[]) => T): Promise<T> {
  const err = await v.result.then(
    () => {
      throw new Error('handshake succeeded');
    },
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(cls);
  expect(err).toBeInstanceOf(SwitchyardError);
  await waitFor(() => v.ours.destroyed);
  return err as T;
}

/** An honest AuthSig from the peer identity over the peer's challenge. */
function honestAuthSig(p: ScriptedPeer): Buffer {
  return authSigBytes({ ed25519: peerId.publicKey }, peerId.sign(p.challenge));
}

/** Both ends of every TCP connection tcpVictim() made: destroyed after each test, so the file ends with no open sockets. */
const tcpSockets: Socket[] = [];
afterEach(() => {
  for (const s of tcpSockets.splice(0)) s.destroy();
});

/** Like victim(), over a real TCP connection on 127.0.0.1 (our side dials). */
async function tcpVictim(options: SecretConnectionOptions = {}): Promise<{ result: Promise<SecretConnection>; ours: Duplex; evil: Duplex }> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const accepted = once(server, 'connection') as Promise<[Socket]>;
  const ours = connect((server.address() as { port: number }).port, '127.0.0.1');
  const [evil] = await accepted;
  tcpSockets.push(ours, evil);
  server.close();
  const result = SecretConnection.handshake({ clock: new VirtualClock() }, ours, me, options);
  result.catch(() => undefined);
  return { result, ours, evil };
}

const LOW_ORDER_POINTS = [
  '0000000000000000000000000000000000000000000000000000000000000000', // 0
  '0100000000000000000000000000000000000000000000000000000000000000', // 1
  'e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800', // order 8
  '5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157', // order 8
  'ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f', // p-1
  'edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f', // p (= 0)
  'eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f', // p+1 (= 1)
];

describe('ephemeral key exchange', () => {
  for (const backend of ['sodium-native', 'node:crypto'] as HandshakeCryptoBackend[]) {
    it(`low-order points give no shared secret (${backend})`, () => {
      const eph = generateEphemeralKeyPair(undefined, backend);
      for (const p of LOW_ORDER_POINTS) expect(x25519SharedSecret(eph.privateKey, unhex(p), backend)).toBeUndefined();
      const other = generateEphemeralKeyPair(undefined, backend);
      expect(x25519SharedSecret(eph.privateKey, other.publicKey, backend)).toBeDefined();
    });
  }

  it('an all-zero ephemeral key ends the handshake with ErrSmallOrderRemotePubKey', async () => {
    const v = victim();
    v.evil.write(ephemeralMessage(new Uint8Array(32)));
    const err = await expectFailure(v, ErrSmallOrderRemotePubKey);
    expect(err.remoteEphemeralKeyHex).toBe('00'.repeat(32));
  });

  it('a low-order ephemeral key (order 8) ends the handshake with ErrSmallOrderRemotePubKey', async () => {
    const v = victim();
    v.evil.write(ephemeralMessage(unhex(LOW_ORDER_POINTS[2])));
    await expectFailure(v, ErrSmallOrderRemotePubKey);
  });

  it('a key of the wrong length ("drop users;") is ErrInvalidEphemeralKey', async () => {
    const v = victim();
    v.evil.write(ephemeralMessage(Buffer.from('drop users;')));
    const err = await expectFailure(v, ErrInvalidEphemeralKey);
    expect(err.length).toBe(11);
  });

  it('a message that is not a BytesValue is ErrHandshakeMessageMalformed', async () => {
    const v = victim();
    v.evil.write(Buffer.from([0x02, 0x0a, 0x40])); // field 1 claims 64 bytes inside a 2-byte message
    const err = await expectFailure(v, ErrHandshakeMessageMalformed);
    expect(err.messageType).toBe('BytesValue');
  });

  it('raw garbage "drop users;" then EOF is a truncated message (0x64 = 100-byte length, 10 bytes follow)', async () => {
    const v = victim();
    v.evil.end(Buffer.from('drop users;'));
    const err = await expectFailure(v, ErrDelimitedMessageTruncated);
    expect([err.part, err.receivedBytes, err.expectedBytes]).toEqual(['body', 10, 100]);
  });

  it('a peer that sends no key and closes: truncated before the length prefix', async () => {
    const v = victim();
    v.evil.end();
    const err = await expectFailure(v, ErrDelimitedMessageTruncated);
    expect([err.part, err.receivedBytes]).toEqual(['length', 0]);
  });

  it('a key message cut short is ErrDelimitedMessageTruncated', async () => {
    const v = victim();
    v.evil.end(ephemeralMessage(new Uint8Array(32).fill(9)).subarray(0, 20));
    const err = await expectFailure(v, ErrDelimitedMessageTruncated);
    expect([err.part, err.receivedBytes, err.expectedBytes]).toEqual(['body', 19, 34]);
  });

  it('a length prefix above 1 MiB fails before any body byte is read', async () => {
    const v = victim();
    v.evil.write(encodeUvarint(1024 * 1024 + 1));
    const err = await expectFailure(v, ErrDelimitedMessageTooLarge);
    expect([err.size, err.limit]).toEqual([1024 * 1024 + 1, 1024 * 1024]);
  });

  it('a huge 10-byte varint prefix is rejected as too large as soon as it exceeds the limit', async () => {
    const v = victim();
    v.evil.write(Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]));
    await expectFailure(v, ErrDelimitedMessageTooLarge);
  });

  it('a prefix of exactly 1 MiB is accepted as a length (the message then arrives truncated)', async () => {
    const v = victim();
    v.evil.end(Buffer.concat([encodeUvarint(1024 * 1024), Buffer.alloc(1000)]));
    const err = await expectFailure(v, ErrDelimitedMessageTruncated);
    expect(err.expectedBytes).toBe(1024 * 1024);
  });
});

describe('AuthSig exchange', () => {
  it('an honest scripted peer completes the handshake (evil test e)', async () => {
    const v = victim();
    const p = await scriptedKeyExchange(v.evil);
    v.evil.write(p.sealFrame(honestAuthSig(p)));
    const conn = await v.result;
    expect(Buffer.from(conn.remotePubKey)).toEqual(Buffer.from(peerId.publicKey));
    conn.destroy();
  });

  it('a signature over something else is ErrChallengeVerification', async () => {
    const v = victim();
    const p = await scriptedKeyExchange(v.evil);
    v.evil.write(p.sealFrame(authSigBytes({ ed25519: peerId.publicKey }, peerId.sign(new Uint8Array(32)))));
    const err = await expectFailure(v, ErrChallengeVerification);
    expect(err.signatureLength).toBe(64);
  });

  it('a valid signature by a different key than the one claimed is ErrChallengeVerification', async () => {
    const v = victim();
    const p = await scriptedKeyExchange(v.evil);
    v.evil.write(p.sealFrame(authSigBytes({ ed25519: me.publicKey }, peerId.sign(p.challenge))));
    await expectFailure(v, ErrChallengeVerification);
  });

  it('a 63-byte signature is ErrChallengeVerification', async () => {
    const v = victim();
    const p = await scriptedKeyExchange(v.evil);
    v.evil.write(p.sealFrame(authSigBytes({ ed25519: peerId.publicKey }, peerId.sign(p.challenge).subarray(0, 63))));
    const err = await expectFailure(v, ErrChallengeVerification);
    expect(err.signatureLength).toBe(63);
  });

  for (const [name, key] of [
    ['secp256k1', { secp256k1: new Uint8Array(33).fill(2) }],
    ['bls12381', { bls12381: new Uint8Array(48).fill(3) }],
  ] as const) {
    it(`a ${name} key is ErrUnsupportedPubKeyType`, async () => {
      const v = victim();
      const p = await scriptedKeyExchange(v.evil);
      v.evil.write(p.sealFrame(authSigBytes(key, new Uint8Array(64))));
      const err = await expectFailure(v, ErrUnsupportedPubKeyType);
      expect(err.keyType).toBe(name);
    });
  }

  it('an AuthSig without a key is ErrUnsupportedPubKeyType("missing")', async () => {
    const v = victim();
    const p = await scriptedKeyExchange(v.evil);
    v.evil.write(p.sealFrame(authSigBytes(null, peerId.sign(p.challenge))));
    const err = await expectFailure(v, ErrUnsupportedPubKeyType);
    expect(err.keyType).toBe('missing');
  });

  it('a 31-byte ed25519 key is ErrMalformedPubKey', async () => {
    const v = victim();
    const p = await scriptedKeyExchange(v.evil);
    v.evil.write(p.sealFrame(authSigBytes({ ed25519: peerId.publicKey.subarray(0, 31) }, peerId.sign(p.challenge))));
    const err = await expectFailure(v, ErrMalformedPubKey);
    expect(err.length).toBe(31);
  });

  it('an AuthSig that is not protobuf is ErrHandshakeMessageMalformed', async () => {
    const v = victim();
    const p = await scriptedKeyExchange(v.evil);
    v.evil.write(p.sealFrame(encodeDelimited(Buffer.from([0x0a, 0x7f, 0x01]))));
    const err = await expectFailure(v, ErrHandshakeMessageMalformed);
    expect(err.messageType).toBe('AuthSigMessage');
  });

  it('an AuthSig length prefix above 1 MiB is ErrDelimitedMessageTooLarge', async () => {
    const v = victim();
    const p = await scriptedKeyExchange(v.evil);
    v.evil.write(p.sealFrame(encodeUvarint(1024 * 1024 + 1)));
    const err = await expectFailure(v, ErrDelimitedMessageTooLarge);
    expect(err.what).toBe('AuthSigMessage');
  });

  it('garbage instead of the AuthSig frame is ErrFrameAuthFailed (evil test d)', async () => {
    const v = victim();
    await scriptedKeyExchange(v.evil);
    v.evil.write(Buffer.alloc(FRAME_SEALED, 0x5a));
    const err = await expectFailure(v, ErrFrameAuthFailed);
    expect(err.nonce).toBe(0n);
  });

  it('an AuthSig frame whose length field exceeds 1024 is ErrFrameTooLarge', async () => {
    const v = victim();
    const p = await scriptedKeyExchange(v.evil);
    v.evil.write(p.sealFrame(honestAuthSig(p), 1025));
    const err = await expectFailure(v, ErrFrameTooLarge);
    expect([err.length, err.limit]).toEqual([1025, 1024]);
  });

  it('a peer that stops after the key exchange (closes): truncated AuthSig (evil test c)', async () => {
    const v = victim();
    await scriptedKeyExchange(v.evil);
    v.evil.end();
    const err = await expectFailure(v, ErrDelimitedMessageTruncated);
    expect(err.what).toBe('AuthSigMessage');
  });

  it('a peer that sends its key and closes in the same write: truncated AuthSig, not a timeout', async () => {
    const v = victim();
    const eph = generateEphemeralKeyPair();
    v.evil.end(ephemeralMessage(eph.publicKey));
    let settled = false;
    v.result.then(
      () => (settled = true),
      () => (settled = true),
    );
    await waitFor(() => settled); // no virtual time passes: a hang here would be the bug
    const err = await expectFailure(v, ErrDelimitedMessageTruncated);
    expect(err.what).toBe('AuthSigMessage');
  });

  it('a raw stream that already holds the key and its end: truncated AuthSig, not a timeout', async () => {
    const raw = new Duplex({ read() {}, write: (_c, _e, cb: () => void) => cb() });
    raw.push(ephemeralMessage(generateEphemeralKeyPair().publicKey));
    raw.push(null);
    const v = { result: SecretConnection.handshake({ clock: new VirtualClock() }, raw, me), ours: raw };
    v.result.catch(() => undefined);
    let settled = false;
    v.result.then(
      () => (settled = true),
      () => (settled = true),
    );
    await waitFor(() => settled);
    const err = await expectFailure(v, ErrDelimitedMessageTruncated);
    expect(err.what).toBe('AuthSigMessage');
  });

  it('a local signer that throws or returns a malformed signature is ErrInvalidLocalIdentity', async () => {
    for (const sign of [
      (): Uint8Array => {
        throw new Error('HSM unavailable');
      },
      (): Uint8Array => new Uint8Array(10),
    ]) {
      const [ours, evil] = createDuplexPair();
      const result = SecretConnection.handshake({ clock: new VirtualClock() }, ours, { publicKey: me.publicKey, sign });
      await scriptedKeyExchange(evil);
      await expect(result).rejects.toBeInstanceOf(ErrInvalidLocalIdentity);
      await waitFor(() => ours.destroyed);
    }
  });

  it('a peer that ends inside the AuthSig frame: ErrTruncatedFrame', async () => {
    const v = victim();
    const p = await scriptedKeyExchange(v.evil);
    v.evil.end(p.sealFrame(honestAuthSig(p)).subarray(0, 500));
    const err = await expectFailure(v, ErrTruncatedFrame);
    expect(err.receivedBytes).toBe(500);
  });
});

describe('handshake deadline and local problems', () => {
  it('a silent peer fails the handshake with ErrHandshakeTimeout at exactly 3000 ms of virtual time', async () => {
    const v = victim();
    await v.clock.advanceAsync(2999);
    let settled = false;
    v.result.then(
      () => (settled = true),
      () => (settled = true),
    );
    await v.clock.settle();
    expect(settled).toBe(false);
    await v.clock.advanceAsync(1);
    const err = await expectFailure(v, ErrHandshakeTimeout);
    expect([err.timeoutMs, err.phase]).toEqual([3000, 'ephemeral key exchange']);
    expect(v.clock.pendingTimers()).toBe(0);
  });

  it('a peer that stalls after the key exchange times out in the AuthSig phase (custom timeout)', async () => {
    const v = victim({ handshakeTimeoutMs: 500 });
    await scriptedKeyExchange(v.evil);
    await v.clock.advanceAsync(500);
    const err = await expectFailure(v, ErrHandshakeTimeout);
    expect([err.timeoutMs, err.phase]).toEqual([500, 'AuthSig exchange']);
  });

  it('a peer that dribbles a partial key and stalls still times out', async () => {
    const v = victim();
    v.evil.write(Buffer.from([0x22, 0x0a]));
    await v.clock.advanceAsync(3000);
    await expectFailure(v, ErrHandshakeTimeout);
  });

  it('a raw stream error during the handshake is ErrHandshakeStreamFailed with the cause', async () => {
    const v = victim();
    await new Promise((r) => setImmediate(r));
    v.ours.destroy(new Error('connection reset'));
    const err = await expectFailure(v, ErrHandshakeStreamFailed);
    expect((err.cause as Error).message).toBe('connection reset');
  });

  it('bad options fail fast with a RangeError naming the option, before any byte is written', async () => {
    for (const [options, name] of [
      [{ handshakeTimeoutMs: 0 }, 'handshakeTimeoutMs'],
      [{ nonceCounterStart: -1n }, 'nonceCounterStart'],
      [{ nonceCounterStart: 1n << 64n }, 'nonceCounterStart'],
      [{ ephemeralPrivateKey: new Uint8Array(31) }, 'ephemeralPrivateKey'],
      [{ aead: 'aes' as never }, 'aead'],
      [{ highWaterMarkBytes: 0 }, 'highWaterMarkBytes'],
    ] as [SecretConnectionOptions, string][]) {
      const [ours, other] = createDuplexPair();
      let written = 0;
      other.on('data', (c: Buffer) => (written += c.length));
      await expect(SecretConnection.handshake({ clock: new VirtualClock() }, ours, me, options)).rejects.toThrow(new RegExp(name));
      await new Promise((r) => setImmediate(r));
      expect(written).toBe(0);
    }
  });

  it('a local identity without a 32-byte public key is ErrInvalidLocalIdentity', async () => {
    const [ours] = createDuplexPair();
    await expect(SecretConnection.handshake({ clock: new VirtualClock() }, ours, { publicKey: new Uint8Array(31), sign: () => new Uint8Array(64) })).rejects.toBeInstanceOf(
      ErrInvalidLocalIdentity,
    );
  });
});

for (const transport of ['memory pipe', 'TCP'] as const) {
describe(`after the handshake (${transport})`, () => {
  // Over TCP the receiver opens frames in place in the socket's buffers; over a memory pipe it
  // must not touch the writer's buffers. Both paths get every test.
  async function established(options: SecretConnectionOptions = {}, nonceStart = 0n): Promise<{ conn: SecretConnection; p: ScriptedPeer; evil: Duplex }> {
    const v = transport === 'TCP' ? await tcpVictim({ ...options, nonceCounterStart: nonceStart }) : victim({ ...options, nonceCounterStart: nonceStart });
    const p = await scriptedKeyExchange(v.evil, nonceStart);
    v.evil.write(p.sealFrame(honestAuthSig(p)));
    const conn = await v.result;
    return { conn, p, evil: v.evil };
  }

  async function failureOf(conn: SecretConnection): Promise<unknown> {
    const [err] = (await once(conn, 'error')) as [unknown];
    return err;
  }

  it('frames split at odd places across reads arrive intact and in order', async () => {
    const { conn, p, evil } = await established();
    if (evil instanceof Socket) evil.setNoDelay(true);
    const messages = Array.from({ length: 40 }, (_, i) => Buffer.alloc(1 + ((i * 97) % 1024), i));
    const stream = Buffer.concat(messages.map((m) => p.sealFrame(m)));
    const got: Buffer[] = [];
    conn.on('data', (c: Buffer) => got.push(c));
    for (let i = 0; i < stream.length; i += 701) {
      evil.write(stream.subarray(i, i + 701));
      await new Promise((r) => setImmediate(r));
    }
    const total = messages.reduce((n, m) => n + m.length, 0);
    await waitFor(() => Buffer.concat(got).length >= total);
    expect(Buffer.concat(got).equals(Buffer.concat(messages))).toBe(true);
    conn.destroy();
  });

  it('a frame whose length field exceeds 1024 ends the connection with ErrFrameTooLarge', async () => {
    const { conn, p, evil } = await established();
    const failed = failureOf(conn);
    evil.write(p.sealFrame(Buffer.from('hello'), 0xffffffff));
    const err = (await failed) as ErrFrameTooLarge;
    expect(err).toBeInstanceOf(ErrFrameTooLarge);
    expect([err.length, err.nonce]).toEqual([0xffffffff, 1n]);
    expect(evil.destroyed || conn.destroyed).toBe(true);
  });

  it('a tampered frame ends the connection with ErrFrameAuthFailed, after delivering the good frames before it', async () => {
    const { conn, p, evil } = await established();
    const got: Buffer[] = [];
    conn.on('data', (c: Buffer) => got.push(c));
    const failed = failureOf(conn);
    const good = p.sealFrame(Buffer.from('good'));
    const bad = p.sealFrame(Buffer.from('evil'));
    bad[10] ^= 1;
    evil.write(Buffer.concat([good, bad]));
    const err = (await failed) as ErrFrameAuthFailed;
    expect(err).toBeInstanceOf(ErrFrameAuthFailed);
    expect(err.nonce).toBe(2n);
    expect(Buffer.concat(got).toString()).toBe('good');
  });

  it('a replayed (out of order) frame fails authentication', async () => {
    const { conn, p, evil } = await established();
    const failed = failureOf(conn);
    conn.resume();
    const f1 = p.sealFrame(Buffer.from('one'));
    evil.write(Buffer.concat([f1, f1]));
    expect(await failed).toBeInstanceOf(ErrFrameAuthFailed);
  });

  it('a stream ending inside a frame is ErrTruncatedFrame; ending on a frame boundary is a clean end', async () => {
    const a = await established();
    const failed = failureOf(a.conn);
    a.conn.resume();
    a.evil.end(a.p.sealFrame(Buffer.from('x')).subarray(0, 1000));
    const err = (await failed) as ErrTruncatedFrame;
    expect(err).toBeInstanceOf(ErrTruncatedFrame);
    expect([err.receivedBytes, err.frameBytes]).toEqual([1000, 1044]);

    const b = await established();
    const got: Buffer[] = [];
    b.conn.on('data', (c: Buffer) => got.push(c));
    b.conn.on('error', (e) => got.push(Buffer.from(`error ${String(e)}`)));
    b.evil.end(b.p.sealFrame(Buffer.from('last words')));
    await once(b.conn, 'end');
    expect(Buffer.concat(got).toString()).toBe('last words');
  });

  it('the send nonce counter at its limit ends the connection with ErrNonceExhausted', async () => {
    // Handshake frame uses 2^64-3, one more frame 2^64-2; 2^64-1 is never used.
    const start = (1n << 64n) - 3n;
    const { conn } = await established({}, start);
    await new Promise<void>((resolve, reject) => conn.write(Buffer.from('fits'), (e) => (e ? reject(e) : resolve())));
    const failed = failureOf(conn);
    conn.write(Buffer.from('one too many'));
    const err = (await failed) as ErrNonceExhausted;
    expect(err).toBeInstanceOf(ErrNonceExhausted);
    expect(err.direction).toBe('send');
  });

  it('a write spanning the limit sends the frames that fit, then fails', async () => {
    const start = (1n << 64n) - 4n; // handshake 2^64-4; 2 more frames fit
    const { conn, evil } = await established({}, start);
    let rawBytes = 0;
    evil.on('data', (c: Buffer) => (rawBytes += c.length));
    const failed = failureOf(conn);
    conn.write(Buffer.alloc(3000));
    expect(await failed).toBeInstanceOf(ErrNonceExhausted);
    // The scripted peer never read our AuthSig frame, so it is counted too: 1 + 2 frames.
    await waitFor(() => rawBytes >= 3 * FRAME_SEALED);
    await new Promise((r) => setImmediate(r));
    expect(rawBytes).toBe(3 * FRAME_SEALED);
  });

  it('the receive nonce counter at its limit ends the connection with ErrNonceExhausted', async () => {
    const start = (1n << 64n) - 2n; // the AuthSig frame uses 2^64-2; the next incoming frame cannot
    const { conn, p, evil } = await established({}, start);
    const failed = failureOf(conn);
    conn.resume();
    evil.write(p.sealFrame(Buffer.from('no room')));
    const err = (await failed) as ErrNonceExhausted;
    expect(err).toBeInstanceOf(ErrNonceExhausted);
    expect(err.direction).toBe('receive');
  });
});
}

describe('Ed25519 verification is ZIP-215 tolerant', () => {
  const msg = new Uint8Array(32).fill(7);
  for (const backend of ['sodium-native', 'node:crypto'] as HandshakeCryptoBackend[]) {
    it(`accepts what ZIP-215 accepts and rejects what it rejects (${backend})`, () => {
      const seed = new Uint8Array(32).fill(4);
      const pub = ed25519.getPublicKey(seed);
      const sig = ed25519.sign(msg, seed);
      expect(verifyEd25519(pub, msg, sig, backend)).toBe(true);
      // Small-order public key (identity) with R = identity and S = 0 satisfies the cofactored
      // equation: ZIP-215 (CometBFT v0.38+) accepts it although strict libsodium does not.
      const identityPoint = unhex('01' + '00'.repeat(31));
      const degenerate = Buffer.concat([identityPoint, Buffer.alloc(32)]);
      expect(verifyEd25519(identityPoint, msg, degenerate, backend)).toBe(true);
      // A non-canonical S (S + L) is rejected by ZIP-215.
      const L = (1n << 252n) + 27742317777372353535851937790883648493n;
      const s = BigInt('0x' + Buffer.from(sig.subarray(32)).reverse().toString('hex'));
      const sPlusL = Buffer.from((s + L).toString(16).padStart(64, '0'), 'hex').reverse();
      expect(verifyEd25519(pub, msg, Buffer.concat([sig.subarray(0, 32), sPlusL]), backend)).toBe(false);
      // Wrong message, wrong lengths.
      expect(verifyEd25519(pub, new Uint8Array(32), sig, backend)).toBe(false);
      expect(verifyEd25519(pub, msg, sig.subarray(0, 63), backend)).toBe(false);
      expect(verifyEd25519(pub.subarray(0, 31), msg, sig, backend)).toBe(false);
    });
  }
});
