/**
 * SecretConnection with a FrameCryptoPool: large writes and received batches are sealed and
 * opened on a worker thread, small ones inline. Everything a connection promises must hold the
 * same as without a pool: order, wire bytes, errors at the right frame, end and destroy,
 * backpressure with bounded memory, nonce exhaustion; plus the pool's own failure (closed or
 * terminated worker). Every test runs over an in-memory pipe and over real TCP on 127.0.0.1.
 */
import { afterAll, afterEach, describe, expect, it, vi, type MockInstance } from 'vitest';
import { once } from 'node:events';
import { createHash, randomBytes } from 'node:crypto';
import type { Server, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { createDuplexPair } from '../../../p2p/conn/duplex-pair.js';
import { SecretConnection, OFFLOAD_MIN_FRAMES, type SecretConnectionOptions } from '../../../p2p/conn/secret-connection.js';
import { FrameCryptoPool, FrameCryptoSession, type FrameJobResult } from '../../../p2p/conn/frame-crypto-pool.js';
import { ErrFrameAuthFailed, ErrFrameTooLarge, ErrNonceExhausted, ErrTruncatedFrame } from '../../../p2p/conn/secret-connection-errors.js';
import { VirtualClock } from '../../../p2p/clock.js';
import { NodeKey } from '../../../p2p/node-key.js';
import { authSigBytes, FRAME_SEALED, identityFromSeed, rawTcpPair, readBytes, scriptedKeyExchange, type ScriptedPeer } from './secret-connection-helpers.js';
import { makeSide } from './mconnection-helpers.js';
import { ErrConnectionClosed } from '../../../p2p/conn/mconnection-errors.js';

/**
 * The pool every connection in this file uses (one worker); tests of a failing pool make their
 * own. It never shares work with the caller, so every large batch is a job these tests can count;
 * sharing has its own test below.
 */
const pool = new FrameCryptoPool({ threads: 1, shareAtBacklogJobs: Infinity });
afterAll(() => pool.close());

const servers: Server[] = [];
const sockets: Duplex[] = [];
afterEach(() => {
  vi.restoreAllMocks();
  for (const s of servers.splice(0)) s.close();
  for (const s of sockets.splice(0)) s.destroy();
});

const idA = identityFromSeed(Buffer.alloc(32, 0xa1));
const idB = identityFromSeed(Buffer.alloc(32, 0xb2));
const KiB = 1024;
const MiB = 1024 * 1024;
const SEALED = FRAME_SEALED;

type Transport = 'memory pipe' | 'TCP';
const TRANSPORTS: Transport[] = ['memory pipe', 'TCP'];

async function rawPair(transport: Transport): Promise<[Duplex, Duplex]> {
  const pair: [Duplex, Duplex] = transport === 'TCP' ? ((await rawTcpPair(servers)) as [Socket, Socket]) : createDuplexPair();
  sockets.push(...pair);
  return pair;
}

interface SecurePair {
  a: SecretConnection;
  b: SecretConnection;
  rawA: Duplex;
  rawB: Duplex;
}

/** Two connections that both use `pool` unless the options say otherwise; `beforeHandshake` may wrap the raw streams. */
async function securePair(
  transport: Transport,
  optsA: SecretConnectionOptions = {},
  optsB: SecretConnectionOptions = optsA,
  beforeHandshake?: (rawA: Duplex, rawB: Duplex) => void,
): Promise<SecurePair> {
  const [rawA, rawB] = await rawPair(transport);
  beforeHandshake?.(rawA, rawB);
  const clock = new VirtualClock();
  const [a, b] = await Promise.all([
    SecretConnection.handshake({ clock }, rawA, idA, { cryptoPool: pool, ...optsA }),
    SecretConnection.handshake({ clock }, rawB, idB, { cryptoPool: pool, ...optsB }),
  ]);
  sockets.push(a, b);
  return { a, b, rawA, rawB };
}

/** Counts the jobs connections post to any pool (the real jobs still run). */
function spyJobs(): { seal: MockInstance<FrameCryptoSession['seal']>; open: MockInstance<FrameCryptoSession['open']> } {
  return { seal: vi.spyOn(FrameCryptoSession.prototype, 'seal'), open: vi.spyOn(FrameCryptoSession.prototype, 'open') };
}

/** Settles once every job the spy saw has settled (fulfilled or rejected). */
async function jobsSettled(spy: { mock: { results: { value: unknown }[] } }): Promise<void> {
  await Promise.allSettled(spy.mock.results.map((r) => r.value as Promise<FrameJobResult>));
}

/** Deterministic bytes (xorshift32 from `seed`): no period that frame or packet sizes could hide a reordering in. */
function seeded(n: number, seed: number): Buffer {
  const b = Buffer.allocUnsafe(n);
  let x = seed | 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    b[i] = x & 0xff;
  }
  return b;
}

