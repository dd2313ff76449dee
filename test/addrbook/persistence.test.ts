/** addrbook.json: CometBFT's files, our round trip, bans, atomic writes, corrupt files. */
import { copyFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AddrBook } from '../../addrbook/addr-book.js';
import { realFs, writeFileAtomic, type AtomicWriteFs } from '../../addrbook/atomic-write.js';
import { ErrAddrBookFileCorrupt } from '../../addrbook/errors.js';
import { formatTime, parseTime } from '../../addrbook/time-format.js';
import { ZERO_TIME_MS } from '../../addrbook/known-address.js';
import { VirtualClock } from '../../p2p/clock.js';
import { SeededRng } from '../../p2p/rng.js';
import { NetAddress } from '../../p2p/net-address.js';
import { addrAt, captureLogger, makeBook, routableAddr } from './helpers.js';

const VECTORS = '../shared/vectors/cometbft';
let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'addrbook-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

function bookAt(filePath: string, options: Record<string, unknown> = {}, startMs = Date.parse('2026-11-21T10:08:00Z')) {
  const clock = new VirtualClock(startMs);
  const cap = captureLogger();
  const book = new AddrBook({ clock, rng: new SeededRng(3), logger: cap.logger }, { filePath, ...options });
  return { book, clock, logs: cap.lines };
}

/** The file's entries as a canonical, order-free value (Go writes them in map order). */
function canonical(text: string): unknown {
  const doc = JSON.parse(text);
  const sortById = (xs: { addr: { id: string } }[] | undefined) => [...(xs ?? [])].sort((a, b) => a.addr.id.localeCompare(b.addr.id));
  return { key: doc.key, addrs: sortById(doc.addrs), banned: sortById(doc.banned) };
}

