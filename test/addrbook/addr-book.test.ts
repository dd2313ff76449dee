/** CometBFT's addrbook_test.go scenarios (fact sheet §12), on the VirtualClock, plus our fixes. */
import { describe, expect, it } from 'vitest';
import { NetAddress } from '../../p2p/net-address.js';
import { AddrBook } from '../../addrbook/addr-book.js';
import { VirtualClock } from '../../p2p/clock.js';
import { SeededRng } from '../../p2p/rng.js';
import {
  ErrAddrBookInvalidAddr,
  ErrAddrBookNonRoutable,
  ErrAddrBookOption,
  ErrAddrBookPrivate,
  ErrAddrBookPrivateSrc,
  ErrAddrBookSelf,
  ErrAddressBanned,
} from '../../addrbook/errors.js';
import { addrAt, idOf, makeBook, routableAddr } from './helpers.js';

const SRC = addrAt(9999, '99.1.1.1', 26656, 'f');

function fill(book: AddrBook, n: number, prefix = 'a'): NetAddress[] {
  const out: NetAddress[] = [];
  for (let i = 0; i < n; i++) {
    const a = routableAddr(i, prefix);
    // Distinct source groups keep buckets from filling up in these small scenarios.
    book.addAddress(a, addrAt(i, `${60 + (i % 20)}.${i & 0xff}.1.1`, 26656, 'e'));
    out.push(a);
  }
  return out;
}