/** Writes of every size class: single frames, just under/at/over OFFLOAD_MIN_FRAMES, whole jobs, many jobs, odd tails. */
const WRITE_SIZES = [1, 700, 31 * KiB, 32 * KiB, 33 * KiB, 256 * KiB, 1, 1 * MiB, 700, 1 * MiB + 5, 31 * KiB, 33 * KiB, 256 * KiB + 1, 5];

/**
 * Writes `sizes` to `conn` with `make(size, i)` bytes, then two corked batches: many small writes
 * that add up to an offloaded batch, and a mixed batch. Returns everything written, in order.
 */
function writeMixed(conn: SecretConnection, make: (size: number, i: number) => Buffer): Buffer {
  const all: Buffer[] = [];
  WRITE_SIZES.forEach((size, i) => {
    const chunk = make(size, i);
    all.push(chunk);
    conn.write(chunk);
  });
  const batches = [
    Array.from({ length: 40 }, (_, i) => 1000 + i), // 40 frames in 40 writes: one _writev, offloaded
    [10, 40 * KiB, 3, 2 * KiB, 300 * KiB, 1], // small and large chunks in one _writev
  ];
  let n = WRITE_SIZES.length;
  for (const sizes of batches) {
    conn.cork();
    for (const size of sizes) {
      const chunk = make(size, n++);
      all.push(chunk);
      conn.write(chunk);
    }
    conn.uncork();
  }
  // Small writes right behind the batches: they must queue behind them, not overtake.
  for (const size of [1, 2, 1024]) {
    const chunk = make(size, n++);
    all.push(chunk);
    conn.write(chunk);
  }
  return Buffer.concat(all);
}

/** Resolves with the first 'error' of `stream` and the data it delivered before it. */
function dataUntilError(stream: Duplex): Promise<{ err: unknown; data: Buffer }> {
  const got: Buffer[] = [];
  stream.on('data', (c: Buffer) => got.push(Buffer.from(c)));
  return new Promise((resolve) => stream.once('error', (err) => resolve({ err, data: Buffer.concat(got) })));
}

/** Resolves with everything `stream` delivered once it ends (rejects on 'error', or on 'close' without 'end'). */
function dataUntilEnd(stream: Duplex): Promise<Buffer> {
  if (stream.destroyed) return Promise.reject(new Error(`destroyed before the reader came (${stream.readableLength} bytes unread, no end)`));
  const got: Buffer[] = [];
  stream.on('data', (c: Buffer) => got.push(Buffer.from(c)));
  return new Promise((resolve, reject) => {
    stream.once('end', () => resolve(Buffer.concat(got)));
    stream.once('error', reject);
    stream.once('close', () => reject(new Error(`closed without end after ${Buffer.concat(got).length} bytes`)));
  });
}

// ---- a scripted peer on the other end of one pooled connection ----

const me = identityFromSeed(Buffer.alloc(32, 1));
const peerId = identityFromSeed(Buffer.alloc(32, 2));

/** Our connection (with `pool`) on one end; the test plays the peer by hand on the other. */
async function scriptedVictim(transport: Transport, options: SecretConnectionOptions = {}): Promise<{ conn: SecretConnection; p: ScriptedPeer; evil: Duplex }> {
  const [ours, evil] = await rawPair(transport);
  const result = SecretConnection.handshake({ clock: new VirtualClock() }, ours, me, { cryptoPool: pool, ...options });
  result.catch(() => undefined); // awaited below
  const p = await scriptedKeyExchange(evil, options.nonceCounterStart ?? 0n);
  evil.write(p.sealFrame(authSigBytes({ ed25519: peerId.publicKey }, peerId.sign(p.challenge))));
  const conn = await result;
  sockets.push(conn);
  return { conn, p, evil };
}

/** `n` frames' data: mostly full frames, some short ones. */
function frameDatas(n: number): Buffer[] {
  return Array.from({ length: n }, (_, i) => randomBytes(i % 7 === 3 ? 1 + ((i * 37) % 1023) : 1024));
}