describe('loading CometBFT files', () => {
  const go = JSON.parse(readFileSync(`${VECTORS}/go-generated-vectors.json`, 'utf8'));
  it.each(go.addrbooks.files as { standalone_file: string; reload_with_loadFromFile: { size: number; n_new: number; n_old: number } }[])(
    '$standalone_file loads with the sizes Go reports, and saves back the same entries',
    (f) => {
      const path = join(dir, 'addrbook.json');
      copyFileSync(`${VECTORS}/${f.standalone_file}`, path);
      const original = readFileSync(path, 'utf8');
      const { book } = bookAt(path);
      const report = book.start()!;
      expect(report.status).toBe('loaded');
      expect(report.skipped).toBe(0);
      expect(book.size()).toBe(f.reload_with_loadFromFile.size);
      expect(book.counts()).toMatchObject({ new: f.reload_with_loadFromFile.n_new, old: f.reload_with_loadFromFile.n_old });
      expect(book.key).toBe('5c0ffee0ddba11defaced000');
      book.checkInvariants();
      book.save();
      // Same entries, buckets, counters and (to the millisecond) times; Go keeps nanoseconds.
      const trunc = (t: string) => formatTime(parseTime(t));
      const norm = (text: string) => {
        const c = canonical(text) as { addrs: Record<string, unknown>[] };
        for (const e of c.addrs) for (const k of ['last_attempt', 'last_success', 'last_ban_time']) e[k] = trunc(e[k] as string);
        return c;
      };
      expect(norm(readFileSync(path, 'utf8'))).toEqual(norm(original));
    },
  );

  it('keeps the details of the Go files (attempts, old entries, reinstated ban time)', () => {
    const path = join(dir, 'a.json');
    copyFileSync(`${VECTORS}/go-generated-addrbook-after-ban-reinstated.json`, path);
    const { book } = bookAt(path);
    book.start();
    const two = new NetAddress('2222222222222222222222222222222222222222', '198.51.100.7', 26656);
    const one = new NetAddress('1111111111111111111111111111111111111111', '203.0.113.10', 26656);
    expect(book.hasAddress(two)).toBe(true);
    expect(book.isBanned(two)).toBe(false);
    expect(book.isGood(one)).toBe(true);
    book.save();
    const saved = JSON.parse(readFileSync(path, 'utf8'));
    const e2 = saved.addrs.find((e: { addr: { id: string } }) => e.addr.id === two.id);
    expect(e2.last_ban_time).not.toBe('0001-01-01T00:00:00Z');
    expect(e2.bucket_type).toBe(1);
  });

  it('loads the hand-written example (buckets new[17], new[201], old[42])', () => {
    const path = join(dir, 'addrbook.json');
    copyFileSync(`${VECTORS}/derived-addrbook-example.json`, path);
    const { book } = bookAt(path);
    const report = book.start()!;
    expect(report).toMatchObject({ status: 'loaded', loaded: 2, skipped: 0, replaced: 0 });
    expect(book.counts()).toMatchObject({ new: 1, old: 1 });
    book.save();
    const saved = JSON.parse(readFileSync(path, 'utf8'));
    expect(saved.addrs.map((e: { buckets: number[] }) => e.buckets).sort()).toEqual([[17, 201], [42]].sort());
    // "+01:00" is read as an offset: 03:10:00.5+01:00 is 02:10:00.5Z.
    expect(saved.addrs.find((e: { bucket_type: number }) => e.bucket_type === 2).last_success).toBe('2025-01-02T02:10:00.5Z');
  });

  it('re-places entries whose buckets do not exist in our layout', () => {
    const path = join(dir, 'addrbook.json');
    copyFileSync(`${VECTORS}/derived-addrbook-example.json`, path);
    const { book } = bookAt(path, { layout: { newBucketCount: 16, oldBucketCount: 8 } });
    const report = book.start()!;
    expect(report).toMatchObject({ loaded: 2, replaced: 2 });
    book.checkInvariants();
  });

  it('old entries whose saved old bucket is taken stay in the book as new entries', () => {
    const path = join(dir, 'addrbook.json');
    const doc = JSON.parse(readFileSync(`${VECTORS}/go-generated-addrbook-with-old.json`, 'utf8'));
    // Both old entries claim old bucket 0, and a one-bucket old table has room for one only.
    for (const e of doc.addrs) if (e.bucket_type === 2) e.buckets = [0];
    writeFileSync(path, JSON.stringify(doc));
    const { book } = bookAt(path, { layout: { oldBucketCount: 1, bucketSize: 1 } });
    const report = book.start()!;
    expect(report).toMatchObject({ loaded: 4, skipped: 0 });
    expect(book.counts()).toMatchObject({ old: 1, new: 3 });
    book.checkInvariants();
  });

  it('the legacy 2017 file (capitalised keys, no IDs) is kept aside and the book starts empty', () => {
    const path = join(dir, 'addrbook.json');
    copyFileSync(`${VECTORS}/fuzz-p2p-pex-testdata/addrbook1`, path);
    const { book, logs } = bookAt(path);
    const report = book.start()!;
    expect(report.status).toBe('corrupt');
    expect(book.size()).toBe(0);
    const warn = logs().find((l) => l.level === 40)!;
    expect(String(warn.msg)).toContain(path);
    expect(String(warn.msg)).toContain(report.keptAsidePath!);
    // Loading changes nothing on disk: the move happens when the first save would overwrite it.
    expect(readdirSync(dir)).toEqual(['addrbook.json']);
    book.stop();
    expect(readFileSync(report.keptAsidePath!, 'utf8')).toBe(readFileSync(`${VECTORS}/fuzz-p2p-pex-testdata/addrbook1`, 'utf8'));
    expect(JSON.parse(readFileSync(path, 'utf8')).addrs).toEqual([]);
  });
});

