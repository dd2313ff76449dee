/**
 * The asynchronous save: slices encode exactly the synchronous text, only one save is in flight
 * (later requests coalesce into one more), a snapshot is not torn by changes made while it is
 * written, stop() during a save leaves the newest state and nothing stale after it, a failing disk
 * is logged and retried, and a crash at any step leaves the old file or the new one.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AddrBook } from '../../addrbook/addr-book.js';
import {
  type AtomicWriteAsyncFs,
  type AtomicWriteFileHandle,
  realAsyncFs,
  writeFileAtomic,
  writeFileAtomicAsync,
} from '../../addrbook/atomic-write.js';
import { encodeSnapshot, encodeSnapshotSlices, takeSnapshot } from '../../addrbook/book-snapshot.js';
import { ErrAddrBookSaveAbandoned } from '../../addrbook/errors.js';
import { KnownAddress, ZERO_TIME_MS } from '../../addrbook/known-address.js';
import { encodeBook } from '../../addrbook/persistence.js';
import { VirtualClock } from '../../p2p/clock.js';
import { SeededRng } from '../../p2p/rng.js';
import { NetAddress } from '../../p2p/net-address.js';
import { captureLogger, routableAddr, TEST_KEY } from './helpers.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'addrbook-async-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

type Step = 'open' | 'write' | 'sync' | 'close';

/** Real file calls, with a gate that can hold one step until released, and a log of the calls. */
function gatedFs(): {
  ops: AtomicWriteAsyncFs;
  holdAt: (step: Step) => Promise<void>;
  release: () => void;
  tempOpens: () => number;
} {
  let heldStep: Step | undefined;
  let reached: (() => void) | undefined;
  let releaseGate: (() => void) | undefined;
  let gate: Promise<void> | undefined;
  let opens = 0;
  const pass = async (step: Step): Promise<void> => {
    if (heldStep !== step || gate === undefined) return;
    const g = gate;
    heldStep = undefined;
    reached?.();
    await g;
  };
  const ops: AtomicWriteAsyncFs = {
    ...realAsyncFs,
    async open(path, flags, mode) {
      const isTemp = flags === 'w';
      if (isTemp) {
        opens++;
        await pass('open');
      }
      const h = await realAsyncFs.open(path, flags, mode);
      if (!isTemp) return h;
      const wrapped: AtomicWriteFileHandle = {
        write: async (data, off, len) => {
          await pass('write');
          return h.write(data, off, len);
        },
        sync: async () => {
          await pass('sync');
          return h.sync();
        },
        close: async () => {
          await pass('close');
          return h.close();
        },
      };
      return wrapped;
    },
  };
  return {
    ops,
    holdAt(step) {
      heldStep = step;
      gate = new Promise<void>((r) => (releaseGate = r));
      return new Promise<void>((r) => (reached = r));
    },
    release() {
      releaseGate?.();
      gate = undefined;
    },
    tempOpens: () => opens,
  };
}

const SRC = (n: number): NetAddress => routableAddr(n, 'e');

function bookWith(path: string, ops?: AtomicWriteAsyncFs) {
  const clock = new VirtualClock(1_700_000_000_000);
  const cap = captureLogger();
  const book = new AddrBook({ clock, rng: new SeededRng(5), logger: cap.logger, saveFs: ops }, { filePath: path, key: TEST_KEY });
  return { book, clock, logs: cap.lines };
}

/** Adds entries n..n+count-1 (banned ones are refused), marks every 5th good and every 7th attempted. */
function fill(book: AddrBook, from: number, count: number): void {
  for (let i = from; i < from + count; i++) {
    const a = routableAddr(i);
    if (book.isBanned(a)) continue;
    book.addAddress(a, SRC(i % 13));
    if (i % 5 === 0) book.markGood(a.id);
    if (i % 7 === 0) book.markAttempt(a);
  }
}

const ids = (path: string): string[] => (JSON.parse(readFileSync(path, 'utf8')).addrs as { addr: { id: string } }[]).map((e) => e.addr.id).sort();
const tempFiles = (): string[] => readdirSync(dir).filter((f) => f.includes('.tmp-'));