describe('AddrBook: CometBFT scenarios', () => {
  it('PickAddress: empty, only new, only old', () => {
    const { book } = makeBook();
    expect(book.pickAddress(50)).toBeUndefined();
    const a = routableAddr(1);
    book.addAddress(a, SRC);
    for (const bias of [0, 30, 50, 100]) expect(book.pickAddress(bias)?.equals(a)).toBe(true);
    book.markGood(a.id);
    expect(book.isGood(a)).toBe(true);
    expect(book.pickAddress(0)?.equals(a)).toBe(true);
    expect(book.pickAddress(50)?.equals(a)).toBe(true);
    expect(book.pickAddress(100)).toBeUndefined();
  });

  it('Lookup and HasAddress', () => {
    const { book } = makeBook();
    const addrs = fill(book, 100);
    for (const a of addrs) expect(book.hasAddress(a)).toBe(true);
    book.removeAddress(addrs[0]);
    expect(book.hasAddress(addrs[0])).toBe(false);
  });

  it('PromoteToOld: selections never exceed the book, size stays', () => {
    const { book } = makeBook();
    const addrs = fill(book, 100);
    for (const a of addrs) book.markAttempt(a);
    addrs.forEach((a, i) => {
      if (i % 2 === 0) book.markGood(a.id);
    });
    expect(book.size()).toBe(100);
    expect(book.counts()).toMatchObject({ old: 50, new: 50 });
    expect(book.getSelection().length).toBeLessThanOrEqual(100);
    expect(book.getSelectionWithBias(30).length).toBeLessThanOrEqual(100);
  });

  it('HandlesDuplicates: same address again, or from another source, keeps the size', () => {
    const { book } = makeBook();
    const addrs = fill(book, 100);
    for (const a of addrs) {
      book.addAddress(a, SRC);
      book.addAddress(a, addrAt(1, '77.7.7.7', 26656, 'd'));
    }
    expect(book.size()).toBe(100);
    book.checkInvariants();
  });

  it('RemoveAddress: removes; unknown is a no-op', () => {
    const { book } = makeBook();
    const a = routableAddr(1);
    book.addAddress(a, SRC);
    book.removeAddress(a);
    expect(book.size()).toBe(0);
    book.removeAddress(routableAddr(2));
    expect(book.size()).toBe(0);
  });

  it.each([
    [1, 9],
    [9, 1],
  ])('GetSelectionWithBias with %i old + %i new returns all 10 with the right counts', (nOld, nNew) => {
    const { book } = makeBook();
    const addrs = fill(book, 10);
    for (let i = 0; i < nOld; i++) book.markGood(addrs[i].id);
    const sel = book.getSelectionWithBias(30);
    expect(sel.length).toBe(10);
    expect(sel.filter((a) => book.isGood(a)).length).toBe(nOld);
    expect(new Set(sel.map(String)).size).toBe(10);
    expect(sel.length - nOld).toBe(nNew);
  });

  it('GetSelection: empty, one, 101 without duplicates', () => {
    const { book } = makeBook();
    expect(book.getSelection()).toEqual([]);
    expect(book.getSelectionWithBias(30)).toEqual([]);
    const one = routableAddr(1);
    book.addAddress(one, SRC);
    expect(book.getSelection().map(String)).toEqual([one.toString()]);
    book.removeAddress(one);
    fill(book, 101);
    const sel = book.getSelection();
    expect(sel.length).toBe(32);
    expect(new Set(sel.map(String)).size).toBe(sel.length);
    expect(sel.every((a) => book.hasAddress(a))).toBe(true);
  });

  it('GetSelection size: max(min(32, size), 23 %), capped at 250', () => {
    const { book } = makeBook();
    fill(book, 1000);
    expect(book.size()).toBe(1000);
    expect(book.getSelection().length).toBe(230);
    fill(book, 1200);
    expect(book.getSelection().length).toBe(250);
  });

  it('GetSelectionWithBias: with 80 % old, bias 30 gives about 70 % old, new first', () => {
    const { book } = makeBook();
    const addrs = fill(book, 200);
    addrs.forEach((a, i) => {
      if (i % 5 !== 0) book.markGood(a.id);
    });
    const sel = book.getSelectionWithBias(30);
    const n = 46; // max(min(32, 200), 200 * 23 / 100)
    expect(sel.length).toBe(n);
    const oldCount = sel.filter((a) => book.isGood(a)).length;
    expect(oldCount).toBe(n - Math.round(0.3 * n));
    const firstOld = sel.findIndex((a) => book.isGood(a));
    expect(sel.slice(firstOld).every((a) => book.isGood(a))).toBe(true);
  });

  it('MultipleAddrBookAddressSelection: counts and order for every mix', () => {
    const rng = new SeededRng(7);
    const sizes = [...Array.from({ length: 31 }, (_, i) => i + 1), 33 + rng.int(143), 33 + rng.int(143)];
    for (const size of sizes) {
      for (let nOld = 0; nOld <= size; nOld += size > 31 ? 17 : 1) {
        const { book } = makeBook({}, size * 1000 + nOld);
        const addrs = fill(book, size);
        for (let i = 0; i < nOld; i++) book.markGood(addrs[i].id);
        const nNew = size - nOld;
        const sel = book.getSelectionWithBias(30);
        const n = Math.min(250, Math.max(Math.min(32, size), Math.floor((size * 23) / 100)));
        const wantNew = Math.min(nNew, Math.max(Math.round(0.3 * n), n - nOld));
        expect(sel.length).toBe(n);
        const newOnes = sel.filter((a) => !book.isGood(a)).length;
        expect(newOnes).toBe(wantNew);
        expect(sel.slice(0, wantNew).every((a) => !book.isGood(a))).toBe(true);
      }
    }
  });

  it('BanBadPeers: banned for 1 s, refused, then reinstated as new', () => {
    const { book, clock } = makeBook();
    const a = routableAddr(1);
    book.addAddress(a, SRC);
    book.markBad(a, 1000);
    expect(book.hasAddress(a)).toBe(false);
    expect(book.isBanned(a)).toBe(true);
    expect(() => book.addAddress(a, SRC)).toThrow(ErrAddressBanned);
    expect(book.reinstateBadPeers()).toBe(0);
    clock.advance(1000);
    expect(book.reinstateBadPeers()).toBe(1);
    expect(book.hasAddress(a)).toBe(true);
    expect(book.isGood(a)).toBe(false);
    expect(book.isBanned(a)).toBe(false);
  });

  it('Empty: our own address and private IDs do not count; a real address does', () => {
    const { book } = makeBook();
    expect(book.empty()).toBe(true);
    const ours = routableAddr(1);
    book.addOurAddress(ours);
    expect(book.ourAddress(ours)).toBe(true);
    expect(() => book.addAddress(ours, SRC)).toThrow(ErrAddrBookSelf);
    book.addPrivateIDs([idOf(2)]);
    expect(() => book.addAddress(routableAddr(2), SRC)).toThrow(ErrAddrBookPrivate);
    expect(book.empty()).toBe(true);
    book.addAddress(routableAddr(3), SRC);
    expect(book.empty()).toBe(false);
  });

  it('PrivatePeers: private IDs and addresses learned from them are refused', () => {
    const { book } = makeBook();
    const priv = routableAddr(5);
    book.addPrivateIDs([priv.id]);
    expect(() => book.addAddress(priv, SRC)).toThrow(ErrAddrBookPrivate);
    expect(() => book.addAddress(routableAddr(6), priv)).toThrow(ErrAddrBookPrivateSrc);
    expect(book.size()).toBe(0);
  });

  it('AddDoesNotOverwriteOldIP: a vetted ID stays at its IP', () => {
    const { book } = makeBook();
    const good = new NetAddress(idOf(1), '1.1.1.1', 26656);
    book.addAddress(good, SRC);
    book.markGood(good.id);
    for (let i = 0; i < 10; i++) {
      expect(book.addAddress(new NetAddress(idOf(1), '2.2.2.2', 26656), addrAt(i, `8${i}.1.1.1`, 26656, 'e'))).toBe(false);
    }
    const picked = book.pickAddress(0)!;
    expect(picked.ip).toBe('1.1.1.1');
    expect(book.getSelection()[0].ip).toBe('1.1.1.1');
  });

  it('a known new ID keeps its first IP too', () => {
    const { book } = makeBook();
    book.addAddress(new NetAddress(idOf(1), '1.1.1.1', 26656), SRC);
    for (let i = 0; i < 50; i++) book.addAddress(new NetAddress(idOf(1), '2.2.2.2', 26656), addrAt(i, `8${i % 10}.${i}.1.1`, 26656, 'e'));
    expect(book.size()).toBe(1);
    expect(book.pickAddress(100)!.ip).toBe('1.1.1.1');
    book.checkInvariants();
  });
});