describe('our own files', () => {
  it('an empty book saves and loads as empty', () => {
    const path = join(dir, 'addrbook.json');
    const { book } = bookAt(path);
    book.start();
    book.stop();
    const text = readFileSync(path, 'utf8');
    expect(text).toBe(`{\n\t"key": "${book.key}",\n\t"addrs": []\n}`);
    const { book: again } = bookAt(path);
    expect(again.start()).toMatchObject({ status: 'loaded', loaded: 0 });
    expect(again.empty()).toBe(true);
    expect(again.key).toBe(book.key);
  });

  it('100 addresses, some old, some attempted, some banned, survive save and load exactly', () => {
    const path = join(dir, 'addrbook.json');
    const { book, clock } = bookAt(path);
    book.start();
    const addrs: NetAddress[] = [];
    for (let i = 0; i < 100; i++) {
      const a = routableAddr(i);
      book.addAddress(a, addrAt(i, `${60 + (i % 7)}.1.1.1`, 26656, 'e'));
      addrs.push(a);
      clock.advance(1234);
    }
    addrs.slice(0, 30).forEach((a) => book.markGood(a.id));
    addrs.slice(30, 50).forEach((a) => book.markAttempt(a));
    addrs.slice(50, 55).forEach((a) => book.markBad(a, 3_600_000));
    book.save();
    const first = readFileSync(path, 'utf8');
    expect(first.endsWith('}')).toBe(true);
    expect(first).toContain('\n\t\t{\n\t\t\t"addr": {\n\t\t\t\t"id": ');
    const { book: again, clock: clock2 } = bookAt(path);
    again.start();
    again.checkInvariants();
    expect(again.size()).toBe(95);
    expect(again.counts()).toEqual(book.counts());
    for (const a of addrs.slice(50, 55)) expect(again.isBanned(a)).toBe(true);
    expect(() => again.addAddress(addrs[50], addrs[0])).toThrow();
    again.save();
    expect(canonical(readFileSync(path, 'utf8'))).toEqual(canonical(first));
    // Bans end on time after a restart too.
    clock2.advance(2 * 3_600_000);
    expect(again.reinstateBadPeers()).toBe(5);
    expect(again.hasAddress(addrs[50])).toBe(true);
  });

  it('saves every 2 minutes when changed, and not when unchanged', async () => {
    const path = join(dir, 'addrbook.json');
    const { book, clock } = bookAt(path);
    book.start();
    clock.advance(120_000);
    await book.whenSaved();
    expect(existsSync(path)).toBe(false);
    book.addAddress(routableAddr(1), routableAddr(2, 'e'));
    clock.advance(119_999);
    await book.whenSaved();
    expect(existsSync(path)).toBe(false);
    clock.advance(1);
    // The periodic save writes asynchronously: its file is there once it is done.
    await book.whenSaved();
    expect(JSON.parse(readFileSync(path, 'utf8')).addrs).toHaveLength(1);
    book.stop();
  });

  it('a truncated file is kept aside, warned about by name, and the book starts empty', () => {
    const path = join(dir, 'addrbook.json');
    const { book } = bookAt(path);
    book.start();
    for (let i = 0; i < 10; i++) book.addAddress(routableAddr(i), routableAddr(99, 'e'));
    book.stop();
    const full = readFileSync(path, 'utf8');
    writeFileSync(path, full.slice(0, full.length >> 1));
    const { book: again, logs } = bookAt(path);
    const report = again.start()!;
    expect(report.status).toBe('corrupt');
    expect(again.empty()).toBe(true);
    again.save();
    expect(readFileSync(report.keptAsidePath!, 'utf8')).toBe(full.slice(0, full.length >> 1));
    expect(JSON.parse(readFileSync(path, 'utf8')).addrs).toEqual([]);
    expect(logs().some((l) => l.level === 40 && String(l.msg).includes(path) && l.file === path)).toBe(true);
  });

  it.each([
    ['empty file', ''],
    ['not an object', '[1,2,3]'],
    ['bad key', '{"key":"xyz","addrs":[]}'],
    ['addrs not a list', '{"key":"0123456789abcdef01234567","addrs":{}}'],
    ['binary', '\u0000\u0001\u0002'],
  ])('%s counts as corrupt', (_name, text) => {
    const path = join(dir, 'addrbook.json');
    writeFileSync(path, text);
    const { book } = bookAt(path);
    expect(book.start()!.status).toBe('corrupt');
    expect(readdirSync(dir).some((f) => f.startsWith('addrbook.json.corrupt-'))).toBe(false);
    book.stop();
    expect(readdirSync(dir).some((f) => f.startsWith('addrbook.json.corrupt-'))).toBe(true);
  });

  it('an unreadable path (a directory) is moved aside too', () => {
    const path = join(dir, 'addrbook.json');
    mkdirSync(path);
    const { book } = bookAt(path);
    expect(book.start()!.status).toBe('corrupt');
    book.addAddress(routableAddr(1), routableAddr(2, 'e'));
    book.save();
    expect(JSON.parse(readFileSync(path, 'utf8')).addrs).toHaveLength(1);
  });

  it('invalid entries are skipped, the rest loads, and the original is copied aside first', () => {
    const path = join(dir, 'addrbook.json');
    const doc = JSON.parse(readFileSync(`${VECTORS}/go-generated-addrbook-with-old.json`, 'utf8'));
    doc.addrs[0].bucket_type = 7;
    doc.addrs[1].addr.ip = 'not-an-ip';
    doc.addrs[2].last_attempt = 'yesterday';
    writeFileSync(path, JSON.stringify(doc));
    const { book, logs } = bookAt(path);
    const report = book.start()!;
    expect(report).toMatchObject({ status: 'loaded', loaded: 1, skipped: 3 });
    expect(existsSync(report.keptAsidePath!)).toBe(false);
    book.save();
    expect(readFileSync(report.keptAsidePath!, 'utf8')).toBe(JSON.stringify(doc));
    expect(JSON.parse(readFileSync(path, 'utf8')).addrs).toHaveLength(1);
    expect(logs().some((l) => l.level === 40 && String(l.msg).includes(path))).toBe(true);
  });
});

