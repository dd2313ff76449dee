/**
 * PEX and bans at connection time: a persistent peer that breaks a PEX rule is disconnected but
 * never banned (the Switch would otherwise refuse it and its redials for the whole ban), and a
 * dial the Switch refuses because the ID is banned counts nothing against the address.
 */
import { describe, expect, it } from 'vitest';
import { VirtualClock } from '../../p2p/clock.js';
import { SeededRng } from '../../p2p/rng.js';
import { ErrRejectedBanned } from '../../p2p/switch-errors.js';
import { encodePexAddrs, encodePexRequest } from '../../pex/pex-codec.js';
import { PexReactor } from '../../pex/pex-reactor.js';
import { addrOf, FakeBook, FakePeer, FakeSwitch } from './support/fakes.js';

function setup() {
  const clock = new VirtualClock(1_000_000);
  const self = addrOf(0xfff0);
  const sw = new FakeSwitch(clock, self, 10);
  const book = new FakeBook(clock, self);
  const reactor = new PexReactor<FakePeer>({ clock, rng: new SeededRng(3), book }, {});
  reactor.setSwitch(sw);
  sw.reactor = reactor;
  return { clock, sw, book, reactor };
}

const unsolicited = encodePexAddrs([addrOf(77)]).bytes;

describe('PEX never bans persistent peers', () => {
  it('an inbound persistent peer sending unsolicited addresses is disconnected, not banned; a non-persistent one is banned', () => {
    const s = setup();
    const p = addrOf(1);
    const persistent = new FakePeer(s.clock, p.id, false, true, p, `tcp://${p.dialString()}`);
    s.sw.addPeer(persistent);
    s.reactor.receive({ peer: persistent, channelId: 0, message: unsolicited });
    expect(s.sw.stoppedForError.map((x) => (x.reason as Error).name)).toEqual(['ErrPexUnsolicitedAddrs']);
    expect(s.book.markBadCalls).toEqual([]);
    expect(s.reactor.stats.bans).toBe(0);

    const other = s.sw.connectInbound(2);
    s.reactor.receive({ peer: other, channelId: 0, message: unsolicited });
    expect(s.sw.stoppedForError).toHaveLength(2);
    expect(s.book.markBadCalls.map((c) => c.addr)).toEqual([addrOf(2).toString()]);
    expect(s.reactor.stats.bans).toBe(1);
  });

  it('a peer the Switch lists as persistent (by address) flooding requests is disconnected, not banned', () => {
    const s = setup();
    const p = addrOf(3);
    s.sw.persistentAddrs.add(p.toString());
    // Connected inbound and not flagged on the peer object: the Switch's list decides.
    const peer = new FakePeer(s.clock, p.id, false, false, p, `tcp://${p.dialString()}`);
    s.sw.addPeer(peer);
    for (let i = 0; i < 3; i++) s.reactor.receive({ peer, channelId: 0, message: encodePexRequest() });
    expect(s.sw.stoppedForError.map((x) => (x.reason as Error).name)).toEqual(['ErrPexRequestTooSoon']);
    expect(s.book.markBadCalls).toEqual([]);
  });
});

describe('a dial refused because the ID is banned', () => {
  it('is rethrown without counting an attempt, a failure or a backoff', async () => {
    const s = setup();
    const a = addrOf(5);
    s.sw.dialPeerWithAddress = (addr) => Promise.reject(new ErrRejectedBanned(addr.dialString(), addr.id, s.clock.now() + 1000, 'outbound'));
    await expect(s.reactor.dialPeer(a)).rejects.toBeInstanceOf(ErrRejectedBanned);
    expect(s.book.markAttemptCalls).toEqual([]);
    expect(s.reactor.dialRecord(a)).toBeUndefined();
    expect(s.reactor.stats.dialFailures).toBe(0);
    // Nothing is held back either: the next try goes to the Switch again.
    await expect(s.reactor.dialPeer(a)).rejects.toBeInstanceOf(ErrRejectedBanned);
  });
});

describe('dial outcomes in PexStats', () => {
  it('every started dial ends as exactly one of success, failure, banned or already connected', async () => {
    const s = setup();
    const real = s.sw.dialPeerWithAddress.bind(s.sw);
    s.sw.dialPeerWithAddress = (addr) => {
      if (addr.id === addrOf(3).id) return Promise.reject(new ErrRejectedBanned(addr.dialString(), addr.id, s.clock.now() + 1000, 'outbound'));
      if (addr.id === addrOf(4).id) return Promise.reject(Object.assign(new Error('raced'), { name: 'ErrRejectedDuplicate' }));
      return real(addr);
    };
    s.sw.behaviour = (addr) => (addr.id === addrOf(2).id ? 'fail' : 'ok');
    for (const n of [1, 2, 3, 4]) await s.reactor.dialPeer(addrOf(n)).catch(() => undefined);
    const st = s.reactor.stats;
    expect(st.dialsStarted).toBe(4);
    expect([st.dialSuccesses, st.dialFailures, st.dialsRefusedBanned, st.dialsAlreadyConnected]).toEqual([1, 1, 1, 1]);
  });
});