describe('slice encoding', () => {
  const hex = fc.stringMatching(/^[0-9a-f]{40}$/);
  const ip = fc.oneof(fc.ipV4(), fc.constantFrom('2001:db8::1', '2a01:4f8::7', '::ffff:1.2.3.4'));
  const time = fc.oneof(fc.constant(ZERO_TIME_MS), fc.integer({ min: 0, max: 4_000_000_000_000 }));
  const entry = fc.record({
    id: hex,
    ip,
    port: fc.integer({ min: 1, max: 65535 }),
    srcId: hex,
    buckets: fc.array(fc.integer({ min: 0, max: 255 }), { maxLength: 4 }),
    attempts: fc.integer({ min: 0, max: 1000 }),
    old: fc.boolean(),
    times: fc.tuple(time, time, time),
  });
  type EntryValue = typeof entry extends fc.Arbitrary<infer T> ? T : never;
  const toKa = (e: EntryValue): KnownAddress => {
    const ka = new KnownAddress(new NetAddress(e.id, e.ip, e.port), new NetAddress(e.srcId, '8.8.8.8', 26656), e.times[0]);
    ka.buckets = e.buckets;
    ka.attempts = e.attempts;
    ka.bucketType = e.old ? 2 : 1;
    ka.lastSuccessMs = e.times[1];
    ka.lastBanTimeMs = e.times[2];
    return ka;
  };

  it('any slice size gives exactly encodeBook text (JSON.stringify with a tab indent)', () => {
    fc.assert(
      fc.property(fc.array(entry, { maxLength: 30 }), fc.array(entry, { maxLength: 10 }), fc.integer({ min: 1, max: 50 }), (as, bs, per) => {
        const addrs = as.map(toKa);
        const banned = bs.map(toKa);
        const expected = encodeBook(TEST_KEY, addrs, banned);
        const snap = takeSnapshot(TEST_KEY, addrs, banned);
        expect([...encodeSnapshotSlices(snap, per)].join('')).toBe(expected);
        expect(encodeSnapshot(snap)).toBe(expected);
      }),
      { numRuns: 200 },
    );
  });

  it('slices cover at most the given number of entries each', () => {
    const addrs = Array.from({ length: 25 }, (_, i) => new KnownAddress(routableAddr(i), SRC(1), 0));
    const snap = takeSnapshot(TEST_KEY, addrs, []);
    const pieces = [...encodeSnapshotSlices(snap, 10)];
    expect(pieces.map((p) => (p.match(/"addr"/g) ?? []).length)).toEqual([10, 10, 5, 0]);
  });

  it('the snapshot does not follow later changes of the entries', () => {
    const ka = new KnownAddress(routableAddr(1), SRC(1), 1000);
    ka.buckets = [3];
    const snap = takeSnapshot(TEST_KEY, [ka], []);
    const before = encodeSnapshot(snap);
    ka.buckets.push(9);
    ka.attempts = 7;
    ka.lastSuccessMs = 5000;
    expect(encodeSnapshot(snap)).toBe(before);
  });
});