describe('stop({ save: false }): an abandoned session leaves the disk as it was', () => {
  const snapshot = (): Record<string, string> =>
    Object.fromEntries(readdirSync(dir).map((f) => [f, readFileSync(join(dir, f), 'latin1')]));

  it('no file: none is written, by stop or by the periodic save timer afterwards', () => {
    const path = join(dir, 'addrbook.json');
    const { book, clock } = bookAt(path);
    book.start();
    book.addAddress(routableAddr(1), routableAddr(2, 'e'));
    book.stop({ save: false });
    clock.advance(10 * 120_000);
    expect(readdirSync(dir)).toEqual([]);
  });

  it.each([
    ['a CometBFT file (our save would rewrite it)', () => readFileSync(`${VECTORS}/go-generated-addrbook-with-old.json`, 'utf8')],
    ['a corrupt file (a save would move it aside)', () => '{"key": "0123'],
    ['a file with unreadable entries (a save would copy it aside)', () => {
      const doc = JSON.parse(readFileSync(`${VECTORS}/go-generated-addrbook-with-old.json`, 'utf8'));
      doc.addrs[0].bucket_type = 7;
      return JSON.stringify(doc);
    }],
  ])('%s stays byte-identical and alone', (_name, content) => {
    writeFileSync(join(dir, 'addrbook.json'), content());
    const before = snapshot();
    const { book } = bookAt(join(dir, 'addrbook.json'));
    book.start();
    book.addAddress(routableAddr(1), routableAddr(2, 'e'));
    book.stop({ save: false });
    expect(snapshot()).toEqual(before);
  });

  it('a later start of the same book loads the file again and a normal stop saves', () => {
    const path = join(dir, 'addrbook.json');
    writeFileSync(path, '{"key": "0123');
    const { book } = bookAt(path);
    expect(book.start()!.status).toBe('corrupt');
    book.stop({ save: false });
    const report = book.start()!;
    expect(report.status).toBe('corrupt');
    book.stop();
    expect(readFileSync(report.keptAsidePath!, 'utf8')).toBe('{"key": "0123');
    expect(JSON.parse(readFileSync(path, 'utf8')).addrs).toEqual([]);
  });
});