describe('AddrBook: refusals, strictness and options', () => {
  it('refuses invalid and non-routable addresses with typed errors', () => {
    const { book } = makeBook();
    expect(() => book.addAddress(new NetAddress('zz', '8.8.8.8', 26656), SRC)).toThrow(ErrAddrBookInvalidAddr);
    expect(() => book.addAddress(new NetAddress(idOf(1), '0.0.0.0', 26656), SRC)).toThrow(ErrAddrBookInvalidAddr);
    for (const ip of ['127.0.0.1', '10.1.2.3', '192.168.1.2', 'fe80::1']) {
      try {
        book.addAddress(new NetAddress(idOf(1), ip, 26656), SRC);
        expect.unreachable(`${ip} must be refused`);
      } catch (err) {
        expect(err).toBeInstanceOf(ErrAddrBookNonRoutable);
        expect((err as ErrAddrBookNonRoutable).addr).toContain(ip);
      }
    }
    expect(book.size()).toBe(0);
  });

  it('non-strict mode stores local and private addresses', () => {
    const { book } = makeBook({ routabilityStrict: false });
    book.addAddress(new NetAddress(idOf(1), '127.0.0.1', 26656), new NetAddress(idOf(2), '127.0.0.1', 26657));
    book.addAddress(new NetAddress(idOf(3), '10.0.0.1', 26656), new NetAddress(idOf(2), '127.0.0.1', 26657));
    expect(book.size()).toBe(2);
  });

  it('fails fast on bad options, naming the key', () => {
    const clock = new VirtualClock();
    const rng = new SeededRng(1);
    expect(() => new AddrBook({ clock, rng }, { key: 'nothex' })).toThrow(/key/);
    expect(() => new AddrBook({ clock, rng }, { routabilityStrict: 'yes' as unknown as boolean })).toThrow(ErrAddrBookOption);
    expect(() => new AddrBook({ clock, rng }, { layout: { bucketSize: 0 } })).toThrow(/layout.bucketSize/);
    expect(() => new AddrBook({ clock, rng }, { saveIntervalMs: -1 })).toThrow(/saveIntervalMs/);
  });

  it('pickAddress clamps the bias', () => {
    const { book } = makeBook();
    const a = routableAddr(1);
    book.addAddress(a, SRC);
    book.markGood(a.id);
    expect(book.pickAddress(-20)?.equals(a)).toBe(true);
    expect(book.pickAddress(400)).toBeUndefined();
    expect(book.pickAddress(Number.NaN)?.equals(a)).toBe(true);
  });

  it('needMoreAddrs below 1000 entries', () => {
    const { book } = makeBook();
    fill(book, 999);
    expect(book.needMoreAddrs()).toBe(true);
    fill(book, 1000);
    expect(book.needMoreAddrs()).toBe(false);
  });
});

