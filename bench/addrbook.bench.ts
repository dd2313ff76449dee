/**
 * Address book at full tables (256 x 64 new + 64 x 64 old = 20 480 entries). Each figure's baseline
 * is the same number of operations on a plain Map of the same size, measured in the same run.
 * - addrbook_add_per_s (higher is better; target >= 100 000): addAddress of fresh addresses into the
 *   full book (most are refused because their bucket holds no terrible entry: the steady state).
 * - addrbook_pick_per_s (higher is better; target >= 1 000 000): pickAddress(50).
 * - addrbook_selection_ms (lower is better; target <= 1): getSelection() (250 addresses).
 * - addrbook_save_ms (lower is better; target <= 200): save() including fsync and rename.
 * - addrbook_load_ms (lower is better; target <= 500): a new book's start() plus checkInvariants().
 * - addrbook_save_block_ms (lower is better): the longest single event-loop block during an
 *   asynchronous save (saveAsync, the periodic save's path: snapshot, slices encoded between
 *   writes, fsync, rename, directory fsync), seen by a setImmediate probe; median of 5 saves.
 *   Baseline: the same probe while fs.promises writes an equally large prepared Buffer the same
 *   way (temp file, fsync, rename, directory fsync), i.e. the floor any asynchronous save pays.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync, openSync, fsyncSync, closeSync, statSync, promises as fsp } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AddrBook } from '../addrbook/addr-book.js';
import { VirtualClock } from '../p2p/clock.js';
import { SeededRng } from '../p2p/rng.js';
import { NetAddress } from '../p2p/net-address.js';
import { median, report } from './harness.js';

const id = (prefix: string, n: number): string => (prefix + n.toString(16)).padStart(40, '0');
const addrOf = (prefix: string, n: number): NetAddress =>
  new NetAddress(id(prefix, n), `${20 + (n % 60)}.${(n >> 6) & 0xff}.${(n >> 14) & 0xff}.${1 + (n % 250)}`, 26656);
const srcOf = (n: number): NetAddress => new NetAddress(id('5', n), `${100 + (n % 20)}.${(n >> 4) & 0xff}.0.1`, 26656);

function fullBook(filePath: string): { book: AddrBook; clock: VirtualClock; stored: NetAddress[] } {
  const clock = new VirtualClock(1_700_000_000_000);
  const book = new AddrBook({ clock, rng: new SeededRng(1) }, { filePath, key: 'bench0123456789abcdef012'.replace(/[^0-9a-f]/g, 'a') });
  let n = 0;
  // Promote until the old table is full, then top the new table up.
  while (book.counts().old < 4096 && n < 400_000) {
    const a = addrOf('1', n);
    book.addAddress(a, srcOf(n++ % 4000));
    book.markGood(a.id);
  }
  while (book.counts().new < 16_384 && n < 1_500_000) book.addAddress(addrOf('1', n), srcOf(n++ % 4000));
  const stored: NetAddress[] = [];
  for (let i = 0; i < n; i++) {
    const a = addrOf('1', i);
    if (book.hasAddress(a)) stored.push(a);
  }
  return { book, clock, stored };
}

/** Its 200 000 fresh addresses die with this function, so later figures do not pay for them in GC. */
function benchAdd(book: AddrBook, map: Map<string, NetAddress>): void {
  const ADDS = 200_000;
  const fresh = Array.from({ length: ADDS }, (_, i) => addrOf('3', i));
  const srcs = Array.from({ length: 4000 }, (_, i) => srcOf(i));
  const addMs = median([0, 1, 2].map((r) => timeIt(() => {
    for (let i = 0; i < ADDS; i++) book.addAddress(fresh[i], srcs[(i + r) % 4000]);
  })));
  const mapAddMs = median([0, 1, 2].map(() => timeIt(() => {
    for (let i = 0; i < ADDS; i++) {
      map.set(fresh[i].id, fresh[i]);
      map.delete(fresh[i].id);
    }
  })));
  report('addrbook_add_per_s', ADDS / (addMs / 1000), 'ops/s', ADDS / (mapAddMs / 1000));
}

/**
 * Runs `work` while a setImmediate probe records the gaps between its turns; returns the longest
 * gap (ms), i.e. the longest time anything kept the event loop from coming back.
 */
async function longestBlock(work: () => Promise<void>): Promise<number> {
  let last = performance.now();
  let longest = 0;
  let probing = true;
  const tick = (): void => {
    const t = performance.now();
    longest = Math.max(longest, t - last);
    last = t;
    if (probing) setImmediate(tick);
  };
  setImmediate(tick);
  await new Promise((r) => setImmediate(r));
  longest = 0;
  last = performance.now();
  await work();
  longest = Math.max(longest, performance.now() - last);
  probing = false;
  await new Promise((r) => setImmediate(r));
  return longest;
}

