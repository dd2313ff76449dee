/**
 * markBad on an address the book does not hold bans its ID anyway (CometBFT ignores it). The ban
 * record is persisted, bounded, and only returns to the book if the book would store the address.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ErrAddressBanned } from '../../addrbook/errors.js';
import { MAX_BANNED_ENTRIES } from '../../addrbook/params.js';
import { NetAddress } from '../../p2p/net-address.js';
import { AddrBook } from '../../addrbook/addr-book.js';
import { VirtualClock } from '../../p2p/clock.js';
import { SeededRng } from '../../p2p/rng.js';
import { encodePexAddrs } from '../../pex/pex-codec.js';
import { PexReactor } from '../../pex/pex-reactor.js';
import { addrOf as pexAddrOf, FakePeer, FakeSwitch } from '../pex/support/fakes.js';
import { addrAt, idOf, makeBook, routableAddr } from './helpers.js';

const SRC = addrAt(9999, '99.1.1.1', 26656, 'f');
const H = 3_600_000;

describe('markBad on an address the book does not hold', () => {
  it('bans the ID: gossip of it is refused until the ban ends, then it enters a new bucket', () => {
    const { book, clock } = makeBook();
    const abuser = routableAddr(1);
    book.markBad(abuser, 24 * H);
    expect(book.isBanned(abuser)).toBe(true);
    expect(book.hasAddress(abuser)).toBe(false);
    expect(book.counts()).toEqual({ new: 0, old: 0, banned: 1 });
    // Any address with that ID is refused, not only the one banned.
    expect(() => book.addAddress(abuser, SRC)).toThrow(ErrAddressBanned);
    expect(() => book.addAddress(new NetAddress(abuser.id, '12.9.9.9', 1), SRC)).toThrow(ErrAddressBanned);
    book.checkInvariants();
    clock.advance(24 * H - 1);
    expect(book.reinstateBadPeers()).toBe(0);
    clock.advance(1);
    expect(book.reinstateBadPeers()).toBe(1);
    expect(book.hasAddress(abuser)).toBe(true);
    expect(book.isGood(abuser)).toBe(false);
    book.checkInvariants();
  });

  it('a second markBad keeps the later end; an address the book would not store is banned but never enters it', () => {
    const { book, clock } = makeBook({ routabilityStrict: true });
    const local = new NetAddress(idOf(5), '192.168.1.5', 26656);
    book.markBad(local, 2 * H);
    book.markBad(local, 1 * H);
    expect(book.isBanned(local)).toBe(true);
    clock.advance(H);
    expect(book.reinstateBadPeers()).toBe(0);
    expect(book.isBanned(local)).toBe(true);
    clock.advance(H);
    expect(book.reinstateBadPeers()).toBe(0);
    expect(book.isBanned(local)).toBe(false);
    expect(book.hasAddress(local)).toBe(false);
    book.checkInvariants();
  });

  it('is not applied to our own address or to an invalid ID', () => {
    const { book } = makeBook();
    const ours = routableAddr(3);
    book.addOurAddress(ours);
    book.markBad(ours, H);
    expect(book.isBanned(ours)).toBe(false);
    const badId = new NetAddress('abcd', '12.1.1.1', 1);
    book.markBad(badId, H);
    expect(book.isBanned(badId)).toBe(false);
    expect(book.counts().banned).toBe(0);
  });

  it('survives a restart, unroutable addresses included, without the file counting as damaged', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ban-unknown-'));
    try {
      const path = join(dir, 'addrbook.json');
      const { book } = makeBook({ filePath: path });
      book.start();
      const routable = routableAddr(1);
      const unroutable = new NetAddress(idOf(2), '10.1.2.3', 26656);
      book.markBad(routable, H);
      book.markBad(unroutable, H);
      book.stop();
      expect(JSON.parse(readFileSync(path, 'utf8')).banned).toHaveLength(2);
      const { book: again } = makeBook({ filePath: path });
      const report = again.start()!;
      expect(report).toMatchObject({ status: 'loaded', banned: 2, skipped: 0 });
      expect(report.keptAsidePath).toBeUndefined();
      expect(again.isBanned(routable)).toBe(true);
      expect(again.isBanned(unroutable)).toBe(true);
      again.stop({ save: false });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it(`keeps at most MAX_BANNED_ENTRIES (${MAX_BANNED_ENTRIES}) bans, dropping the one that ends soonest`, () => {
    const { book } = makeBook();
    for (let i = 0; i < MAX_BANNED_ENTRIES; i++) book.markBad(routableAddr(i), H + i);
    expect(book.counts().banned).toBe(MAX_BANNED_ENTRIES);
    book.markBad(routableAddr(MAX_BANNED_ENTRIES), 10 * H);
    expect(book.counts().banned).toBe(MAX_BANNED_ENTRIES);
    expect(book.isBanned(routableAddr(0))).toBe(false);
    expect(book.isBanned(routableAddr(1))).toBe(true);
    expect(book.isBanned(routableAddr(MAX_BANNED_ENTRIES))).toBe(true);
    book.checkInvariants();
  });

  it('with PEX: an outbound peer (never stored) that sends unsolicited addresses is banned, and its address gossiped back is refused', () => {
    const clock = new VirtualClock(1_700_000_000_000);
    const self = pexAddrOf(0xfff0);
    const sw = new FakeSwitch(clock, self, 10);
    const book = new AddrBook({ clock, rng: new SeededRng(3) }, { routabilityStrict: true, key: 'aabbccddeeff001122334455' });
    const reactor = new PexReactor<FakePeer>({ clock, rng: new SeededRng(4), book }, {});
    reactor.setSwitch(sw);
    sw.reactor = reactor;
    const a = pexAddrOf(1);
    const abuser = new FakePeer(clock, a.id, true, false, a, `tcp://${a.dialString()}`);
    sw.addPeer(abuser);
    expect(book.hasAddress(a)).toBe(false);
    // Adding an outbound peer asks it once: the first answer is solicited, the second is not.
    reactor.receive({ peer: abuser, channelId: 0, message: encodePexAddrs([pexAddrOf(20)]).bytes });
    expect(sw.stoppedForError).toHaveLength(0);
    reactor.receive({ peer: abuser, channelId: 0, message: encodePexAddrs([pexAddrOf(22)]).bytes });
    expect(sw.stoppedForError).toHaveLength(1);
    expect(book.isBanned(a)).toBe(true);
    // Another peer, asked properly, gossips the abuser's address: it does not come back.
    const honest = pexAddrOf(2);
    const peer = new FakePeer(clock, honest.id, true, false, honest, `tcp://${honest.dialString()}`);
    sw.addPeer(peer);
    reactor.receive({ peer, channelId: 0, message: encodePexAddrs([a, pexAddrOf(21)]).bytes });
    expect(book.hasAddress(pexAddrOf(21))).toBe(true);
    expect(book.hasAddress(a)).toBe(false);
    expect(book.isBanned(a)).toBe(true);
  });
});
