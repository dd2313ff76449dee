/**
 * FrameCryptoPool on its own: option checks, sealed bytes identical to the inline frame AEAD
 * (both worker AEADs, counters crossing a 32-bit word), open failures reported at the right frame
 * with the good frames' data compacted, and the pool's life cycle (close, failed jobs).
 */
import { afterAll, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { execFile } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import ts from 'typescript';
import { FrameCryptoPool, type FrameCryptoSession, type FrameJobResult } from '../../../p2p/conn/frame-crypto-pool.js';
import {
  createFrameAead,
  FRAME_DATA_MAX_BYTES as DATA_MAX,
  FRAME_PLAINTEXT_BYTES as PLAIN,
  FRAME_SEALED_BYTES as SEALED,
  type FrameAeadKind,
} from '../../../p2p/conn/frame-aead.js';
import { sodiumBinding } from '../../../p2p/conn/sodium-binding.js';

/** One pool for the file (one thread, default AEAD); tests that close or break a pool make their own. */
const pool = new FrameCryptoPool({ threads: 1 });
const ownPools: FrameCryptoPool[] = [];
afterAll(async () => {
  await pool.close();
  await Promise.all(ownPools.map((p) => p.close()));
});

const hasSodium = sodiumBinding() !== undefined;

/** A session of a pool that is on (fails the test if the pool hands out none). */
function sessionOf(p: FrameCryptoPool, sendKey: Uint8Array, recvKey: Uint8Array): FrameCryptoSession {
  const session = p.session(sendKey, recvKey);
  if (!session) throw new Error('the pool handed out no session');
  return session;
}

/** The AEAD nonce of a 64-bit frame counter: bytes 4..11 little-endian, bytes 0..3 zero. */
function nonceOf(counter: bigint): Buffer {
  const n = Buffer.alloc(12);
  n.writeBigUInt64LE(counter, 4);
  return n;
}

const wordsOf = (counter: bigint): [number, number] => [Number(counter & 0xffffffffn), Number(counter >> 32n)];

/** `datas` laid out as plaintext frame slots (length field, data, zero padding, room for the tag) in a fresh ArrayBuffer. */
function plainFrames(datas: Buffer[], lengthFields: number[] = datas.map((d) => d.length)): Buffer {
  const buf = Buffer.from(new ArrayBuffer(datas.length * SEALED));
  datas.forEach((d, i) => {
    buf.writeUInt32LE(lengthFields[i], i * SEALED);
    d.copy(buf, i * SEALED + 4);
  });
  return buf;
}

/** Seals every slot of a copy of `plain` inline with `kind`, counters from `first`. */
function sealInline(key: Uint8Array, plain: Buffer, first: bigint, kind: FrameAeadKind): Buffer {
  const aead = createFrameAead(key, kind);
  const out = Buffer.from(plain);
  for (let i = 0; i < out.length / SEALED; i++) aead.sealFrame(out, i * SEALED, nonceOf(first + BigInt(i)));
  return out;
}

/** Copies `buf` into a fresh ArrayBuffer (jobs transfer theirs). */
const transferable = (buf: Buffer): ArrayBuffer => Uint8Array.from(buf).buffer;

async function sealOnPool(session: FrameCryptoSession, plain: Buffer, first: bigint): Promise<Buffer> {
  const [lo, hi] = wordsOf(first);
  const r = await session.seal(transferable(plain), plain.length / SEALED, lo, hi);
  expect(r.opened).toBe(plain.length / SEALED);
  expect(r.failure).toBe(0);
  return Buffer.from(r.ab, 0, plain.length);
}

async function openOnPool(session: FrameCryptoSession, sealed: Buffer, first: bigint): Promise<FrameJobResult> {
  const [lo, hi] = wordsOf(first);
  return session.open(transferable(sealed), sealed.length / SEALED, lo, hi);
}

/** Frames of assorted lengths: full, short, empty, one byte. */
function assortedDatas(n: number): Buffer[] {
  return Array.from({ length: n }, (_, i) => randomBytes([DATA_MAX, 1, 0, 700, DATA_MAX, 1023][i % 6]));
}

describe('FrameCryptoPool options', () => {
  it('threads 0 gives a disabled pool that hands out no sessions (the connection then works inline)', async () => {
    const p = new FrameCryptoPool({ threads: 0 });
    expect(p.threads).toBe(0);
    expect(p.enabled).toBe(false);
    expect(p.session(new Uint8Array(32), new Uint8Array(32))).toBeUndefined();
    expect(p.stats()).toMatchObject({ threads: 0, workersStarted: 0, sessions: 0 });
    await p.close();
  });

  it('a pool with threads is enabled until closed', async () => {
    const p = new FrameCryptoPool({ threads: 1 });
    expect(p.enabled).toBe(true);
    await p.close();
    expect(p.enabled).toBe(false);
  });

  it('invalid threads fail fast with a RangeError naming threads', () => {
    for (const threads of [-1, 1.5, 65, Number.NaN, 'x' as never]) {
      expect(() => new FrameCryptoPool({ threads })).toThrow(RangeError);
      expect(() => new FrameCryptoPool({ threads })).toThrow(/threads/);
    }
  });

  it('an unknown aead fails fast with a RangeError naming aead', () => {
    for (const share of [0, -1, 1.5, Number.NaN]) {
      expect(() => new FrameCryptoPool({ threads: 1, shareAtBacklogJobs: share })).toThrow(/shareAtBacklogJobs/);
    }
    expect(new FrameCryptoPool({ threads: 1, shareAtBacklogJobs: Infinity }).threads).toBe(1);
    expect(() => new FrameCryptoPool({ threads: 1, aead: 'aes' as never })).toThrow(RangeError);
    expect(() => new FrameCryptoPool({ threads: 1, aead: 'aes' as never })).toThrow(/aead/);
  });
});

describe('sealing on a pool', () => {
  const key = randomBytes(32);
  const other = randomBytes(32);
  // Six frames starting two below a carry into the high word: lo 0xfffffffe, 0xffffffff, then hi+1.
  const first = (7n << 32n) | 0xfffffffen;
  const datas = assortedDatas(6);

  const kinds: FrameAeadKind[] = hasSodium ? ['node:crypto', 'sodium-native'] : ['node:crypto'];
  for (const kind of kinds) {
    it(`a '${kind}' pool seals the same bytes as createFrameAead, across a 32-bit counter carry`, async () => {
      const p = new FrameCryptoPool({ threads: 1, aead: kind });
      ownPools.push(p);
      const session = sessionOf(p, key, other);
      const plain = plainFrames(datas);
      const onPool = await sealOnPool(session, plain, first);
      // Both inline implementations agree with the pool (and so with each other).
      expect(onPool.equals(sealInline(key, plain, first, 'node:crypto'))).toBe(true);
      if (hasSodium) expect(onPool.equals(sealInline(key, plain, first, 'sodium-native'))).toBe(true);
      // Not a no-op: the plaintext is gone, and a counter off by one gives other bytes.
      expect(onPool.subarray(4, 4 + DATA_MAX).equals(datas[0])).toBe(false);
      expect(onPool.equals(sealInline(key, plain, first + 1n, 'node:crypto'))).toBe(false);
      session.close();
      await p.close();
    });
  }

  it('seals with the send key and opens with the receive key', async () => {
    const session = sessionOf(pool, key, other);
    const plain = plainFrames(datas);
    const sealed = await sealOnPool(session, plain, 5n);
    expect(sealed.equals(sealInline(key, plain, 5n, 'node:crypto'))).toBe(true);
    // Our own sealed frames do not open with our receive key (a different key).
    const r = await openOnPool(session, sealed, 5n);
    expect([r.failure, r.opened, r.dataBytes]).toEqual([1, 0, 0]);
    session.close();
  });
});

describe('opening on a pool', () => {
  const key = randomBytes(32);
  const first = (3n << 32n) | 0xfffffff0n; // crosses the carry at frame 15

  it('opens a batch across the carry, data made contiguous from byte 0', async () => {
    const session = sessionOf(pool, randomBytes(32), key);
    const datas = assortedDatas(40);
    const sealed = sealInline(key, plainFrames(datas), first, 'node:crypto');
    const r = await openOnPool(session, sealed, first);
    const expected = Buffer.concat(datas);
    expect([r.failure, r.opened, r.dataBytes]).toEqual([0, 40, expected.length]);
    expect(Buffer.from(r.ab, 0, r.dataBytes).equals(expected)).toBe(true);
    session.close();
  });

  for (const k of [0, 1, 17, 39]) {
    it(`a tampered frame at index ${k} reports failure 1 there, with the frames before it`, async () => {
      const session = sessionOf(pool, randomBytes(32), key);
      const datas = assortedDatas(40);
      const sealed = sealInline(key, plainFrames(datas), first, 'node:crypto');
      sealed[k * SEALED + 100] ^= 0x01;
      const r = await openOnPool(session, sealed, first);
      const expected = Buffer.concat(datas.slice(0, k));
      expect([r.failure, r.opened, r.dataBytes]).toEqual([1, k, expected.length]);
      expect(Buffer.from(r.ab, 0, r.dataBytes).equals(expected)).toBe(true);
      session.close();
    });
  }

  it('a tampered tag or a wrong counter is failure 1', async () => {
    const session = sessionOf(pool, randomBytes(32), key);
    const datas = assortedDatas(3);
    const sealed = sealInline(key, plainFrames(datas), first, 'node:crypto');
    const badTag = Buffer.from(sealed);
    badTag[SEALED + PLAIN + 3] ^= 0x80;
    const r1 = await openOnPool(session, badTag, first);
    expect([r1.failure, r1.opened, r1.dataBytes]).toEqual([1, 1, datas[0].length]);
    const r2 = await openOnPool(session, sealed, first + 1n);
    expect([r2.failure, r2.opened]).toEqual([1, 0]);
    session.close();
  });

  for (const [k, lengthField] of [
    [0, 1025],
    [21, 0xffffffff],
  ] as const) {
    it(`a length field of ${lengthField} at index ${k} reports failure 2 with the length`, async () => {
      const session = sessionOf(pool, randomBytes(32), key);
      const datas = assortedDatas(30);
      const fields = datas.map((d) => d.length);
      fields[k] = lengthField;
      const sealed = sealInline(key, plainFrames(datas, fields), first, 'node:crypto');
      const r = await openOnPool(session, sealed, first);
      const expected = Buffer.concat(datas.slice(0, k));
      expect([r.failure, r.opened, r.length, r.dataBytes]).toEqual([2, k, lengthField, expected.length]);
      expect(Buffer.from(r.ab, 0, r.dataBytes).equals(expected)).toBe(true);
      session.close();
    });
  }

  it('jobs of one session complete in the order they were posted', async () => {
    const session = sessionOf(pool, randomBytes(32), key);
    const batches = Array.from({ length: 6 }, (_, i) => assortedDatas(8 + i * 40));
    let counter = 0n;
    const jobs: Promise<FrameJobResult>[] = [];
    const done: number[] = [];
    batches.forEach((datas, i) => {
      const sealed = sealInline(key, plainFrames(datas), counter, 'node:crypto');
      jobs.push(openOnPool(session, sealed, counter).then((r) => (done.push(i), r)));
      counter += BigInt(datas.length);
    });
    const results = await Promise.all(jobs);
    expect(done).toEqual([0, 1, 2, 3, 4, 5]);
    results.forEach((r, i) => expect(Buffer.from(r.ab, 0, r.dataBytes).equals(Buffer.concat(batches[i]))).toBe(true));
    session.close();
  });
});

describe('pool life cycle', () => {
  it('two sessions on a two-thread pool go to different workers (white-box: worker session counts)', async () => {
    const p = new FrameCryptoPool({ threads: 2 });
    ownPools.push(p);
    const key = randomBytes(32);
    const s1 = sessionOf(p, randomBytes(32), key);
    const s2 = sessionOf(p, randomBytes(32), key);
    const workers = (p as unknown as { workers: { sessions: number }[] }).workers;
    expect(workers.map((w) => w.sessions)).toEqual([1, 1]);
    // Both still work, each on its own worker.
    const datas = assortedDatas(5);
    const sealed = sealInline(key, plainFrames(datas), 0n, 'node:crypto');
    for (const s of [s1, s2]) {
      const r = await openOnPool(s, Buffer.from(sealed), 0n);
      expect(Buffer.from(r.ab, 0, r.dataBytes).equals(Buffer.concat(datas))).toBe(true);
    }
    s1.close();
    // A third session goes to the worker that has fewer.
    const s3 = sessionOf(p, randomBytes(32), key);
    expect(workers.map((w) => w.sessions)).toEqual([1, 1]);
    s2.close();
    s3.close();
    await p.close();
  });

  it('a closed session rejects new jobs; other sessions on the worker keep working', async () => {
    const key = randomBytes(32);
    const s1 = sessionOf(pool, randomBytes(32), key);
    const s2 = sessionOf(pool, randomBytes(32), key);
    const datas = assortedDatas(4);
    const sealed = sealInline(key, plainFrames(datas), 9n, 'node:crypto');
    // A job posted before close() still completes.
    const before = openOnPool(s1, Buffer.from(sealed), 9n);
    s1.close();
    expect(Buffer.from((await before).ab, 0, Buffer.concat(datas).length).equals(Buffer.concat(datas))).toBe(true);
    await expect(openOnPool(s1, Buffer.from(sealed), 9n)).rejects.toThrow(/closed/);
    const r = await openOnPool(s2, Buffer.from(sealed), 9n);
    expect(Buffer.from(r.ab, 0, r.dataBytes).equals(Buffer.concat(datas))).toBe(true);
    s2.close();
  });

  it('a worker that died does not take the pool down: sessions made afterwards work', async () => {
    const p = new FrameCryptoPool({ threads: 1 });
    ownPools.push(p);
    const key = randomBytes(32);
    const sealed = sealInline(key, plainFrames(assortedDatas(40)), 0n, 'node:crypto');
    const before = sessionOf(p, randomBytes(32), key);
    await openOnPool(before, Buffer.from(sealed), 0n);
    // White-box: the worker dies (as after a crash or an out-of-memory kill).
    const worker = (p as unknown as { workers: { worker: { terminate(): Promise<number> } }[] }).workers[0].worker;
    await worker.terminate();
    await expect(openOnPool(before, Buffer.from(sealed), 0n)).rejects.toThrow(/exited/);
    before.close();
    // A connection that starts now must not inherit the dead worker.
    const after = sessionOf(p, randomBytes(32), key);
    const r = await openOnPool(after, Buffer.from(sealed), 0n);
    expect([r.failure, r.opened]).toEqual([0, 40]);
    after.close();
    await p.close();
  });

  it('a job completes in a plain node process, and the idle pool then lets the process exit (child process)', async () => {
    // The pool's three modules compiled as they are to a scratch directory, run by a plain node.
    const dir = mkdtempSync(join(tmpdir(), 'frame-crypto-pool-'));
    try {
      for (const name of ['frame-crypto-pool', 'frame-aead', 'sodium-binding']) {
        const source = readFileSync(`p2p/conn/${name}.ts`, 'utf8');
        const js = ts.transpileModule(source, { compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 } }).outputText;
        writeFileSync(join(dir, `${name}.js`), js);
      }
      copyFileSync('p2p/conn/frame-crypto-worker.cjs', join(dir, 'frame-crypto-worker.cjs'));
      writeFileSync(join(dir, 'package.json'), '{"type":"module"}');
      // A top-level await on a job (it must complete: code 13 would mean node saw nothing keeping
      // it alive while the job was out); then nothing is closed: the idle pool must let the
      // process end by itself (a referenced worker would keep it running until the timeout).
      const script = [
        "import { FrameCryptoPool } from './frame-crypto-pool.js';",
        'const pool = new FrameCryptoPool({ threads: 2 });',
        'const session = pool.session(new Uint8Array(32), new Uint8Array(32));',
        'const r = await session.seal(new ArrayBuffer(1044 * 300), 300, 0, 0);',
        "console.log('sealed', r.opened);",
      ].join('\n');
      writeFileSync(join(dir, 'main.js'), script);
      const { code, stdout, stderr } = await new Promise<{ code: number | null; stdout: string; stderr: string }>((done) => {
        const child = execFile(process.execPath, [join(dir, 'main.js')], { env: { ...process.env, NODE_PATH: resolve('node_modules') }, timeout: 20_000 }, (err, stdout, stderr) =>
          done({ code: err ? ((err as { code?: number }).code ?? -1) : 0, stdout, stderr }),
        );
        child.stdin?.end();
      });
      expect({ code, stdout: stdout.trim(), stderr }).toEqual({ code: 0, stdout: 'sealed 300', stderr: '' });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it(`workers that keep dying are replaced ${3} times per thread, then the pool turns itself off`, async () => {
    const p = new FrameCryptoPool({ threads: 1 });
    ownPools.push(p);
    const key = randomBytes(32);
    const sealed = sealInline(key, plainFrames(assortedDatas(2)), 0n, 'node:crypto');
    const workers = (p as unknown as { workers: { worker: { terminate(): Promise<number> } }[] }).workers;
    let served = 0;
    for (let round = 0; round < 10; round++) {
      const session = p.session(randomBytes(32), key);
      if (!session) break;
      const r = await openOnPool(session, Buffer.from(sealed), 0n);
      expect(r.failure).toBe(0);
      served++;
      await workers[0].worker.terminate();
      session.close();
    }
    expect(served).toBe(4); // the first worker and 3 replacements
    expect(p.enabled).toBe(false);
    expect(p.stats().workersStarted).toBe(4);
  });

  it('stats() counts workers, live sessions and the frames sealed and (good frames) opened', async () => {
    const p = new FrameCryptoPool({ threads: 2 });
    ownPools.push(p);
    expect(p.stats()).toEqual({ threads: 2, workersStarted: 0, sessions: 0, sealedFrames: 0, openedFrames: 0 });
    const key = randomBytes(32);
    const s1 = sessionOf(p, key, key);
    const s2 = sessionOf(p, key, key);
    expect(p.stats()).toMatchObject({ workersStarted: 2, sessions: 2 });
    const datas = assortedDatas(12);
    const sealed = await sealOnPool(s1, plainFrames(datas), 0n);
    sealed[5 * SEALED + 7] ^= 1;
    const r = await openOnPool(s2, sealed, 0n);
    expect([r.failure, r.opened]).toEqual([1, 5]);
    expect(p.stats()).toMatchObject({ sealedFrames: 12, openedFrames: 5 });
    s1.close();
    s1.close(); // twice is once
    expect(p.stats().sessions).toBe(1);
    s2.close();
    expect(p.stats().sessions).toBe(0);
    await p.close();
  });

  it('close(): pending jobs and later jobs of its sessions reject, and session() hands out none', async () => {
    const p = new FrameCryptoPool({ threads: 1 });
    ownPools.push(p);
    const key = randomBytes(32);
    const session = sessionOf(p, randomBytes(32), key);
    const sealed = sealInline(key, plainFrames(assortedDatas(256)), 0n, 'node:crypto');
    // A warm-up job, so the worker is running when close() comes.
    await openOnPool(session, Buffer.from(sealed), 0n);
    const pending = [0, 1, 2, 3].map(() => openOnPool(session, Buffer.from(sealed), 0n).then(() => 'done', (e: Error) => e));
    const closed = p.close();
    const during = openOnPool(session, Buffer.from(sealed), 0n);
    await closed;
    expect(p.enabled).toBe(false);
    // Jobs posted before close() may have finished before the worker stopped; any that did not
    // are rejected (none hangs). At least the one posted during close() cannot have run.
    for (const outcome of await Promise.all(pending)) if (outcome !== 'done') expect(outcome).toBeInstanceOf(Error);
    await expect(during).rejects.toThrow(/exited/);
    await expect(openOnPool(session, Buffer.from(sealed), 0n)).rejects.toThrow(/exited/);
    expect(p.session(randomBytes(32), key)).toBeUndefined();
    session.close(); // no throw on a dead worker
  });
});