describe('AddrBook: better than CometBFT', () => {
  it('markGood clears attempts; reinstatement clears them too', () => {
    const { book, clock } = makeBook();
    const a = routableAddr(1);
    book.addAddress(a, SRC);
    for (let i = 0; i < 5; i++) book.markAttempt(a);
    book.markBad(a, 10);
    clock.advance(11);
    book.reinstateBadPeers();
    // With 5 attempts and no success it would be terrible; cleared, it is not.
    clock.advance(2 * 60_000);
    expect(entryField(book, a, 'attempts')).toBe(0);
    for (let i = 0; i < 2; i++) book.markAttempt(a);
    book.markGood(a.id);
    expect(entryField(book, a, 'attempts')).toBe(0);
  });

  it('banned old entries are reinstated too', () => {
    const { book, clock } = makeBook();
    const a = routableAddr(1);
    book.addAddress(a, SRC);
    book.markGood(a.id);
    book.markBad(a, 1000);
    expect(book.hasAddress(a)).toBe(false);
    clock.advance(1000);
    expect(book.reinstateBadPeers()).toBe(1);
    expect(book.hasAddress(a)).toBe(true);
    expect(book.isGood(a)).toBe(false);
    book.checkInvariants();
  });

  it('a ban is never picked or selected while it lasts, and a longer ban is kept', () => {
    const { book, clock } = makeBook();
    const addrs = fill(book, 40);
    book.markBad(addrs[0], 60_000);
    for (let i = 0; i < 2000; i++) expect(book.pickAddress(50)?.equals(addrs[0])).not.toBe(true);
    expect(book.getSelection().some((a) => a.equals(addrs[0]))).toBe(false);
    clock.advance(30_000);
    expect(book.reinstateBadPeers()).toBe(0);
    expect(book.isBanned(addrs[0])).toBe(true);
  });

  it('a full old bucket keeps incumbents that did not fail; a failed one is demoted, never lost', () => {
    const { book, clock } = makeBook({ layout: { oldBucketCount: 1, bucketSize: 8 } });
    const addrs: NetAddress[] = [];
    for (let i = 0; i < 12; i++) {
      const a = routableAddr(i);
      book.addAddress(a, addrAt(i, `${60 + i}.1.1.1`, 26656, 'e'));
      addrs.push(a);
    }
    expect(book.size()).toBe(12);
    for (const a of addrs) book.markGood(a.id);
    // One old bucket of 8: 8 promoted, 4 stay new (marked good), none lost.
    expect(book.counts()).toMatchObject({ old: 8, new: 4 });
    expect(book.size()).toBe(12);
    const waiting = addrs.filter((a) => !book.isGood(a));
    const incumbent = addrs.filter((a) => book.isGood(a))[3];
    clock.advance(1000);
    book.markAttempt(incumbent); // dialled after its last success, and it did not come back good
    book.markGood(waiting[0].id);
    expect(book.isGood(waiting[0])).toBe(true);
    expect(book.isGood(incumbent)).toBe(false);
    expect(book.hasAddress(incumbent)).toBe(true);
    expect(book.size()).toBe(12);
    book.checkInvariants();
  });

  it('a full new bucket keeps non-terrible incumbents and lets terrible ones go', () => {
    const { book, clock } = makeBook();
    const src = addrAt(1, '70.1.1.1', 26656, 'e');
    const first: NetAddress[] = [];
    // Same address group and source group: one bucket.
    for (let i = 0; i < 64; i++) {
      const a = addrAt(i, `50.1.${i >> 8}.${(i & 0xff) + 1}`);
      expect(book.addAddress(a, src)).toBe(true);
      first.push(a);
    }
    expect(book.addAddress(addrAt(100, '50.1.9.9'), src)).toBe(false);
    expect(book.size()).toBe(64);
    // Make one incumbent terrible: three failed attempts, never a success, not in the last minute.
    for (let i = 0; i < 3; i++) book.markAttempt(first[10]);
    clock.advance(2 * 60_000);
    expect(book.addAddress(addrAt(100, '50.1.9.9'), src)).toBe(true);
    expect(book.hasAddress(first[10])).toBe(false);
    expect(book.size()).toBe(64);
    // A week without attempts makes the rest terrible too.
    clock.advance(8 * 24 * 3600_000);
    expect(book.addAddress(addrAt(101, '50.1.9.10'), src)).toBe(true);
    expect(book.size()).toBe(64);
  });

  it('an expired ban whose new bucket is full of good entries is forgotten, not forced in', () => {
    const { book, clock } = makeBook();
    const src = addrAt(1, '70.1.1.1', 26656, 'e');
    const banned = addrAt(500, '50.1.200.1');
    book.addAddress(banned, src);
    book.markBad(banned, 1000);
    for (let i = 0; i < 64; i++) book.addAddress(addrAt(i, `50.1.0.${i + 1}`), src);
    expect(book.size()).toBe(64);
    clock.advance(1000);
    // Every incumbent was attempted (created) within the last minute: none is terrible.
    expect(book.reinstateBadPeers()).toBe(0);
    expect(book.isBanned(banned)).toBe(false);
    expect(book.hasAddress(banned)).toBe(false);
    expect(book.size()).toBe(64);
    book.checkInvariants();
  });

  it('addAddress returns true only when the book changed', () => {
    const { book } = makeBook();
    const a = routableAddr(1);
    expect(book.addAddress(a, SRC)).toBe(true);
    expect(book.addAddress(a, SRC)).toBe(false);
  });

  it('an address sits in at most 4 new buckets', () => {
    const { book } = makeBook();
    const a = routableAddr(1);
    for (let i = 0; i < 2000; i++) book.addAddress(a, addrAt(i, `${20 + (i % 60)}.${i >> 6}.1.1`, 26656, 'e'));
    expect(entryField(book, a, 'buckets').length).toBeLessThanOrEqual(4);
    expect(entryField(book, a, 'buckets').length).toBeGreaterThan(1);
    book.checkInvariants();
  });

  it('addOurAddress and addPrivateIDs drop matching stored entries', () => {
    const { book } = makeBook();
    const a = routableAddr(1);
    const b = routableAddr(2);
    book.addAddress(a, SRC);
    book.addAddress(b, SRC);
    book.addOurAddress(a);
    book.addPrivateIDs([b.id]);
    expect(book.size()).toBe(0);
    book.checkInvariants();
  });

  it('stop() clears its timer', () => {
    const { book, clock } = makeBook();
    book.start();
    expect(clock.pendingTimers()).toBe(1);
    book.stop();
    expect(clock.pendingTimers()).toBe(0);
  });
});

