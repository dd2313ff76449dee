/**
 * AddrBook.bannedUntil: the end of a ban that is running now. isBanned stays true until the ban is
 * reinstated; bannedUntil follows the clock, which is what a connection-time check needs.
 */
import { describe, expect, it } from 'vitest';
import { NetAddress } from '../../p2p/net-address.js';
import { makeBook, routableAddr } from './helpers.js';

const H = 3_600_000;

describe('AddrBook.bannedUntil', () => {
  it('gives the end of a running ban, and undefined once the clock passes it, before any reinstatement', () => {
    const { book, clock } = makeBook();
    const a = routableAddr(1);
    expect(book.bannedUntil(a)).toBeUndefined();
    const start = clock.now();
    book.markBad(a, 2 * H);
    expect(book.bannedUntil(a)).toBe(start + 2 * H);
    clock.advance(2 * H - 1);
    expect(book.bannedUntil(a)).toBe(start + 2 * H);
    clock.advance(1);
    // Over by the clock, though still on the ban list until reinstated.
    expect(book.bannedUntil(a)).toBeUndefined();
    expect(book.isBanned(a)).toBe(true);
    book.reinstateBadPeers();
    expect(book.isBanned(a)).toBe(false);
    expect(book.bannedUntil(a)).toBeUndefined();
  });

  it('matches by ID (an address with another IP, or the ID in any case) and follows a longer second ban', () => {
    const { book, clock } = makeBook();
    const a = routableAddr(2);
    const start = clock.now();
    book.markBad(a, H);
    book.markBad(a, 3 * H);
    expect(book.bannedUntil(new NetAddress(a.id, '12.34.56.78', 1))).toBe(start + 3 * H);
    expect(book.bannedUntil(a.id.toUpperCase())).toBe(start + 3 * H);
    expect(book.bannedUntil(routableAddr(3))).toBeUndefined();
  });

  it('is undefined at once after unban', () => {
    const { book } = makeBook();
    const a = routableAddr(4);
    book.markBad(a, H);
    expect(book.unban(a.id)).toBe(true);
    expect(book.bannedUntil(a)).toBeUndefined();
  });
});
