/**
 * The byte scanner that loads addrbook.json without a JSON tree: whatever it accepts it must decode
 * exactly as decodeBook does, and it must hand everything else to decodeBook.
 */
import { readFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { scanBook } from '../../addrbook/book-scanner.js';
import { decodeBook } from '../../addrbook/persistence.js';
import { AddrBook } from '../../addrbook/addr-book.js';
import { VirtualClock } from '../../p2p/clock.js';
import { SeededRng } from '../../p2p/rng.js';
import { NetAddress } from '../../p2p/net-address.js';
import { addrAt, makeBook, routableAddr, TEST_KEY } from './helpers.js';

const VECTORS = '../shared/vectors/cometbft';
const GO_FILES = [
  'go-generated-addrbook-after-ban-reinstated.json',
  'go-generated-addrbook-new-only.json',
  'go-generated-addrbook-while-banned.json',
  'go-generated-addrbook-with-old.json',
];

/** What decodeBook gives, or 'throws'. */
function slow(text: string): ReturnType<typeof decodeBook> | 'throws' {
  try {
    return decodeBook(text, 'test.json');
  } catch {
    return 'throws';
  }
}

/** A saved book with new, old, attempted and banned entries, IPv4 and IPv6, as text. */
function savedBookText(n = 60): string {
  const dir = mkdtempSync(join(tmpdir(), 'scan-'));
  try {
    const path = join(dir, 'addrbook.json');
    const { book, clock } = makeBook({ filePath: path });
    book.start();
    for (let i = 0; i < n; i++) {
      const a = i % 5 === 0 ? new NetAddress(routableAddr(i).id, `2a01:${(i + 1).toString(16)}::${i + 7}`, 26656 + i) : routableAddr(i);
      book.addAddress(a, addrAt(i, `${60 + (i % 9)}.1.${i}.1`, 26656, 'e'));
      if (i % 3 === 0) book.markGood(a.id);
      if (i % 4 === 1) book.markAttempt(a);
      if (i % 11 === 2) book.markBad(a, 3_600_000);
      clock.advance(1_237);
    }
    book.save();
    return readFileSync(path, 'utf8');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('scanBook', () => {
  it('decodes our own files exactly as decodeBook does (bans included)', () => {
    const text = savedBookText();
    const fast = scanBook(Buffer.from(text));
    expect(fast).toBeDefined();
    expect(fast!.banned.length).toBeGreaterThan(0);
    expect(fast).toEqual(slow(text));
  });

  it.each(GO_FILES)('decodes CometBFT-written %s exactly as decodeBook does', (name) => {
    const bytes = readFileSync(`${VECTORS}/${name}`);
    const fast = scanBook(bytes);
    expect(fast).toBeDefined();
    expect(fast).toEqual(slow(bytes.toString('utf8')));
  });

  it('works on a plain Uint8Array as well as a Buffer', () => {
    const text = savedBookText(8);
    const u8 = new Uint8Array(Buffer.from(text));
    expect(scanBook(u8)).toEqual(slow(text));
  });

  const base = JSON.stringify({
    key: TEST_KEY,
    addrs: [
      {
        addr: { id: 'a'.repeat(40), ip: '11.2.3.4', port: 26656 },
        src: { id: 'b'.repeat(40), ip: '12.2.3.4', port: 26656 },
        buckets: [3, 7],
        attempts: 2,
        bucket_type: 1,
        last_attempt: '2026-01-02T03:04:05.678Z',
        last_success: '0001-01-01T00:00:00Z',
        last_ban_time: '0001-01-01T00:00:00Z',
      },
    ],
  });

  it.each([
    ['an escape in a string', base.replace('"11.2.3.4"', '"11.2.3.\\u0034"')],
    ['non-ASCII in a string', base.replace('"11.2.3.4"', '"11.2.3.４"')],
    ['an unknown key', base.replace('"attempts"', '"extra":1,"attempts"')],
    ['an unknown top-level key', base.replace('"key"', '"version":1,"key"')],
    ['a repeated key', base.replace('"attempts":2', '"attempts":2,"attempts":3')],
    ['a missing key', base.replace('"attempts":2,', '')],
    ['a fraction', base.replace('"attempts":2', '"attempts":2.0')],
    ['an exponent', base.replace('"port":26656', '"port":2e4')],
    ['a negative number', base.replace('"attempts":2', '"attempts":-2')],
    ['a leading zero', base.replace('"attempts":2', '"attempts":02')],
    ['null buckets', base.replace('[3,7]', 'null')],
    ['a bucket type of 3', base.replace('"bucket_type":1', '"bucket_type":3')],
    ['a bad time', base.replace('2026-01-02T', '2026-02-30T')],
    ['a byte-order mark', `\ufeff${base}`],
    ['trailing text', `${base} x`],
    ['a bad key', base.replace(TEST_KEY, 'XYZ')],
    ['no addrs', `{"key":"${TEST_KEY}"}`],
  ])('hands %s to decodeBook', (_name, text) => {
    expect(scanBook(Buffer.from(text))).toBeUndefined();
  });

  it('accepts any JSON whitespace between tokens and every time form parseTime reads', () => {
    const spaced = base.replace(/,/g, ' ,\r\n\t').replace(/":/g, '" : ').replace('"2026-01-02T03:04:05.678Z"', '"2026-01-02T03:04:05.6Z"');
    const fast = scanBook(Buffer.from(spaced));
    expect(fast).toBeDefined();
    expect(fast).toEqual(slow(spaced));
    expect(fast!.addrs[0].lastAttemptMs).toBe(Date.UTC(2026, 0, 2, 3, 4, 5, 600));
    // Other RFC 3339 forms go through parseTime, with the same result.
    const offset = base.replace('03:04:05.678Z', '03:04:05.123456789+02:00');
    expect(scanBook(Buffer.from(offset))).toEqual(slow(offset));
    expect(scanBook(Buffer.from(offset))!.addrs[0].lastAttemptMs).toBe(Date.UTC(2026, 0, 2, 1, 4, 5, 123));
  });

  it('reads times exactly as parseTime does, impossible dates included (property)', () => {
    const two = fc.integer({ min: 0, max: 99 }).map((n) => String(n).padStart(2, '0'));
    const timeText = fc.record({
      year: fc.integer({ min: 0, max: 9999 }).map((n) => String(n).padStart(4, '0')),
      month: two,
      day: two,
      hms: fc.tuple(two, two, two),
      frac: fc.option(fc.string({ unit: fc.constantFrom('0', '1', '5', '9'), minLength: 0, maxLength: 10 })),
    }).map(({ year, month, day, hms, frac }) => `${year}-${month}-${day}T${hms.join(':')}${frac === null ? '' : `.${frac}`}Z`);
    fc.assert(
      fc.property(timeText, (t) => {
        const text = base.replace('2026-01-02T03:04:05.678Z', t);
        const reference = slow(text);
        const fast = scanBook(Buffer.from(text));
        if (reference === 'throws' || reference.invalid.length > 0) expect(fast).toBeUndefined();
        else expect(fast).toEqual(reference);
      }),
      { numRuns: 5000 },
    );
  });

  it('never disagrees with decodeBook on mutated files (property)', () => {
    const text = savedBookText(6);
    const significant = ['{', '}', '[', ']', ',', ':', '"', '\\', ' ', '0', '1', '9', '-', '.', 'e', 'a', 'Z', 'T', '\n', 'é'];
    const mutation = fc.oneof(
      fc.record({ kind: fc.constant('replace' as const), at: fc.nat(text.length - 1), ch: fc.constantFrom(...significant) }),
      fc.record({ kind: fc.constant('insert' as const), at: fc.nat(text.length), ch: fc.constantFrom(...significant) }),
      fc.record({ kind: fc.constant('delete' as const), at: fc.nat(text.length - 1), len: fc.integer({ min: 1, max: 12 }) }),
    );
    fc.assert(
      fc.property(fc.array(mutation, { minLength: 1, maxLength: 3 }), (mutations) => {
        let t = text;
        for (const m of mutations) {
          const at = Math.min(m.at, t.length);
          if (m.kind === 'replace') t = t.slice(0, at) + m.ch + t.slice(at + 1);
          else if (m.kind === 'insert') t = t.slice(0, at) + m.ch + t.slice(at);
          else t = t.slice(0, at) + t.slice(at + m.len);
        }
        const fast = scanBook(Buffer.from(t, 'utf8'));
        if (fast === undefined) return;
        const reference = slow(t);
        expect(reference).not.toBe('throws');
        expect(fast).toEqual(reference);
      }),
      { numRuns: 3000 },
    );
  });

  it('a book loaded through the fallback equals the same book loaded through the scanner', () => {
    const dir = mkdtempSync(join(tmpdir(), 'scan-'));
    try {
      const text = savedBookText();
      // One unknown top-level key sends the same content down decodeBook's path.
      const fallbackText = text.replace('{\n\t"key"', '{\n\t"comment": "x",\n\t"key"');
      expect(scanBook(Buffer.from(fallbackText))).toBeUndefined();
      const load = (t: string): AddrBook => {
        const path = join(dir, 'addrbook.json');
        writeFileSync(path, t);
        const book = new AddrBook({ clock: new VirtualClock(1_700_000_500_000), rng: new SeededRng(3) }, { filePath: path });
        book.start();
        book.checkInvariants();
        book.stop({ save: false });
        return book;
      };
      const viaScanner = load(text);
      const viaJson = load(fallbackText);
      expect(viaScanner.counts()).toEqual(viaJson.counts());
      expect(viaScanner.size()).toBeGreaterThan(40);
      expect(viaScanner.getSelection().map(String).sort()).toEqual(viaJson.getSelection().map(String).sort());
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