describe('atomic writes', () => {
  function failing(step: keyof AtomicWriteFs): AtomicWriteFs {
    return {
      ...realFs,
      [step]: () => {
        throw new Error(`simulated crash at ${step}`);
      },
    } as AtomicWriteFs;
  }

  it.each(['writeSync', 'fsyncSync', 'renameSync'] as const)('a failure at %s leaves the old file whole and no temp file', (step) => {
    const path = join(dir, 'addrbook.json');
    writeFileAtomic(path, 'old content');
    expect(() => writeFileAtomic(path, 'new content', 0o644, failing(step))).toThrow(/simulated crash/);
    expect(readFileSync(path, 'utf8')).toBe('old content');
    expect(readdirSync(dir)).toEqual(['addrbook.json']);
    writeFileAtomic(path, 'new content');
    expect(readFileSync(path, 'utf8')).toBe('new content');
  });

  it('a crash before the rename (leftover temp file) does not affect loading', () => {
    const path = join(dir, 'addrbook.json');
    const { book } = bookAt(path);
    book.start();
    book.addAddress(routableAddr(1), routableAddr(2, 'e'));
    book.stop();
    writeFileSync(join(dir, '.addrbook.json.tmp-1-0'), '{"key": "0123');
    const { book: again } = bookAt(path);
    expect(again.start()).toMatchObject({ status: 'loaded', loaded: 1 });
  });

  it('save() on a memory-only book is a no-op', () => {
    const { book } = makeBook();
    expect(() => book.save()).not.toThrow();
  });

  it('a bad file that cannot be moved aside is never saved over', () => {
    // A regular file where a directory should be: reading fails (ENOTDIR) and so does the rename.
    writeFileSync(join(dir, 'notadir'), 'x');
    const path = join(dir, 'notadir', 'addrbook.json');
    const { book, logs } = bookAt(path);
    const report = book.start()!;
    expect(report.status).toBe('corrupt');
    expect(logs().some((l) => l.level === 40 && String(l.msg).includes(path))).toBe(true);
    book.addAddress(routableAddr(1), routableAddr(2, 'e'));
    expect(() => book.save()).toThrow(ErrAddrBookFileCorrupt);
    expect(() => book.save()).toThrow(/could not keep it aside/);
    expect(() => book.stop()).not.toThrow();
    expect(readFileSync(join(dir, 'notadir'), 'utf8')).toBe('x');
  });
});

describe('time format', () => {
  it('round-trips Go times and the zero time', () => {
    expect(formatTime(ZERO_TIME_MS)).toBe('0001-01-01T00:00:00Z');
    expect(parseTime('0001-01-01T00:00:00Z')).toBe(ZERO_TIME_MS);
    expect(parseTime('2026-11-21T10:07:25.802574625Z')).toBe(Date.UTC(2026, 10, 21, 10, 7, 25, 802));
    expect(formatTime(Date.UTC(2026, 10, 21, 10, 7, 25, 800))).toBe('2026-11-21T10:07:25.8Z');
    expect(formatTime(Date.UTC(2026, 10, 21, 10, 7, 25, 0))).toBe('2026-11-21T10:07:25Z');
    expect(parseTime('2025-01-02T03:10:00.5+01:00')).toBe(Date.UTC(2025, 0, 2, 2, 10, 0, 500));
    expect(() => parseTime('2025-02-30T00:00:00Z')).toThrow();
    expect(() => parseTime(12)).toThrow();
  });
});