describe('periodic asynchronous save', () => {
  it('writes the same bytes as save(), and leaves no temporary file', async () => {
    const path = join(dir, 'addrbook.json');
    const { book, clock } = bookWith(path);
    book.start();
    fill(book, 0, 300);
    book.markBad(routableAddr(3), 3_600_000);
    clock.advance(120_000);
    expect(existsSync(path)).toBe(false); // the I/O has not run yet: nothing blocked the loop
    await book.whenSaved();
    const asyncText = readFileSync(path, 'utf8');
    book.save();
    expect(readFileSync(path, 'utf8')).toBe(asyncText);
    expect(tempFiles()).toEqual([]);
    book.stop();
  });

  it('a save requested while one is in flight is coalesced into exactly one more save after it', async () => {
    const path = join(dir, 'addrbook.json');
    const fs = gatedFs();
    const { book, clock } = bookWith(path, fs.ops);
    book.start();
    fill(book, 0, 50);
    const reached = fs.holdAt('write');
    const first = book.saveAsync();
    await reached;
    fill(book, 50, 20);
    const more = [book.saveAsync(), book.saveAsync(), book.saveAsync()];
    clock.advance(120_000); // the periodic tick coalesces too
    expect(fs.tempOpens()).toBe(1);
    fs.release();
    await first;
    await Promise.all(more);
    await book.whenSaved();
    expect(fs.tempOpens()).toBe(2);
    expect(ids(path)).toHaveLength(70);
    expect(tempFiles()).toEqual([]);
    book.stop();
  });

  it('a periodic tick during a save adds a save only if the book changed meanwhile', async () => {
    const path = join(dir, 'addrbook.json');
    const fs = gatedFs();
    const { book, clock } = bookWith(path, fs.ops);
    book.start();
    fill(book, 0, 10);
    let reached = fs.holdAt('sync');
    clock.advance(120_000);
    await reached;
    clock.advance(120_000); // nothing changed since the snapshot
    fs.release();
    await book.whenSaved();
    expect(fs.tempOpens()).toBe(1);

    fill(book, 10, 5);
    reached = fs.holdAt('sync');
    clock.advance(120_000);
    await reached;
    book.addAddress(routableAddr(999), SRC(1)); // a change during the write
    clock.advance(120_000);
    fs.release();
    await book.whenSaved();
    expect(fs.tempOpens()).toBe(3);
    expect(ids(path)).toContain(routableAddr(999).id);
    book.stop();
  });

  it('changes made during the write do not tear the snapshot: the file is the book as of the call', async () => {
    const pathA = join(dir, 'a.json');
    const pathB = join(dir, 'b.json');
    const fs = gatedFs();
    // Twin books with identical content; B saves synchronously at the instant A's save started.
    const a = bookWith(pathA, fs.ops);
    const b = bookWith(pathB);
    for (const { book } of [a, b]) {
      book.start();
      fill(book, 0, 1200);
      book.markBad(routableAddr(10), 60_000);
    }
    const reached = fs.holdAt('write');
    const saving = a.book.saveAsync();
    b.book.save();
    await reached;
    // Every kind of change, to entries already captured: new entries, promotions, attempts,
    // bans, removals, reinstatement.
    fill(a.book, 5000, 200);
    for (let i = 0; i < 1200; i += 3) a.book.markAttempt(routableAddr(i));
    for (let i = 1; i < 1200; i += 11) a.book.markGood(routableAddr(i).id);
    for (let i = 2; i < 300; i += 17) a.book.markBad(routableAddr(i), 1000);
    for (let i = 4; i < 300; i += 19) a.book.removeAddress(routableAddr(i));
    a.clock.advance(61_000);
    a.book.reinstateBadPeers();
    fs.release();
    await saving;
    expect(readFileSync(pathA, 'utf8')).toBe(readFileSync(pathB, 'utf8'));
    // The changes are the next save's business.
    await a.book.saveAsync();
    expect(readFileSync(pathA, 'utf8')).not.toBe(readFileSync(pathB, 'utf8'));
    const reloaded = bookWith(pathA);
    reloaded.book.start();
    expect(reloaded.book.counts()).toEqual(a.book.counts());
    a.book.stop();
    b.book.stop();
  });
});

describe('stop() while an asynchronous save is in flight', () => {
  it.each(['open', 'write', 'sync', 'close'] as const)('held at %s: stop leaves the newest state, and the older save never lands after it', async (step) => {
    const path = join(dir, 'addrbook.json');
    const fs = gatedFs();
    const { book, clock } = bookWith(path, fs.ops);
    book.start();
    fill(book, 0, 40);
    book.save();
    fill(book, 40, 10);
    const reached = fs.holdAt(step);
    clock.advance(120_000);
    await reached;
    fill(book, 50, 10);
    book.stop();
    const atStop = readFileSync(path, 'utf8');
    expect(ids(path)).toHaveLength(60);
    fs.release();
    await book.whenSaved();
    expect(readFileSync(path, 'utf8')).toBe(atStop);
    expect(tempFiles()).toEqual([]);
  });

  it('save() during an asynchronous save wins; the async caller still resolves (newer state is on disk)', async () => {
    const path = join(dir, 'addrbook.json');
    const fs = gatedFs();
    const { book } = bookWith(path, fs.ops);
    book.start();
    fill(book, 0, 20);
    const reached = fs.holdAt('close');
    const saving = book.saveAsync();
    await reached;
    fill(book, 20, 5);
    book.save();
    fs.release();
    await expect(saving).resolves.toBeUndefined();
    expect(ids(path)).toHaveLength(25);
    expect(tempFiles()).toEqual([]);
    book.stop();
  });

  it('stop({ save: false }) abandons it: the file stays as it was, waiters are told', async () => {
    const path = join(dir, 'addrbook.json');
    const fs = gatedFs();
    const { book } = bookWith(path, fs.ops);
    book.start();
    fill(book, 0, 10);
    book.save();
    const before = readFileSync(path, 'utf8');
    fill(book, 10, 10);
    const reached = fs.holdAt('sync');
    const saving = book.saveAsync().then(() => 'saved', (e: unknown) => e);
    const queued = book.saveAsync().then(() => 'saved', (e: unknown) => e);
    await reached;
    book.stop({ save: false });
    fs.release();
    expect(await saving).toBeInstanceOf(ErrAddrBookSaveAbandoned);
    expect(await queued).toBeInstanceOf(ErrAddrBookSaveAbandoned);
    await book.whenSaved();
    expect(readFileSync(path, 'utf8')).toBe(before);
    expect(tempFiles()).toEqual([]);
  });

  it('a queued follow-up is answered by the final save of stop()', async () => {
    const path = join(dir, 'addrbook.json');
    const fs = gatedFs();
    const { book } = bookWith(path, fs.ops);
    book.start();
    fill(book, 0, 10);
    const reached = fs.holdAt('write');
    const first = book.saveAsync();
    await reached;
    fill(book, 10, 3);
    const queued = book.saveAsync();
    book.stop();
    await expect(queued).resolves.toBeUndefined();
    expect(ids(path)).toHaveLength(13);
    fs.release();
    await first;
    await book.whenSaved();
    expect(fs.tempOpens()).toBe(1); // the follow-up did not run after stop
    expect(ids(path)).toHaveLength(13);
  });
});

