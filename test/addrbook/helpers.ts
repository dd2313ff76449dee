/** Shared helpers for the address-book tests: deterministic addresses and books. */
import { AddrBook, type AddrBookOptions } from '../../addrbook/addr-book.js';
import { VirtualClock } from '../../p2p/clock.js';
import { SeededRng } from '../../p2p/rng.js';
import { NetAddress } from '../../p2p/net-address.js';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import type { Logger } from '../../p2p/logger.js';

export const TEST_KEY = '0123456789abcdef01234567';

/** A 40-hex node ID derived from a number (distinct numbers give distinct IDs). */
export function idOf(n: number, prefix = 'a'): string {
  return (prefix + n.toString(16)).padStart(40, '0');
}

/** A routable IPv4 address `a.b.c.d` with a numbered ID. */
export function addrAt(n: number, ip: string, port = 26656, prefix = 'a'): NetAddress {
  return new NetAddress(idOf(n, prefix), ip, port);
}

/** The n-th routable address: spreads over many /16 groups (avoids private and reserved ranges). */
export function routableAddr(n: number, prefix = 'a'): NetAddress {
  const a = 11 + (n % 80); // 11..90: routable public space
  const b = (n >> 3) & 0xff;
  const c = (n >> 11) & 0xff;
  const d = 1 + ((n * 7) % 250);
  return addrAt(n, `${a}.${b}.${c}.${d}`, 26656, prefix);
}

export function makeBook(options: AddrBookOptions = {}, seed = 1, startMs = 1_700_000_000_000): { book: AddrBook; clock: VirtualClock; rng: SeededRng } {
  const clock = new VirtualClock(startMs);
  const rng = new SeededRng(seed);
  const book = new AddrBook({ clock, rng }, { key: TEST_KEY, ...options });
  return { book, clock, rng };
}

/** A debug-level logger whose JSON lines the test can read back (warnings name files, etc.). */
export function captureLogger(): { logger: Logger; lines: () => Record<string, unknown>[] } {
  const out: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, cb) {
      out.push(String(chunk));
      cb();
    },
  });
  return {
    logger: pino({ level: 'debug' }, stream) as unknown as Logger,
    lines: () => out.join('').split('\n').filter(Boolean).map((l) => JSON.parse(l)),
  };
}
