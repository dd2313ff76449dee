/**
 * The reactor against the real AddrBook (the Switch is still a double): the book-side guarantees
 * PEX relies on, and the CometBFT scenarios that depend on them.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AddrBook } from '../../addrbook/addr-book.js';
import { VirtualClock } from '../../p2p/clock.js';
import { SeededRng } from '../../p2p/rng.js';
import { encodePexAddrs, encodePexRequest } from '../../pex/pex-codec.js';
import { PexReactor } from '../../pex/pex-reactor.js';
import { addrOf, FakePeer, FakeSwitch, idOf } from './support/fakes.js';

function setup(options: ConstructorParameters<typeof PexReactor>[1] = {}) {
  const clock = new VirtualClock(1_700_000_000_000);
  const self = addrOf(0xfff0);
  const sw = new FakeSwitch(clock, self, 10);
  const book = new AddrBook({ clock, rng: new SeededRng(3) }, { routabilityStrict: true, key: 'aabbccddeeff001122334455' });
  book.addOurAddress(self);
  const reactor = new PexReactor<FakePeer>({ clock, rng: new SeededRng(4), book }, options);
  reactor.setSwitch(sw);
  sw.reactor = reactor;
  const outbound = (n: number): FakePeer => {
    const a = addrOf(n);
    const p = new FakePeer(clock, a.id, true, false, a, `tcp://${a.dialString()}`);
    sw.addPeer(p);
    return p;
  };
  return { clock, sw, book, reactor, outbound };
}

describe('PEX with the real address book', () => {
  it('never stores private IDs: not as gossiped addresses, not from a private source, not on inbound (TestPEXReactorDoesNotAddPrivatePeersToAddrBook)', () => {
    const s = setup();
    s.book.addPrivateIDs([idOf(7), idOf(8)]);
    const p = s.outbound(1);
    s.reactor.receive({ peer: p, channelId: 0, message: encodePexAddrs([addrOf(7), addrOf(20)]).bytes });
    expect(s.book.hasAddress(addrOf(7))).toBe(false);
    expect(s.book.hasAddress(addrOf(20))).toBe(true);
    const privateSrc = s.outbound(8);
    s.reactor.receive({ peer: privateSrc, channelId: 0, message: encodePexAddrs([addrOf(21)]).bytes });
    expect(s.book.hasAddress(addrOf(21))).toBe(false);
    s.sw.connectInbound(7);
    expect(s.book.hasAddress(addrOf(7))).toBe(false);
    expect(s.reactor.stats.bans).toBe(0);
  });

  it('an inbound peer is added, an outbound one is not (TestPEXReactorAddRemovePeer)', () => {
    const s = setup();
    const size = s.book.size();
    s.sw.connectInbound(5);
    expect(s.book.size()).toBe(size + 1);
    s.outbound(6);
    expect(s.book.size()).toBe(size + 1);
  });

  it('our own address in an answer is not stored and does not get the sender banned', () => {
    const s = setup();
    const p = s.outbound(1);
    s.reactor.receive({ peer: p, channelId: 0, message: encodePexAddrs([addrOf(0xfff0), addrOf(30)]).bytes });
    expect(s.book.hasAddress(addrOf(0xfff0))).toBe(false);
    expect(s.book.hasAddress(addrOf(30))).toBe(true);
    expect(s.sw.stoppedForError).toEqual([]);
  });

  it('an abuser known to the book is banned there, and not picked again until reinstated after 24 h', async () => {
    const s = setup();
    const p = s.sw.connectInbound(5);
    expect(s.book.hasAddress(addrOf(5))).toBe(true);
    for (let i = 0; i < 3; i++) s.reactor.receive({ peer: p, channelId: 0, message: encodePexRequest() });
    expect(s.book.isBanned(addrOf(5))).toBe(true);
    s.clock.advance(24 * 3_600_000 - 1);
    s.book.reinstateBadPeers();
    expect(s.book.isBanned(addrOf(5))).toBe(true);
    s.clock.advance(1);
    s.book.reinstateBadPeers();
    expect(s.book.isBanned(addrOf(5))).toBe(false);
    expect(s.book.hasAddress(addrOf(5))).toBe(true);
  });

  it('seed mode: an address failing 16 crawl dials is banned in the book (TestPEXReactorDialsPeerUpToMaxAttemptsInSeedMode)', async () => {
    const s = setup({ seedMode: true, minTimeBetweenCrawlsMs: 0 });
    s.book.addAddress(addrOf(40), addrOf(41));
    s.sw.behaviour = () => 'fail';
    await s.reactor.start();
    await s.clock.runUntil(() => s.book.isBanned(addrOf(40)), 3 * 24 * 3_600_000, 60_000);
    expect(s.book.isBanned(addrOf(40))).toBe(true);
    expect(s.sw.dialLog.filter((d) => d.addr === addrOf(40).toString())).toHaveLength(16);
    s.reactor.stop();
  });

  it('property: any sequence of messages from any peers never throws, and a rule-following peer is never banned', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            peer: fc.integer({ min: 1, max: 4 }),
            kind: fc.constantFrom('garbage', 'request', 'addrs', 'advance'),
            bytes: fc.uint8Array({ maxLength: 40 }),
            advanceMs: fc.integer({ min: 0, max: 20_000 }),
          }),
          { maxLength: 60 },
        ),
        (steps) => {
          const s = setup();
          const peers = new Map<number, FakePeer>();
          const honest = s.outbound(99);
          let honestLastAsk = -Infinity;
          let honestAsks = 0;
          for (const step of steps) {
            let p = peers.get(step.peer);
            if (p === undefined || !s.sw.connected.has(p.id)) {
              p = s.sw.connectInbound(step.peer);
              peers.set(step.peer, p);
            }
            const message =
              step.kind === 'garbage' ? step.bytes : step.kind === 'request' ? encodePexRequest() : encodePexAddrs([addrOf(500 + step.peer)]).bytes;
            if (step.kind === 'advance') s.clock.advance(step.advanceMs);
            else expect(() => s.reactor.receive({ peer: p!, channelId: 0, message })).not.toThrow();
            // The honest peer asks only as the rule allows.
            const now = s.clock.now();
            if (honestAsks < 2 || now - honestLastAsk >= 10_000) {
              s.reactor.receive({ peer: honest, channelId: 0, message: encodePexRequest() });
              if (honestAsks >= 1) honestLastAsk = now;
              honestAsks++;
            }
          }
          expect(s.sw.stoppedForError.map((e) => e.peer)).not.toContain(honest);
          expect(s.book.isBanned(addrOf(99))).toBe(false);
          expect(s.reactor.trackedPeers()).toBeLessThanOrEqual(s.sw.connected.size);
        },
      ),
      { numRuns: 150 },
    );
  });
});