for (const transport of TRANSPORTS) {
  describe(`SecretConnection with a FrameCryptoPool (${transport})`, () => {
    it('large and small writes in both directions at once arrive intact and in order, offloaded both ways', async () => {
      const jobs = spyJobs();
      const { a, b } = await securePair(transport);
      const fromA = writeMixed(a, (size) => randomBytes(size));
      const fromB = writeMixed(b, (size) => randomBytes(size));
      expect(fromA.length).toBeGreaterThan(3 * MiB);
      const [gotB, gotA] = await Promise.all([readBytes(b, fromA.length), readBytes(a, fromB.length)]);
      expect(gotB.equals(fromA)).toBe(true);
      expect(gotA.equals(fromB)).toBe(true);
      // The pool really did the bulk of the work in both directions.
      expect(jobs.seal.mock.calls.length).toBeGreaterThanOrEqual(2 * 12);
      expect(jobs.open.mock.calls.length).toBeGreaterThan(2);
    });

    it('a saturated worker shares the sealing with the writer: some batches sealed inline, every byte intact and in order', async () => {
      const sharing = new FrameCryptoPool({ threads: 1, shareAtBacklogJobs: 1 });
      try {
        const jobs = spyJobs();
        const { a, b } = await securePair(transport, { cryptoPool: sharing });
        const fromA = writeMixed(a, (size, i) => seeded(size, i + 1));
        const fromB = writeMixed(b, (size, i) => seeded(size, i + 101));
        const [gotB, gotA] = await Promise.all([readBytes(b, fromA.length), readBytes(a, fromB.length)]);
        expect(gotB.equals(fromA)).toBe(true);
        expect(gotA.equals(fromB)).toBe(true);
        // Each side's writes are back to back, so the worker is busy for most of them: with a
        // backlog limit of 1 some batches went to the worker and the rest were sealed inline
        // (writeMixed makes 12+ batches of 32+ frames per side).
        expect(jobs.seal.mock.calls.length).toBeGreaterThan(0);
        expect(jobs.seal.mock.calls.length).toBeLessThan(2 * 12);
        expect(sharing.stats().sealedFrames).toBeGreaterThan(0);
      } finally {
        await sharing.close();
      }
    });

    it('puts the same bytes on the wire as a connection without a pool', async () => {
      const ephA = Buffer.alloc(32, 0x11);
      const ephB = Buffer.alloc(32, 0x22);
      /** Everything each side writes to its raw stream, for one fixed conversation. */
      const run = async (cryptoPool: FrameCryptoPool | undefined): Promise<{ wireA: Buffer; wireB: Buffer; seals: number }> => {
        const jobs = spyJobs();
        const wire: Buffer[][] = [[], []];
        const tap = (raw: Duplex, into: Buffer[]): void => {
          const write = raw.write.bind(raw) as (chunk: Buffer, ...rest: unknown[]) => boolean;
          raw.write = ((chunk: Buffer, ...rest: unknown[]) => {
            into.push(Buffer.from(chunk));
            return write(chunk, ...rest);
          }) as typeof raw.write;
        };
        const { a, b } = await securePair(
          transport,
          { ephemeralPrivateKey: ephA, cryptoPool },
          { ephemeralPrivateKey: ephB, cryptoPool },
          (rawA, rawB) => {
            tap(rawA, wire[0]);
            tap(rawB, wire[1]);
          },
        );
        const fromA = writeMixed(a, (size, i) => seeded(size, 1000 + i));
        const fromB = writeMixed(b, (size, i) => seeded(size, 2000 + i));
        const [gotB, gotA] = await Promise.all([readBytes(b, fromA.length), readBytes(a, fromB.length)]);
        expect(gotB.equals(fromA)).toBe(true);
        expect(gotA.equals(fromB)).toBe(true);
        const seals = jobs.seal.mock.calls.length;
        vi.restoreAllMocks();
        a.destroy();
        b.destroy();
        return { wireA: Buffer.concat(wire[0]), wireB: Buffer.concat(wire[1]), seals };
      };
      const pooled = await run(pool);
      const inline = await run(undefined);
      expect(pooled.seals).toBeGreaterThan(0);
      expect(inline.seals).toBe(0);
      // Key message (35 bytes), AuthSig frame, then the data frames.
      expect(inline.wireA.length).toBeGreaterThan(3 * MiB);
      expect(pooled.wireA.length).toBe(inline.wireA.length);
      expect(pooled.wireA.equals(inline.wireA)).toBe(true);
      expect(pooled.wireB.equals(inline.wireB)).toBe(true);
      expect(pooled.wireA.equals(pooled.wireB)).toBe(false);
    });

    for (const k of [0, 45, 199]) {
      it(`a tampered frame at index ${k} of a large received batch: ErrFrameAuthFailed at its counter, the frames before it delivered`, async () => {
        const jobs = spyJobs();
        const { conn, p, evil } = await scriptedVictim(transport);
        const failed = dataUntilError(conn);
        const datas = frameDatas(200);
        const frames = datas.map((d) => p.sealFrame(d));
        frames[k][300] ^= 0x04;
        evil.write(Buffer.concat(frames));
        const { err, data } = await failed;
        expect(err).toBeInstanceOf(ErrFrameAuthFailed);
        expect((err as ErrFrameAuthFailed).nonce).toBe(BigInt(1 + k)); // the AuthSig frame used counter 0
        expect(data.equals(Buffer.concat(datas.slice(0, k)))).toBe(true);
        expect(jobs.open.mock.calls.length).toBeGreaterThan(0);
      });
    }

    for (const [k, lengthField] of [
      [31, 1025],
      [120, 0xffffffff],
    ] as const) {
      it(`a length field of ${lengthField} at index ${k} of a large batch: ErrFrameTooLarge with length and counter`, async () => {
        const jobs = spyJobs();
        const { conn, p, evil } = await scriptedVictim(transport);
        const failed = dataUntilError(conn);
        const datas = frameDatas(200);
        evil.write(Buffer.concat(datas.map((d, i) => p.sealFrame(d, i === k ? lengthField : d.length))));
        const { err, data } = await failed;
        expect(err).toBeInstanceOf(ErrFrameTooLarge);
        const e = err as ErrFrameTooLarge;
        expect([e.length, e.limit, e.nonce]).toEqual([lengthField, 1024, BigInt(1 + k)]);
        expect(data.equals(Buffer.concat(datas.slice(0, k)))).toBe(true);
        expect(jobs.open.mock.calls.length).toBeGreaterThan(0);
      });
    }

    it('end() right after a large write: the peer gets every byte, then end', async () => {
      const jobs = spyJobs();
      const { a, b } = await securePair(transport);
      const received = dataUntilEnd(b);
      const payload = randomBytes(2 * MiB + 5);
      a.write(randomBytes(100));
      a.write(payload);
      a.end(Buffer.from('last'));
      expect(jobs.seal.mock.calls.length).toBeGreaterThan(0); // seal jobs were out when end() came
      const got = await received;
      expect(got.length).toBe(100 + payload.length + 4);
      expect(got.subarray(100, 100 + payload.length).equals(payload)).toBe(true);
      expect(got.subarray(-4).toString()).toBe('last');
    });

    it('the peer ending right after a large batch: data delivered, then end', async () => {
      const jobs = spyJobs();
      const { conn, p, evil } = await scriptedVictim(transport);
      const received = dataUntilEnd(conn);
      const datas = frameDatas(100);
      evil.end(Buffer.concat(datas.map((d) => p.sealFrame(d))));
      expect((await received).equals(Buffer.concat(datas))).toBe(true);
      expect(jobs.open.mock.calls.length).toBeGreaterThan(0);
    });

    it('the peer ending inside a frame after a large batch: the batch delivered, then ErrTruncatedFrame', async () => {
      const jobs = spyJobs();
      const { conn, p, evil } = await scriptedVictim(transport);
      const failed = dataUntilError(conn);
      const datas = frameDatas(100);
      const frames = datas.map((d) => p.sealFrame(d));
      const partial = p.sealFrame(Buffer.alloc(1024, 7)).subarray(0, 500);
      evil.end(Buffer.concat([...frames, partial]));
      const { err, data } = await failed;
      expect(err).toBeInstanceOf(ErrTruncatedFrame);
      expect([(err as ErrTruncatedFrame).receivedBytes, (err as ErrTruncatedFrame).frameBytes]).toEqual([500, SEALED]);
      expect(data.equals(Buffer.concat(datas))).toBe(true);
      expect(jobs.open.mock.calls.length).toBeGreaterThan(0);
    });

    it('a reader that reads only after the peer ended gets everything, then end', async () => {
      const jobs = spyJobs();
      const { a, b, rawB } = await securePair(transport);
      const rawClosed = new Promise((resolve) => rawB.once('close', resolve));
      const payload = randomBytes(200 * KiB); // offloaded, and below the reader's 256 KiB buffer: the raw stream is never paused
      a.end(payload);
      await rawClosed;
      await jobsSettled(jobs.open);
      await new Promise((r) => setImmediate(r));
      expect(jobs.open.mock.calls.length).toBeGreaterThan(0);
      expect((await dataUntilEnd(b)).equals(payload)).toBe(true);
    });

    it('a peer that ends with nothing left unread: the connection closes even though nobody reads it, without error', async () => {
      // Deliberate: with no byte unread, the raw close destroys at once (only 'end' is skipped), so
      // a connection nobody reads still goes away; contrast with the test above, where bytes wait.
      const { a, b, rawB } = await securePair(transport);
      const errors: unknown[] = [];
      b.on('error', (e) => errors.push(e));
      const bClosed = new Promise((resolve) => b.once('close', resolve));
      const rawClosed = new Promise((resolve) => rawB.once('close', resolve));
      a.end();
      await Promise.all([rawClosed, bClosed]);
      expect(b.destroyed).toBe(true);
      expect(b.readableLength).toBe(0);
      expect(errors).toEqual([]);
    });

    it('frames split at odd places around the offload threshold arrive intact (partial frames carried into and out of staging)', async () => {
      const jobs = spyJobs();
      const { conn, p, evil } = await scriptedVictim(transport);
      const datas = frameDatas(150);
      const stream = Buffer.concat(datas.map((d) => p.sealFrame(d)));
      const total = datas.reduce((n, d) => n + d.length, 0);
      const reading = readBytes(conn, total);
      // A partial frame, then 33 frames and a bit (offloaded with the carried part), small odd pieces, a large piece, the tail.
      const cuts = [500, 500 + 33 * SEALED + 17, 500 + 34 * SEALED, 500 + 34 * SEALED + 3, 100 * SEALED + 1, stream.length];
      let from = 0;
      for (const to of cuts) {
        evil.write(stream.subarray(from, to));
        from = to;
        await new Promise((r) => setImmediate(r));
      }
      expect((await reading).equals(Buffer.concat(datas))).toBe(true);
      expect(jobs.open.mock.calls.length).toBeGreaterThan(0);
    });

    it('counters crossing 2^32 inside a job: a pooled side and an inline side understand each other both ways', async () => {
      const jobs = spyJobs();
      // The AuthSig frame takes one counter; the data frames cross the low word's carry 99 frames in.
      const start = (1n << 32n) - 100n;
      const { a, b } = await securePair(transport, { nonceCounterStart: start }, { nonceCounterStart: start, cryptoPool: undefined });
      // a's bytes are sealed on the worker and opened inline by b; b's the other way round.
      await exchange(a, b, 1 * MiB);
      expect(jobs.seal.mock.calls.length).toBe(4);
      expect(jobs.open.mock.calls.length).toBeGreaterThan(0);
    });

    it('a pool closed between transfers: the connection carries on inline', async () => {
      const ownPool = new FrameCryptoPool({ threads: 1, shareAtBacklogJobs: Infinity });
      const { a, b } = await securePair(transport, { cryptoPool: ownPool });
      const round = async (): Promise<void> => {
        await exchange(a, b, 1 * MiB);
      };
      const jobs = spyJobs();
      await round();
      expect(jobs.seal.mock.calls.length).toBeGreaterThan(0);
      await ownPool.close();
      jobs.seal.mockClear();
      jobs.open.mockClear();
      await round();
      expect(jobs.seal.mock.calls.length + jobs.open.mock.calls.length).toBe(0);
    });

    it('large earlyData goes through the pool in the AuthSig write and is read first by the peer', async () => {
      const jobs = spyJobs();
      const earlyA = randomBytes(100 * KiB);
      const earlyB = randomBytes(64 * KiB + 1);
      const { a, b } = await securePair(transport, { earlyData: earlyA }, { earlyData: earlyB });
      const [gotB, gotA] = await Promise.all([readBytes(b, earlyA.length), readBytes(a, earlyB.length)]);
      expect(gotB.equals(earlyA)).toBe(true);
      expect(gotA.equals(earlyB)).toBe(true);
      // Each side's AuthSig frame and early data went out as one sealed job.
      expect(jobs.seal.mock.calls.map((c) => c[1]).sort((x, y) => x - y)).toEqual([66, 101]);
    });

    it('tiny stream buffers (highWaterMarkBytes 1 KiB): a slow reader pulling with read() gets everything in order', async () => {
      const jobs = spyJobs();
      const { a, b } = await securePair(transport, { highWaterMarkBytes: 1024 });
      const x = randomBytes(3 * MiB + 77);
      let written = 0;
      const writer = (async () => {
        for (const size of [1, 64 * KiB, 1 * MiB, 33 * KiB, 2 * MiB]) {
          const chunk = x.subarray(written, Math.min(x.length, written + size));
          written += chunk.length;
          if (!a.write(chunk)) await once(a, 'drain');
        }
        a.end(x.subarray(written));
      })();
      // Paused-mode reads of odd sizes as data becomes readable.
      const parts: Buffer[] = [];
      let got = 0;
      await new Promise<void>((resolve, reject) => {
        b.on('readable', () => {
          for (let c: Buffer | null; (c = b.read(Math.min(5000, b.readableLength) || undefined) as Buffer | null) !== null; ) {
            parts.push(c);
            got += c.length;
          }
        });
        b.once('end', () => resolve());
        b.once('error', reject);
      });
      await writer;
      expect(got).toBe(x.length);
      expect(Buffer.concat(parts).equals(x)).toBe(true);
      expect(jobs.open.mock.calls.length).toBeGreaterThan(0);
    });

    it('a pool with no threads: everything inline, nothing posted', async () => {
      const jobs = spyJobs();
      const none = new FrameCryptoPool({ threads: 0 });
      const { a, b } = await securePair(transport, { cryptoPool: none });
      const x = randomBytes(1 * MiB + 3);
      a.write(x);
      expect((await readBytes(b, x.length)).equals(x)).toBe(true);
      expect(jobs.seal.mock.calls.length + jobs.open.mock.calls.length).toBe(0);
    });

    it('destroy() with seal jobs in flight: nothing more is sent, no error, and the pool serves others afterwards', async () => {
      const jobs = spyJobs();
      const { a, b } = await securePair(transport);
      const errors: unknown[] = [];
      a.on('error', (e) => errors.push(e));
      b.on('error', (e) => errors.push(e));
      let receivedByB = 0;
      b.on('data', (c: Buffer) => (receivedByB += c.length));
      const closed = Promise.all([once(a, 'close'), once(b, 'close')]);
      a.write(randomBytes(2 * MiB));
      expect(jobs.seal.mock.calls.length).toBe(8); // all posted at once
      a.destroy();
      await jobsSettled(jobs.seal);
      await closed;
      expect(receivedByB).toBe(0);
      expect(errors).toEqual([]);
      await transferWorks(transport);
    });

    it('destroy() with open jobs in flight: no data after destroy, no error, and the pool serves others afterwards', async () => {
      const { a, b } = await securePair(transport);
      const openJob = FrameCryptoSession.prototype.open;
      const opens: Promise<FrameJobResult>[] = [];
      vi.spyOn(FrameCryptoSession.prototype, 'open').mockImplementation(function (this: FrameCryptoSession, ...args) {
        const job = openJob.apply(this, args);
        opens.push(job);
        // The job is on the worker; destroy the receiver before it comes back.
        if (opens.length === 1) queueMicrotask(() => b.destroy());
        return job;
      });
      const errors: unknown[] = [];
      a.on('error', (e) => errors.push(e));
      b.on('error', (e) => errors.push(e));
      let lateData = 0;
      b.on('data', (c: Buffer) => {
        if (b.destroyed) lateData += c.length;
      });
      const bClosed = once(b, 'close');
      a.write(randomBytes(2 * MiB));
      await bClosed;
      expect(opens.length).toBeGreaterThan(0);
      await Promise.allSettled(opens);
      await new Promise((r) => setImmediate(r));
      expect(lateData).toBe(0);
      // A may learn of the close through a failed write (EPIPE / reset): that is its own socket's business.
      expect(errors.filter((e) => !(e as { code?: string }).code)).toEqual([]);
      await transferWorks(transport);
    });

    it('backpressure: a receiver that does not read stops the sender, memory stays bounded, then everything arrives', async () => {
      const jobs = spyJobs();
      const { a, b, rawA, rawB } = await securePair(transport);
      const total = 40 * MiB;
      const source = randomBytes(1 * MiB + 64);
      const sizes = [1 * MiB, 256 * KiB + 3, 33 * KiB, 1000];
      const sentHash = createHash('sha256');
      let accepted = 0;
      let waitingForDrain = false;
      const writer = (async () => {
        for (let i = 0; accepted < total; i++) {
          const size = Math.min(sizes[i % sizes.length], total - accepted);
          const chunk = Buffer.from(source.subarray(i % 64, (i % 64) + size));
          chunk.writeUInt32LE(i, 0); // order stamp
          sentHash.update(chunk);
          accepted += size;
          if (!a.write(chunk)) {
            waitingForDrain = true;
            await once(a, 'drain');
            waitingForDrain = false;
          }
        }
      })();
      const internal = (c: SecretConnection, key: string): number => (c as unknown as Record<string, number>)[key];
      const buffered = (): { receiver: number; sender: number } => ({
        receiver: b.readableLength + internal(b, 'stagingBytes') + internal(b, 'openJobBytes') + rawB.readableLength,
        sender: a.writableLength + internal(a, 'outQueuedBytes') + rawA.writableLength,
      });
      // Wait until nothing moves any more (the sender is blocked): progress unchanged for 20 polls.
      let maxReceiver = 0;
      let maxSender = 0;
      let last = -1;
      for (let still = 0; still < 20; ) {
        await new Promise((r) => setTimeout(r, 10));
        const now = buffered();
        maxReceiver = Math.max(maxReceiver, now.receiver);
        maxSender = Math.max(maxSender, now.sender);
        const progress = accepted + now.receiver;
        still = progress === last ? still + 1 : 0;
        last = progress;
        expect(accepted).toBeLessThan(total); // the sender must not get everything written
      }
      expect(waitingForDrain).toBe(true);
      expect(b.readableLength).toBeGreaterThan(0);
      // Bounded (measured about 1.3 MiB and 2.4 MiB): the reader's buffer, the open jobs and a
      // staging buffer; the writer's buffer (the 1 MiB write waiting) and the sealed backlog.
      expect(maxReceiver).toBeLessThan(3 * MiB);
      expect(maxSender).toBeLessThan(4 * MiB);
      // TCP buffers in the kernel hold some more; the rest of the 40 MiB is still with the writer.
      expect(accepted).toBeLessThan(transport === 'TCP' ? 24 * MiB : 6 * MiB);

      const recvHash = createHash('sha256');
      let received = 0;
      const done = new Promise<void>((resolve) =>
        b.on('data', (c: Buffer) => {
          recvHash.update(c);
          received += c.length;
          if (received >= total) resolve();
        }),
      );
      await Promise.all([done, writer]);
      expect(received).toBe(total);
      expect(recvHash.digest('hex')).toBe(sentHash.digest('hex'));
      expect(jobs.seal.mock.calls.length).toBeGreaterThan(100);
      expect(jobs.open.mock.calls.length).toBeGreaterThan(10);
    });

    it('nonce exhaustion on send: a large write crossing the limit delivers the frames that fit, then ErrNonceExhausted', async () => {
      // Both sides start 41 below the unusable 2^64-1: the AuthSig frame takes one, 40 data frames fit.
      const start = (1n << 64n) - 1n - 41n;
      const jobs = spyJobs();
      const { a, b } = await securePair(transport, { nonceCounterStart: start });
      const got: Buffer[] = [];
      b.on('data', (c: Buffer) => got.push(c));
      b.on('error', () => undefined); // how B learns of A's end is not the point here
      const bClosed = once(b, 'close');
      const failed = once(a, 'error');
      const payload = randomBytes(64 * KiB); // 64 frames: offloaded
      a.write(payload);
      const [err] = (await failed) as [ErrNonceExhausted];
      expect(err).toBeInstanceOf(ErrNonceExhausted);
      expect(err.direction).toBe('send');
      await bClosed;
      expect(jobs.seal.mock.calls.length).toBeGreaterThan(0);
      expect(Buffer.concat(got).length).toBe(40 * KiB);
      expect(Buffer.concat(got).equals(payload.subarray(0, 40 * KiB))).toBe(true);
    });

    it('nonce exhaustion on receive: a large batch crossing the limit delivers the frames that fit, then ErrNonceExhausted', async () => {
      const start = (1n << 64n) - 1n - 41n;
      const jobs = spyJobs();
      const { conn, p, evil } = await scriptedVictim(transport, { nonceCounterStart: start });
      const failed = dataUntilError(conn);
      const datas = frameDatas(41); // the last one is sealed with 2^64-1, which we must not accept
      evil.write(Buffer.concat(datas.map((d) => p.sealFrame(d))));
      const { err, data } = await failed;
      expect(err).toBeInstanceOf(ErrNonceExhausted);
      expect((err as ErrNonceExhausted).direction).toBe('receive');
      expect(data.equals(Buffer.concat(datas.slice(0, 40)))).toBe(true);
      expect(jobs.open.mock.calls.length).toBeGreaterThan(0);
    });

    for (const how of ['closed', 'worker terminated'] as const) {
      for (const side of ['send', 'receive'] as const) {
        it(`a pool ${how} during a transfer (${side} side): the connection fails with an error, nothing crashes`, async () => {
          const ownPool = new FrameCryptoPool({ threads: 1, shareAtBacklogJobs: Infinity });
          const stop = (): void => {
            if (how === 'closed') void ownPool.close();
            else void (ownPool as unknown as { workers: { worker: { terminate(): Promise<number> } }[] }).workers[0].worker.terminate();
          };
          // Only the side under test uses the pool, so the failure is on that side.
          const { a, b } = await securePair(transport, { cryptoPool: side === 'send' ? ownPool : undefined }, { cryptoPool: side === 'receive' ? ownPool : undefined });
          const op = side === 'send' ? 'seal' : 'open';
          const real = FrameCryptoSession.prototype[op];
          let posted = 0;
          vi.spyOn(FrameCryptoSession.prototype, op).mockImplementation(function (this: FrameCryptoSession, ...args) {
            const job = real.apply(this, args);
            if (++posted === 1) stop(); // while this job is on the worker
            return job;
          });
          const victim = side === 'send' ? a : b;
          const other = side === 'send' ? b : a;
          other.on('error', () => undefined); // the other end just sees its peer go away (maybe as a reset)
          other.resume();
          const otherClosed = new Promise((resolve) => other.once('close', resolve));
          const failed = once(victim, 'error');
          a.write(randomBytes(4 * MiB));
          const [err] = (await failed) as [Error];
          expect(err.message).toMatch(/worker exited/);
          expect(posted).toBeGreaterThan(0);
          await otherClosed;
          // A dead worker is replaced: the next connection on the pool is served by a new one.
          if (how === 'worker terminated') await transferWorks(transport, ownPool);
          await ownPool.close();
        });
      }
    }
  });
}