describe('a failing disk', () => {
  function failingOnce(step: 'write' | 'sync' | 'open' | 'renameSync', code = 'ENOSPC'): { ops: AtomicWriteAsyncFs; failures: () => number } {
    let armed = true;
    let failures = 0;
    const boom = (): Error => {
      armed = false;
      failures++;
      return Object.assign(new Error(`simulated ${code} at ${step}`), { code });
    };
    const ops: AtomicWriteAsyncFs = {
      ...realAsyncFs,
      renameSync(from, to) {
        if (armed && step === 'renameSync') throw boom();
        realAsyncFs.renameSync(from, to);
      },
      async open(path, flags, mode) {
        if (armed && step === 'open' && flags === 'w') throw boom();
        const h = await realAsyncFs.open(path, flags, mode);
        return {
          write: async (data, off, len) => {
            if (armed && step === 'write') throw boom();
            return h.write(data, off, len);
          },
          sync: async () => {
            if (armed && step === 'sync' && flags === 'w') throw boom();
            return h.sync();
          },
          close: () => h.close(),
        };
      },
    };
    return { ops, failures: () => failures };
  }

  it.each(['open', 'write', 'sync', 'renameSync'] as const)('failing at %s: logged, old file kept, retried at the next period with nothing lost', async (step) => {
    const path = join(dir, 'addrbook.json');
    const disk = failingOnce(step);
    const { book, clock, logs } = bookWith(path, disk.ops);
    book.start();
    fill(book, 0, 30);
    book.save();
    const before = readFileSync(path, 'utf8');
    fill(book, 30, 30);
    clock.advance(120_000);
    await book.whenSaved();
    expect(disk.failures()).toBe(1);
    expect(readFileSync(path, 'utf8')).toBe(before);
    expect(tempFiles()).toEqual([]);
    const err = logs().find((l) => l.level === 50)!;
    expect(String(err.msg)).toContain('retrying at the next period');
    expect(err.file).toBe(path);
    expect(book.size()).toBe(60);
    clock.advance(120_000);
    await book.whenSaved();
    expect(ids(path)).toHaveLength(60);
    book.stop();
  });

  it('saveAsync() rejects with the error', async () => {
    const path = join(dir, 'addrbook.json');
    const { book } = bookWith(path, failingOnce('write', 'EIO').ops);
    book.start();
    fill(book, 0, 5);
    await expect(book.saveAsync()).rejects.toMatchObject({ code: 'EIO' });
    await expect(book.saveAsync()).resolves.toBeUndefined();
    expect(ids(path)).toHaveLength(5);
    book.stop();
  });
});