describe('AddrBook.unban', () => {
  it('lifts a ban at once: back in a new bucket, attempts cleared, addable and pickable again', () => {
    const { book, clock } = makeBook();
    const a = routableAddr(1);
    book.addAddress(a, SRC);
    book.markGood(a.id);
    for (let i = 0; i < 4; i++) book.markAttempt(a);
    book.markBad(a, 24 * 3_600_000);
    expect(() => book.addAddress(a, SRC)).toThrow(ErrAddressBanned);
    expect(book.unban(a)).toBe(true);
    expect(book.isBanned(a)).toBe(false);
    expect(book.hasAddress(a)).toBe(true);
    expect(book.isGood(a)).toBe(false);
    expect(entryField(book, a, 'attempts')).toBe(0);
    expect(book.pickAddress(100)?.equals(a)).toBe(true);
    expect(book.counts()).toEqual({ new: 1, old: 0, banned: 0 });
    book.checkInvariants();
    // Lifted means over: a new short ban is not stretched by the one that was lifted.
    book.markBad(a, 1000);
    clock.advance(1000);
    expect(book.reinstateBadPeers()).toBe(1);
  });

  it('by node ID (any case) or by an address with the same ID; unknown or unbanned IDs return false', () => {
    const { book, clock } = makeBook();
    const [a, b] = [routableAddr(1), routableAddr(2)];
    book.addAddress(a, SRC);
    book.addAddress(b, SRC);
    book.markBad(a, 60_000);
    book.markBad(b, 60_000);
    expect(book.unban(a.id.toUpperCase())).toBe(true);
    expect(book.unban(new NetAddress(b.id, '8.8.8.8', 1))).toBe(true);
    // The entry keeps the address it was banned with.
    expect(book.getSelection().map(String).sort()).toEqual([a.toString(), b.toString()].sort());
    expect(book.unban(a)).toBe(false);
    expect(book.unban(idOf(77))).toBe(false);
    clock.advance(120_000);
    expect(book.reinstateBadPeers()).toBe(0);
    book.checkInvariants();
  });

  it('is persisted: the unbanned entry is saved in addrs, not in banned', async () => {
    const { mkdtempSync, readFileSync, rmSync } = await import('node:fs');
    const { join } = await import('node:path');
    const { tmpdir } = await import('node:os');
    const dir = mkdtempSync(join(tmpdir(), 'unban-'));
    try {
      const path = join(dir, 'addrbook.json');
      const { book, clock } = makeBook({ filePath: path });
      book.start();
      const a = routableAddr(1);
      book.addAddress(a, SRC);
      book.markBad(a, 3_600_000);
      book.save();
      expect(JSON.parse(readFileSync(path, 'utf8')).banned).toHaveLength(1);
      book.unban(a);
      // Saved by the periodic save (the book is dirty), and reloaded as a plain new entry.
      clock.advance(120_000);
      await book.whenSaved(); // the periodic save writes asynchronously
      const doc = JSON.parse(readFileSync(path, 'utf8'));
      expect(doc.banned).toBeUndefined();
      expect(doc.addrs.map((e: { addr: { id: string } }) => e.addr.id)).toEqual([a.id]);
      const { book: again } = makeBook({ filePath: path });
      again.start();
      expect(again.isBanned(a)).toBe(false);
      expect(again.hasAddress(a)).toBe(true);
      book.stop();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('an unbanned ID made private meanwhile is not put back', () => {
    const { book } = makeBook();
    const a = routableAddr(1);
    book.addAddress(a, SRC);
    book.markBad(a, 60_000);
    book.addPrivateIDs([a.id]);
    expect(book.unban(a)).toBe(true);
    expect(book.hasAddress(a)).toBe(false);
    expect(book.isBanned(a)).toBe(false);
    book.checkInvariants();
  });
});

/** Test-only peek at an entry's fields through the saved-file view of the book. */
function entryField(book: AddrBook, addr: NetAddress, field: 'attempts' | 'buckets'): any {
  const entry = (book as unknown as { byId: Map<string, Record<string, unknown>> }).byId.get(addr.id);
  return entry?.[field];
}