describe('many connections on one single-thread pool', () => {
  it('four TCP pairs moving 2 MiB each way at once: every stream intact (jobs routed to the right session)', async () => {
    const jobs = spyJobs();
    const pairs = await Promise.all([0, 1, 2, 3].map(() => securePair('TCP')));
    await Promise.all(
      pairs.map(async ({ a, b }) => {
        await exchange(a, b, 2 * MiB);
      }),
    );
    expect(jobs.seal.mock.calls.length).toBe(4 * 2 * 8);
    // Every connection has its own session.
    expect(new Set(jobs.seal.mock.contexts).size).toBe(8);
  });
});

describe('the offload threshold (memory pipe: one write is one received chunk)', () => {
  // The pool on one side only: the writer's seals, or the reader's opens, are what is counted.
  for (const { op, what, optsA, optsB } of [
    { op: 'seal', what: 'writes', optsA: {}, optsB: { cryptoPool: undefined } },
    { op: 'open', what: 'received chunks', optsA: { cryptoPool: undefined }, optsB: {} },
  ] as const) {
    it(`${what} of fewer than ${OFFLOAD_MIN_FRAMES} frames are handled inline, ${OFFLOAD_MIN_FRAMES} or more on the pool (${op})`, async () => {
      const jobs = spyJobs();
      const { a, b } = await securePair('memory pipe', optsA, optsB);
      const sizes = [31 * KiB, 1, 31 * KiB + 1, 32 * KiB, 700];
      const seen: number[] = [];
      for (const size of sizes) {
        const x = randomBytes(size);
        a.write(x);
        expect((await readBytes(b, size)).equals(x)).toBe(true);
        seen.push(jobs[op].mock.calls.length);
      }
      expect(seen).toEqual([0, 0, 1, 2, 2]);
    });
  }
});