describe('writeFileAtomicAsync: crash at any step', () => {
  /** Reads the target before every call: it must always be the old text or the new one. */
  function watching(path: string, allowed: string[], failAt?: string): { ops: AtomicWriteAsyncFs; seen: string[] } {
    const seen: string[] = [];
    const look = (name: string): void => {
      seen.push(name);
      expect(allowed).toContain(readFileSync(path, 'utf8'));
      if (name === failAt) throw new Error(`simulated crash at ${name}`);
    };
    const ops: AtomicWriteAsyncFs = {
      mkdir: async (p, o) => (look('mkdir'), realAsyncFs.mkdir(p, o)),
      unlink: async (p) => realAsyncFs.unlink(p),
      renameSync: (a, b) => (look('renameSync'), realAsyncFs.renameSync(a, b)),
      async open(p, flags, mode) {
        look(`open-${flags}`);
        const h = await realAsyncFs.open(p, flags, mode);
        return {
          write: async (d, o, l) => (look('write'), h.write(d, o, l)),
          sync: async () => (look(`sync-${flags}`), h.sync()),
          close: async () => (look(`close-${flags}`), h.close()),
        };
      },
    };
    return { ops, seen };
  }

  it('the target is the old or the new file at every step, and a crash at any step leaves the old one and no temp file', async () => {
    const path = join(dir, 'addrbook.json');
    writeFileAtomic(path, 'old content');
    const produce = async (write: (p: string) => Promise<void>): Promise<void> => {
      for (const p of ['new ', 'content ', 'in pieces']) await write(p);
    };
    const full = watching(path, ['old content', 'new content in pieces']);
    expect(await writeFileAtomicAsync(path, produce, { ops: full.ops })).toBe(true);
    expect(readFileSync(path, 'utf8')).toBe('new content in pieces');
    const steps = [...new Set(full.seen)].filter((s) => s !== 'open-r' && s !== 'sync-r' && s !== 'close-r');
    expect(steps).toEqual(['mkdir', 'open-w', 'write', 'sync-w', 'close-w', 'renameSync']);
    for (const step of steps) {
      writeFileAtomic(path, 'old content');
      const w = watching(path, ['old content'], step);
      await expect(writeFileAtomicAsync(path, produce, { ops: w.ops })).rejects.toThrow(/simulated crash/);
      expect(readFileSync(path, 'utf8')).toBe('old content');
      expect(readdirSync(dir)).toEqual(['addrbook.json']);
    }
  });

  it('shouldCommit false: the target is left alone and the temp file removed', async () => {
    const path = join(dir, 'addrbook.json');
    writeFileAtomic(path, 'old content');
    const done = await writeFileAtomicAsync(path, (write) => write('newer'), { shouldCommit: () => false });
    expect(done).toBe(false);
    expect(readdirSync(dir)).toEqual(['addrbook.json']);
    expect(readFileSync(path, 'utf8')).toBe('old content');
  });
});

describe('the first save keeps a corrupt original aside on the asynchronous path too', () => {
  it('periodic save moves the bad file aside before replacing it', async () => {
    const path = join(dir, 'addrbook.json');
    writeFileAtomic(path, '{"key": "01');
    const { book, clock } = bookWith(path);
    const report = book.start()!;
    expect(report.status).toBe('corrupt');
    book.addAddress(routableAddr(1), SRC(1));
    clock.advance(120_000);
    await book.whenSaved();
    expect(readFileSync(report.keptAsidePath!, 'utf8')).toBe('{"key": "01');
    expect(ids(path)).toEqual([routableAddr(1).id]);
    book.stop();
  });
});

describe('random interleavings of changes, asynchronous and synchronous saves', () => {
  type Action =
    | { t: 'fill'; from: number; count: number }
    | { t: 'ban'; n: number }
    | { t: 'saveAsync' }
    | { t: 'save' }
    | { t: 'period' }
    | { t: 'turn' }
    | { t: 'idle' };
  const action: fc.Arbitrary<Action> = fc.oneof(
    fc.record({ t: fc.constant('fill' as const), from: fc.integer({ min: 0, max: 3000 }), count: fc.integer({ min: 1, max: 300 }) }),
    fc.record({ t: fc.constant('ban' as const), n: fc.integer({ min: 0, max: 3000 }) }),
    fc.record({ t: fc.constant('saveAsync' as const) }),
    fc.record({ t: fc.constant('save' as const) }),
    fc.record({ t: fc.constant('period' as const) }),
    fc.record({ t: fc.constant('turn' as const) }),
    fc.record({ t: fc.constant('idle' as const) }),
  );

  it('the file always parses, and after stop() it is exactly the final book', async () => {
    let run = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(action, { minLength: 1, maxLength: 25 }), async (actions) => {
        const path = join(dir, `run-${run++}`, 'addrbook.json');
        const { book, clock } = bookWith(path);
        book.start();
        const pending: Promise<unknown>[] = [];
        const checkFile = (): void => {
          if (existsSync(path)) JSON.parse(readFileSync(path, 'utf8'));
        };
        for (const a of actions) {
          if (a.t === 'fill') fill(book, a.from, a.count);
          else if (a.t === 'ban') book.markBad(routableAddr(a.n), 60_000);
          else if (a.t === 'saveAsync') pending.push(book.saveAsync());
          else if (a.t === 'save') book.save();
          else if (a.t === 'period') clock.advance(120_000);
          else if (a.t === 'turn') await new Promise((r) => setImmediate(r));
          else await book.whenSaved();
          checkFile();
        }
        book.stop();
        const atStop = readFileSync(path, 'utf8');
        await Promise.all(pending);
        await book.whenSaved();
        expect(readFileSync(path, 'utf8')).toBe(atStop);
        book.save(); // the book as it is now, encoded again
        expect(readFileSync(path, 'utf8')).toBe(atStop);
        expect(readdirSync(join(path, '..')).filter((f) => f.includes('.tmp-'))).toEqual([]);
      }),
      { numRuns: 40 },
    );
  });
});