/** What an asynchronous save of `bytes` costs at the least: temp file, fsync, rename, directory fsync. */
async function writeBufferAsync(path: string, bytes: Buffer): Promise<void> {
  const temp = `${path}.tmp`;
  const fh = await fsp.open(temp, 'w');
  await fh.write(bytes, 0, bytes.length);
  await fh.sync();
  await fh.close();
  await fsp.rename(temp, path);
  const dh = await fsp.open(join(path, '..'), 'r');
  await dh.sync();
  await dh.close();
}

async function benchSaveBlock(book: AddrBook, filePath: string, dir: string): Promise<void> {
  const blocks: number[] = [];
  for (let i = 0; i < 5; i++) blocks.push(await longestBlock(() => book.saveAsync()));
  const bytes = Buffer.alloc(statSync(filePath).size, 0x20);
  const bufFile = join(dir, 'buffer.json');
  const base: number[] = [];
  for (let i = 0; i < 5; i++) base.push(await longestBlock(() => writeBufferAsync(bufFile, bytes)));
  // The samples too: on a loaded machine one scheduler or GC pause can dominate a median.
  process.stderr.write(`addrbook_save_block_ms samples: ${blocks.map((b) => b.toFixed(1)).join(' ')}; baseline ${base.map((b) => b.toFixed(1)).join(' ')}\n`);
  report('addrbook_save_block_ms', median(blocks), 'ms', median(base));
}

function timeIt(fn: () => void): number {
  const t0 = performance.now();
  fn();
  return performance.now() - t0;
}

export async function run(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'addrbook-bench-'));
  const filePath = join(dir, 'addrbook.json');
  const { book, stored } = fullBook(filePath);
  const size = book.size();
  if (size !== 20_480) process.stderr.write(`addrbook bench: book holds ${size} entries (${JSON.stringify(book.counts())})\n`);
  const map = new Map<string, NetAddress>();
  for (const a of stored) map.set(a.id, a);
  const keys = [...map.keys()];
  const rng = new SeededRng(9);

  benchAdd(book, map);

  // pick
  const PICKS = 1_000_000;
  let sink = 0;
  const pickMs = median([0, 1, 2].map(() => timeIt(() => {
    for (let i = 0; i < PICKS; i++) sink += book.pickAddress(50)!.port;
  })));
  const mapPickMs = median([0, 1, 2].map(() => timeIt(() => {
    for (let i = 0; i < PICKS; i++) sink += map.get(keys[rng.int(keys.length)])!.port;
  })));
  report('addrbook_pick_per_s', PICKS / (pickMs / 1000), 'ops/s', PICKS / (mapPickMs / 1000));

  // selection
  const SELECTIONS = 500;
  const selMs = timeIt(() => {
    for (let i = 0; i < SELECTIONS; i++) sink += book.getSelection().length;
  }) / SELECTIONS;
  const mapSelMs = timeIt(() => {
    for (let i = 0; i < SELECTIONS; i++) {
      const out: NetAddress[] = [];
      for (let j = 0; j < 250; j++) out.push(map.get(keys[rng.int(keys.length)])!);
      sink += out.length;
    }
  }) / SELECTIONS;
  report('addrbook_selection_ms', selMs, 'ms', mapSelMs);

  // save (with fsync)
  const saveMs = median([0, 1, 2, 3, 4].map(() => timeIt(() => book.save())));
  const mapFile = join(dir, 'map.json');
  const mapSaveMs = median([0, 1, 2, 3, 4].map(() => timeIt(() => {
    writeFileSync(mapFile, JSON.stringify([...map.values()].map((a) => a.toProto()), null, '\t'));
    const fd = openSync(mapFile, 'r+');
    fsyncSync(fd);
    closeSync(fd);
  })));
  report('addrbook_save_ms', saveMs, 'ms', mapSaveMs);

  await benchSaveBlock(book, filePath, dir);

  // load + full invariant check
  const loadMs = median([0, 1, 2, 3, 4].map(() => timeIt(() => {
    const again = new AddrBook({ clock: new VirtualClock(1_700_000_000_000), rng: new SeededRng(2) }, { filePath });
    again.start();
    again.checkInvariants();
    if (again.size() !== size) throw new Error(`loaded ${again.size()} of ${size}`);
  })));
  const mapLoadMs = median([0, 1, 2, 3, 4].map(() => timeIt(() => {
    const m = new Map<string, NetAddress>();
    for (const p of JSON.parse(readFileSync(mapFile, 'utf8')) as { id: string; ip: string; port: number }[]) m.set(p.id, NetAddress.fromProto(p));
    sink += m.size;
  })));
  report('addrbook_load_ms', loadMs, 'ms', mapLoadMs);

  rmSync(dir, { recursive: true, force: true });
  if (sink === 42) process.stderr.write('');
}