/** Writes `bytes` random bytes each way at once; both arrive intact. */
async function exchange(a: SecretConnection, b: SecretConnection, bytes: number): Promise<void> {
  const x = randomBytes(bytes);
  const y = randomBytes(bytes);
  a.write(x);
  b.write(y);
  const [gotB, gotA] = await Promise.all([readBytes(b, x.length), readBytes(a, y.length)]);
  expect(gotB.equals(x)).toBe(true);
  expect(gotA.equals(y)).toBe(true);
}

/** A fresh pair on `cryptoPool` moves 1 MiB each way, through the pool (the pool still works). */
async function transferWorks(transport: Transport, cryptoPool: FrameCryptoPool = pool): Promise<void> {
  const sealedBefore = cryptoPool.stats().sealedFrames;
  const { a, b } = await securePair(transport, { cryptoPool });
  await exchange(a, b, MiB);
  expect(cryptoPool.stats().sealedFrames - sealedBefore).toBe(2 * 1024);
  a.destroy();
  b.destroy();
}

describe('MConnection over pooled SecretConnections over TCP', () => {
  /** Real TCP I/O until `done()`, bounded by real time (see mconnection-secret.test.ts). */
  async function ioUntil(done: () => boolean, maxMs = 20_000): Promise<void> {
    const deadline = Date.now() + maxMs;
    for (let turn = 0; !done(); turn++) {
      if (Date.now() > deadline) throw new Error(`ioUntil: condition not reached in ${maxMs} ms`);
      await new Promise((r) => (turn < 10_000 ? setImmediate(r) : setTimeout(r, 1)));
    }
  }

  it('several channels, messages of 1 B .. 2 MiB both ways: intact and in per-channel order', async () => {
    const jobs = spyJobs();
    const clock = new VirtualClock();
    const [rawA, rawB] = await rawTcpPair(servers);
    sockets.push(rawA, rawB);
    const keyA = NodeKey.fromSeed(new Uint8Array(32).fill(1));
    const keyB = NodeKey.fromSeed(new Uint8Array(32).fill(2));
    const [sa, sb] = await Promise.all([
      SecretConnection.handshake({ clock }, rawA, keyA, { cryptoPool: pool }),
      SecretConnection.handshake({ clock }, rawB, keyB, { cryptoPool: pool }),
    ]);
    const chans = [0x00, 0x20, 0x21].map((id, i) => ({ id, priority: 1 + i * 4, sendQueueCapacity: 50, recvMessageCapacity: 4 * MiB }));
    const opts = { sendRate: 0, recvRate: 0 };
    const A = makeSide(clock, sa, chans, opts);
    const B = makeSide(clock, sb, chans, opts);
    A.mconn.start();
    B.mconn.start();
    const sizes = [1, 100, 1024, 1025, 31 * KiB, 33 * KiB, 65_537, 300_000, 1 * MiB, 2 * MiB, 7, 2 * MiB - 1];
    const sent = new Map<string, Buffer[]>();
    const sends: Promise<boolean>[] = [];
    for (const n of sizes) {
      for (const ch of [0x00, 0x20, 0x21]) {
        for (const [side, name] of [
          [A, 'A'],
          [B, 'B'],
        ] as const) {
          const m = randomBytes(n);
          const key = `${name}:${ch}`;
          sent.set(key, [...(sent.get(key) ?? []), m]);
          sends.push(side.mconn.send(ch, m));
        }
      }
    }
    expect(await Promise.all(sends)).toEqual(sends.map(() => true));
    const total = sizes.length * 3;
    await ioUntil(() => A.received.length === total && B.received.length === total);
    expect(A.errors).toEqual([]);
    expect(B.errors).toEqual([]);
    for (const [receiver, from] of [
      [B, 'A'],
      [A, 'B'],
    ] as const) {
      for (const ch of [0x00, 0x20, 0x21]) {
        const got = receiver.received.filter(([c]) => c === ch).map(([, m]) => m);
        const want = sent.get(`${from}:${ch}`)!;
        expect(got.map((m) => m.length)).toEqual(want.map((m) => m.length));
        got.forEach((m, i) => expect(m.equals(want[i])).toBe(true));
      }
    }
    expect(jobs.seal.mock.calls.length).toBeGreaterThan(10);
    expect(jobs.open.mock.calls.length).toBeGreaterThan(10);
    // Graceful stop right behind a large message: it is sealed on the pool, sent, then the end.
    const last = randomBytes(1 * MiB + 3);
    expect(A.mconn.trySend(0x20, last)).toBe(true);
    await A.mconn.flushStop();
    await ioUntil(() => B.errors.length > 0);
    expect(B.received.at(-1)![1].equals(last)).toBe(true);
    expect(B.errors[0]).toBeInstanceOf(ErrConnectionClosed);
    B.mconn.stop();
  });
});
