import { afterEach, describe, expect, it } from 'vitest';
import { VirtualClock } from '../../p2p/clock.js';
import { NetAddress } from '../../p2p/net-address.js';
import { SeededRng, type Rng } from '../../p2p/rng.js';
import {
  ErrDialMaxAttempts,
  ErrPexInvalidAddress,
  ErrPexMalformedMessage,
  ErrPexNoReachableSeeds,
  ErrPexOption,
  ErrPexRequestTooSoon,
  ErrPexSeedConfig,
  ErrPexUnsolicitedAddrs,
} from '../../pex/errors.js';
import { decodePexMessage, encodePexAddrs, encodePexRequest } from '../../pex/pex-codec.js';
import { PexReactor, type PexReactorOptions } from '../../pex/pex-reactor.js';
import { addrOf, FakeBook, FakePeer, FakeSwitch, idOf } from './support/fakes.js';

const H = 3_600_000;
const REQ = '0a00';

function setup(options: PexReactorOptions = {}, maxOutbound = 10, rng: Rng = new SeededRng(7)) {
  const clock = new VirtualClock(1_000_000);
  const self = addrOf(0xfff0);
  const sw = new FakeSwitch(clock, self, maxOutbound);
  const book = new FakeBook(clock, self);
  const reactor = new PexReactor<FakePeer>({ clock, rng, book, lookup: async (h) => { throw new Error(`no such host ${h}`); } }, options);
  reactor.setSwitch(sw);
  sw.reactor = reactor;
  const deliver = (peer: FakePeer, bytes: Uint8Array): void => reactor.receive({ peer, channelId: 0, message: bytes });
  return { clock, sw, book, reactor, deliver };
}

/** An outbound peer we asked (so one PexAddrs is solicited). */
function askedOutbound(s: ReturnType<typeof setup>, n: number): FakePeer {
  const a = addrOf(n);
  const peer = new FakePeer(s.clock, a.id, true, false, a, `tcp://${a.dialString()}`);
  s.sw.addPeer(peer);
  return peer;
}

describe('channel and peer events', () => {
  it('registers channel 0x00 with CometBFT descriptor values', () => {
    const { reactor } = setup();
    expect(reactor.getChannels()).toEqual([{ id: 0, priority: 1, sendQueueCapacity: 10, recvMessageCapacity: 64000 }]);
  });

  it('asks a new outbound peer for addresses when the book needs them, and only then', () => {
    const s = setup();
    const p = askedOutbound(s, 1);
    expect(p.sentHex()).toEqual([REQ]);
    s.book.needMoreThreshold = 0;
    const q = askedOutbound(s, 2);
    expect(q.sentHex()).toEqual([]);
  });

  it('adds an inbound peer under its self-reported address (not the ephemeral socket port), sends nothing', () => {
    const s = setup();
    const p = s.sw.connectInbound(5);
    expect(s.book.entries.get(idOf(5))?.addr.toString()).toBe(addrOf(5).toString());
    expect(p.sentHex()).toEqual([]);
    // A default node advertising 0.0.0.0 is not learned.
    s.sw.connectInbound(6, 'tcp://0.0.0.0:26656');
    expect(s.book.entries.has(idOf(6))).toBe(false);
  });
});

describe('abuse rules', () => {
  it('requests: 1st and 2nd are answered, a 3rd right after is a disconnect and a 24 h ban', async () => {
    const s = setup();
    s.book.fill(100, 40);
    const p = s.sw.connectInbound(5);
    s.deliver(p, encodePexRequest());
    s.deliver(p, encodePexRequest());
    expect(p.sent).toHaveLength(2);
    const first = decodePexMessage(p.sent[0].bytes);
    expect(first.kind === 'addrs' && first.addrs.length).toBe(s.book.size());
    s.clock.advance(9_999);
    s.deliver(p, encodePexRequest());
    expect(s.sw.stoppedForError).toHaveLength(1);
    expect(s.sw.stoppedForError[0].reason).toBeInstanceOf(ErrPexRequestTooSoon);
    expect(s.book.markBadCalls).toEqual([{ addr: addrOf(5).toString(), banTimeMs: 24 * H }]);
    expect(p.sent).toHaveLength(2);
  });

  it('requests spaced by the interval (period / 3) are all answered', () => {
    const s = setup({ ensurePeersPeriodMs: 30_000 });
    const p = s.sw.connectInbound(5);
    for (let i = 0; i < 6; i++) {
      s.deliver(p, encodePexRequest());
      s.clock.advance(10_000);
    }
    expect(s.sw.stoppedForError).toEqual([]);
    expect(p.sent).toHaveLength(6);
  });

  it('a reconnecting peer is not flagged as too early (tracking cleared on disconnect)', () => {
    const s = setup();
    let p = s.sw.connectInbound(5);
    s.deliver(p, encodePexRequest());
    s.deliver(p, encodePexRequest());
    void s.sw.stopPeerGracefully(p);
    expect(s.reactor.trackedPeers()).toBe(0);
    p = s.sw.connectInbound(5);
    s.deliver(p, encodePexRequest());
    s.deliver(p, encodePexRequest());
    expect(s.sw.stoppedForError).toEqual([]);
  });

  it('unsolicited PexAddrs: disconnect and ban; a solicited one is accepted once', () => {
    const s = setup();
    const p = askedOutbound(s, 1);
    s.deliver(p, encodePexAddrs([addrOf(200)]).bytes);
    expect(s.book.entries.has(idOf(200))).toBe(true);
    expect(s.book.entries.get(idOf(200))?.src.toString()).toBe(addrOf(1).toString());
    s.deliver(p, encodePexAddrs([addrOf(201)]).bytes);
    expect(s.book.entries.has(idOf(201))).toBe(false);
    expect(s.sw.stoppedForError[0].reason).toBeInstanceOf(ErrPexUnsolicitedAddrs);
    expect(s.book.markBadCalls.map((c) => c.addr)).toEqual([addrOf(1).toString()]);
  });

  it('PexAddrs from an inbound peer we never asked: banned', () => {
    const s = setup();
    const p = s.sw.connectInbound(5);
    s.deliver(p, encodePexAddrs([addrOf(200)]).bytes);
    expect(s.sw.stoppedForError[0].reason).toBeInstanceOf(ErrPexUnsolicitedAddrs);
    expect(s.book.isBanned(addrOf(5))).toBe(true);
  });

  it('one invalid entry rejects the whole message and bans the sender', () => {
    const s = setup();
    const p = askedOutbound(s, 1);
    const bad = encodePexAddrs([addrOf(200), new NetAddress('abcd', '11.0.0.9', 26656)]).bytes;
    s.deliver(p, bad);
    expect(s.book.entries.has(idOf(200))).toBe(false);
    expect(s.sw.stoppedForError[0].reason).toBeInstanceOf(ErrPexInvalidAddress);
    expect(s.book.isBanned(addrOf(1))).toBe(true);
  });

  it('garbage on the channel disconnects without a ban', () => {
    const s = setup();
    const p = askedOutbound(s, 1);
    s.deliver(p, Buffer.from('12ff', 'hex'));
    expect(s.sw.stoppedForError[0].reason).toBeInstanceOf(ErrPexMalformedMessage);
    expect(s.book.markBadCalls).toEqual([]);
  });

  it('honest traffic never bans: ask, answer, ask again after the interval', () => {
    const s = setup({ ensurePeersPeriodMs: 30_000 });
    const p = askedOutbound(s, 1);
    for (let i = 0; i < 5; i++) {
      s.deliver(p, encodePexAddrs([addrOf(300 + i)]).bytes);
      s.clock.advance(10_000);
      expect(s.reactor.requestAddrs(p)).toBe(true);
    }
    expect(s.sw.stoppedForError).toEqual([]);
    expect(s.reactor.stats.bans).toBe(0);
  });
});

describe('ensurePeers', () => {
  afterEach(() => undefined);

  it('dials max − (outbound + dialing) addresses, picking with bias min(out,8)×10+10', async () => {
    const s = setup({}, 10);
    s.book.fill(100, 200);
    s.sw.behaviour = () => 'hang';
    askedOutbound(s, 1);
    askedOutbound(s, 2);
    s.sw.connectInbound(3);
    await s.reactor.start();
    s.clock.advance(0);
    // 2 outbound peers: 8 to dial, bias 30, at most 24 picks.
    expect(s.sw.dialing.size).toBe(0); // with peers, the first round waits a random delay
    s.clock.advance(30_000);
    expect(s.sw.dialing.size).toBe(8);
    expect(new Set(s.book.pickBiases)).toEqual(new Set([30]));
    expect(s.book.pickBiases.length).toBeLessThanOrEqual(24);
    // The next tick sees 2 outbound + 8 dialing: nothing more.
    const dials = s.sw.dialLog.length;
    s.clock.advance(30_000);
    expect(s.sw.dialLog.length).toBe(dials);
    s.reactor.stop();
  });

  it('skips ourselves, connected, banned, persistent (owned by the Switch) and backing-off addresses', async () => {
    const s = setup({}, 10);
    s.book.entries.set(idOf(0xfff0), { addr: addrOf(0xfff0), src: addrOf(0xfff0) }); // ourselves
    s.book.fill(1, 1); // connected below
    s.book.fill(2, 1); // persistent
    s.book.fill(3, 1); // backing off
    s.book.fill(4, 1); // dialable
    askedOutbound(s, 1);
    s.sw.persistentAddrs.add(addrOf(2).toString());
    s.sw.behaviour = (a) => (a.id === idOf(3) ? 'fail' : 'hang');
    await expect(s.reactor.dialPeer(addrOf(3))).rejects.toThrow();
    s.reactor['running'] = true;
    s.reactor.ensurePeers(true);
    expect(s.sw.dialLog.map((d) => d.addr)).toEqual([addrOf(3).toString(), addrOf(4).toString()]);
  });

  it('first round: at once with no peers', async () => {
    const s = setup({ seeds: [] }, 5);
    s.book.fill(100, 10);
    s.sw.behaviour = () => 'hang';
    await s.reactor.start();
    s.clock.advance(0);
    expect(s.sw.dialLog.length).toBe(5);
    expect(s.sw.dialLog[0].atMs).toBe(1_000_000);
    s.reactor.stop();
  });

  it('first round: after uniform [0, period) when a peer exists (rng 0.25 → 7.5 s)', async () => {
    const rng: Rng = Object.assign(new SeededRng(1), { float: () => 0.25 });
    const s = setup({}, 5, rng);
    s.book.fill(100, 10);
    s.sw.behaviour = () => 'hang';
    s.sw.connectInbound(3);
    await s.reactor.start();
    s.clock.advance(7_499);
    expect(s.sw.dialLog.length).toBe(0);
    s.clock.advance(1);
    expect(s.sw.dialLog.length).toBe(5);
    expect(s.sw.dialLog[0].atMs).toBe(1_007_500);
    s.reactor.stop();
  });

  it('asks one random requestable peer per tick when the book is low, never one with an outstanding request', async () => {
    const s = setup({ ensurePeersPeriodMs: 30_000 }, 10);
    const a = askedOutbound(s, 1); // asked on connect: outstanding
    const b = s.sw.connectInbound(2);
    s.sw.behaviour = () => 'hang';
    await s.reactor.start();
    s.clock.advance(30_000);
    expect(a.sentHex()).toEqual([REQ]);
    expect(b.sentHex()).toEqual([REQ]);
    s.reactor.stop();
  });

  it('reinstates expired bans when the book needs addresses', async () => {
    const s = setup({}, 10);
    s.book.fill(1, 1);
    s.book.markBad(addrOf(1), 60_000);
    s.sw.behaviour = () => 'hang';
    s.reactor['running'] = true;
    s.reactor.ensurePeers(true);
    expect(s.sw.dialLog).toEqual([]);
    expect(s.book.reinstateCalls).toBe(1);
    s.clock.advance(60_000);
    s.reactor.ensurePeers(true); // this round reinstates it
    s.reactor.ensurePeers(true); // and this one dials it
    expect(s.sw.dialLog.map((d) => d.addr)).toEqual([addrOf(1).toString()]);
  });

  it('stop() leaves no timer behind', async () => {
    const s = setup({}, 10);
    s.sw.connectInbound(1);
    await s.reactor.start();
    s.clock.advance(1);
    s.reactor.stop();
    expect(s.clock.pendingTimers()).toBe(0);
  });
});

describe('dial backoff in the reactor, to the second', () => {
  it('2^n s + jitter between tries, markAttempt each time, ban after 16 failures, fresh after the ban', async () => {
    const rng: Rng = Object.assign(new SeededRng(1), { float: () => 0.5 }); // jitter 500 ms
    const periodMs = 5_000;
    const s = setup({ ensurePeersPeriodMs: periodMs }, 1, rng);
    s.book.fill(1, 1);
    s.sw.behaviour = () => 'fail';
    await s.reactor.start();
    await s.clock.runUntil(() => s.book.markBadCalls.length > 0, 40 * H, 60_000);
    const t0 = s.sw.dialLog[0].atMs;
    const times = s.sw.dialLog.map((d) => d.atMs - t0);
    expect(times).toHaveLength(16);
    // Dial k+1 happens at the first tick at or after the retry time set by the k-th failure
    // (previous dial + 2^k s + 500 ms); ticks fall every periodMs after the first round.
    const want: number[] = [0];
    for (let k = 1; k < 16; k++) want.push(Math.ceil((want[k - 1] + 2 ** k * 1000 + 500) / periodMs) * periodMs);
    expect(times).toEqual(want);
    expect(s.book.markAttemptCalls).toHaveLength(16);
    expect(s.book.markBadCalls).toEqual([{ addr: addrOf(1).toString(), banTimeMs: 24 * H }]);
    expect(s.reactor.dialRecord(addrOf(1))).toBeUndefined();
    // Banned for 24 h: no dial; reinstated at the first tick after; then the count starts over.
    const banAt = t0 + want[15];
    await s.clock.runUntil(() => s.sw.dialLog.length > 16, 25 * H, 60_000);
    const nextDial = s.sw.dialLog[16].atMs - banAt;
    expect(nextDial).toBeGreaterThanOrEqual(24 * H);
    // One tick reinstates, the next dials.
    expect(nextDial).toBeLessThanOrEqual(24 * H + 2 * periodMs);
    // The count started over: the next retry follows the 1-failure wait (2.5 s → the next tick).
    await s.clock.runUntil(() => s.sw.dialLog.length > 17, 60_000, 1_000);
    expect(s.sw.dialLog[17].atMs - s.sw.dialLog[16].atMs).toBe(periodMs);
    expect(s.book.markBadCalls).toHaveLength(1);
    s.reactor.stop();
  });

  it('too early is refused without counting; success clears the record', async () => {
    const rng: Rng = Object.assign(new SeededRng(1), { float: () => 0 });
    const s = setup({}, 10, rng);
    s.sw.behaviour = () => 'fail';
    await expect(s.reactor.dialPeer(addrOf(1))).rejects.toThrow('refused');
    expect(s.reactor.dialRecord(addrOf(1))).toEqual({ attempts: 1, retryAtMs: 1_002_000 });
    s.clock.advance(1_999);
    await expect(s.reactor.dialPeer(addrOf(1))).rejects.toThrow(/too early/);
    expect(s.reactor.dialRecord(addrOf(1))?.attempts).toBe(1);
    s.clock.advance(1);
    await expect(s.reactor.dialPeer(addrOf(1))).rejects.toThrow('refused');
    expect(s.reactor.dialRecord(addrOf(1))?.attempts).toBe(2);
    s.clock.advance(4_000);
    s.sw.behaviour = () => 'ok';
    expect(await s.reactor.dialPeer(addrOf(1))).toBeDefined();
    expect(s.reactor.dialRecord(addrOf(1))).toBeUndefined();
  });

  it('persistent addresses are never banned and their backoff is capped', async () => {
    const rng: Rng = Object.assign(new SeededRng(1), { float: () => 0 });
    const s = setup({ persistentPeersMaxDialPeriodMs: 10_000 }, 10, rng);
    s.sw.persistentAddrs.add(addrOf(1).toString());
    s.sw.behaviour = () => 'fail';
    for (let i = 0; i < 30; i++) {
      await expect(s.reactor.dialPeer(addrOf(1))).rejects.not.toBeInstanceOf(ErrDialMaxAttempts);
      const r = s.reactor.dialRecord(addrOf(1))!;
      expect(r.retryAtMs - s.clock.now()).toBe(Math.min(2 ** (i + 1) * 1000, 10_000));
      s.clock.advance(r.retryAtMs - s.clock.now());
    }
    expect(s.book.markBadCalls).toEqual([]);
  });

  it('a dial losing a race to an existing connection counts nothing', async () => {
    const s = setup();
    s.sw.behaviour = () => 'hang';
    void s.reactor.dialPeer(addrOf(1)).catch(() => undefined);
    expect(await s.reactor.dialPeer(addrOf(1))).toBeUndefined();
    expect(s.book.markAttemptCalls).toEqual([]);
  });
});

describe('seeds and fast-dial', () => {
  const seed = addrOf(0x5eed);
  const seedText = seed.toString();

  it('a malformed seed is a configuration error naming it', () => {
    expect(() => setup({ seeds: ['not-an-address'] })).toThrow(ErrPexSeedConfig);
    expect(() => setup({ seeds: [`${idOf(1)}@1.2.3.4:99999`] })).toThrow(/99999/);
    expect(() => setup({ ensurePeersPeriodMs: 0 })).toThrow(ErrPexOption);
  });

  it('checkSeeds: unresolvable seeds + empty book fail the start; a non-empty book or one good seed is fine', async () => {
    const bad = `${idOf(9)}@no-such-host.invalid:26656`;
    await expect(setup({ seeds: [bad] }).reactor.start()).rejects.toBeInstanceOf(ErrPexNoReachableSeeds);
    const s = setup({ seeds: [bad] });
    s.book.fill(1, 1);
    await expect(s.reactor.start()).resolves.toBeUndefined();
    s.reactor.stop();
    const t = setup({ seeds: [bad, seedText] });
    await t.reactor.start();
    expect(t.reactor.seeds().map(String)).toEqual([seedText]);
    t.reactor.stop();
    await expect(setup({}).reactor.start()).resolves.toBeUndefined();
  });

  it('with an empty book the node dials its seed at once', async () => {
    const s = setup({ seeds: [seedText] });
    s.sw.behaviour = () => 'hang';
    await s.reactor.start();
    s.clock.advance(0);
    expect(s.sw.dialLog).toEqual([{ addr: seedText, atMs: 1_000_000 }]);
    s.reactor.stop();
  });

  it('250 addresses from the seed: dialing starts in the same virtual ms, never above max outbound', async () => {
    const s = setup({ seeds: [seedText] }, 10);
    s.sw.dialLatencyMs = 50;
    await s.reactor.start();
    await s.clock.advanceAsync(0);
    await s.clock.advanceAsync(50); // connected to the seed, which was asked on connect
    const seedPeer = s.sw.connected.get(seed.id)!;
    expect(seedPeer.sentHex()).toEqual([REQ]);
    const addrs = Array.from({ length: 250 }, (_, i) => addrOf(1000 + i));
    const before = s.sw.dialLog.length;
    const t0 = s.clock.now();
    s.deliver(seedPeer, encodePexAddrs(addrs).bytes);
    const newDials = s.sw.dialLog.slice(before);
    expect(newDials.length).toBe(9); // 10 − the seed
    expect(newDials.every((d) => d.atMs === t0)).toBe(true);
    await s.clock.runUntil(() => s.sw.numPeers().outbound === 10, 60_000);
    expect(s.sw.maxOutboundSeen).toBeLessThanOrEqual(10);
    s.reactor.stop();
  });

  it('the wake-up sends no PexRequest to anyone, even with dial budget left (bug #4620)', async () => {
    const s = setup({ seeds: [seedText], ensurePeersPeriodMs: 600_000 }, 50);
    s.sw.behaviour = (a) => (a.id === seed.id ? 'ok' : 'hang');
    await s.reactor.start();
    await s.clock.advanceAsync(0); // first round at once: dials the seed, which is asked on connect
    const seedPeer = s.sw.connected.get(seed.id)!;
    const other = s.sw.connectInbound(77); // requestable, never asked
    const requestsBefore = s.reactor.stats.requestsSent;
    s.deliver(seedPeer, encodePexAddrs(Array.from({ length: 20 }, (_, i) => addrOf(3000 + i))).bytes);
    expect(s.reactor.stats.seedWakeUps).toBe(1);
    expect(s.sw.dialing.size).toBe(20); // budget left (50): the round ran in full
    expect(s.reactor.stats.requestsSent).toBe(requestsBefore);
    expect(other.sent).toEqual([]);
    expect(s.book.needMoreAddrs()).toBe(true);
    // The periodic tick, by contrast, does ask.
    await s.clock.advanceAsync(600_000);
    expect(s.reactor.stats.requestsSent).toBe(requestsBefore + 1);
    s.reactor.stop();
  });

  it('a flood of seed answers never over-dials (bug #486) and never gets the seed banned', async () => {
    const s = setup({ seeds: [seedText] }, 4);
    s.sw.behaviour = (a) => (a.id === seed.id ? 'ok' : 'hang');
    const other = s.sw.connectInbound(77); // a peer we could ask
    await s.reactor.start();
    await s.clock.advanceAsync(30_000);
    const seedPeer = s.sw.connected.get(seed.id)!;
    expect(seedPeer).toBeDefined();
    const otherSent = other.sent.length;
    for (let round = 0; round < 5; round++) {
      s.clock.advance(10_000);
      s.reactor.requestAddrs(seedPeer);
      s.deliver(seedPeer, encodePexAddrs(Array.from({ length: 50 }, (_, i) => addrOf(2000 + round * 50 + i))).bytes);
    }
    expect(s.reactor.stats.seedWakeUps).toBe(5);
    expect(s.sw.stoppedForError).toEqual([]);
    // The only requests in the window were the ones this test made to the seed itself.
    expect(other.sent.length).toBe(otherSent);
    expect(s.sw.maxOutboundSeen).toBeLessThanOrEqual(4);
    s.reactor.stop();
  });
});

describe('seed mode', () => {
  it('answers an inbound asker once with a 30 % new-biased selection, then flushes and disconnects it', async () => {
    const s = setup({ seedMode: true });
    s.book.fill(100, 50);
    await s.reactor.start();
    const p = s.sw.connectInbound(5);
    s.deliver(p, encodePexRequest());
    s.deliver(p, encodePexRequest());
    await s.clock.settle();
    expect(p.sent).toHaveLength(1);
    expect(s.book.selectionBiases).toEqual([30]);
    expect(p.flushed).toBe(true);
    expect(s.sw.stoppedGracefully).toEqual([p]);
    expect(s.sw.stoppedForError).toEqual([]);
    s.reactor.stop();
  });

  it('crawls: dials addresses not crawled for 2 min, at most N at once, asks, hangs up after the answer', async () => {
    const s = setup({ seedMode: true, maxConcurrentCrawlDials: 4 });
    s.book.fill(100, 10);
    s.sw.dialLatencyMs = 100;
    await s.reactor.start();
    s.clock.advance(0); // first crawl at once
    expect(s.sw.dialLog.length).toBe(4);
    await s.clock.advanceAsync(100);
    const crawled = [...s.sw.connected.values()];
    expect(crawled).toHaveLength(4);
    for (const p of crawled) {
      expect(p.sentHex()).toEqual([REQ]);
      s.deliver(p, encodePexAddrs([addrOf(500 + Number.parseInt(p.id, 16))]).bytes);
    }
    await s.clock.settle();
    expect(s.sw.connected.size).toBe(0);
    expect(s.sw.stoppedGracefully).toHaveLength(4);
    // Next round (30 s): the crawled ones are not due for 2 min.
    await s.clock.advanceAsync(30_000 - 100);
    await s.clock.advanceAsync(100);
    const second = s.sw.dialLog.slice(4).map((d) => d.addr);
    expect(second.length).toBe(4);
    for (const p of crawled) expect(second).not.toContain(p.socketAddr().toString());
    s.reactor.stop();
  });

  it('crawl connections awaiting an answer count against the bound: a silent network never exceeds it', async () => {
    const s = setup({ seedMode: true, maxConcurrentCrawlDials: 3, crawlAnswerTimeoutMs: 45_000 });
    s.book.fill(100, 30);
    await s.reactor.start();
    let maxConnections = 0;
    for (let t = 0; t < 10 * 60; t++) {
      await s.clock.advanceAsync(1_000);
      maxConnections = Math.max(maxConnections, s.sw.connected.size + s.sw.dialing.size);
    }
    expect(maxConnections).toBe(3);
    expect(s.sw.dialLog.length).toBeGreaterThan(3);
    s.reactor.stop();
  });

  it('a crawled peer that never answers is dropped after the answer timeout', async () => {
    const s = setup({ seedMode: true, crawlAnswerTimeoutMs: 5_000 });
    s.book.fill(100, 1);
    await s.reactor.start();
    await s.clock.advanceAsync(0);
    expect(s.sw.connected.size).toBe(1);
    await s.clock.advanceAsync(4_999);
    expect(s.sw.connected.size).toBe(1);
    await s.clock.advanceAsync(1);
    expect(s.sw.connected.size).toBe(0);
    s.reactor.stop();
  });

  it('drops non-persistent peers after 28 h, never persistent ones', async () => {
    const s = setup({ seedMode: true });
    await s.reactor.start();
    const inbound = s.sw.connectInbound(5);
    const a = addrOf(6);
    const persistent = new FakePeer(s.clock, a.id, false, true, a, `tcp://${a.dialString()}`);
    s.sw.addPeer(persistent);
    await s.clock.advanceAsync(28 * H - 30_000);
    expect(s.sw.connected.has(inbound.id)).toBe(true);
    await s.clock.advanceAsync(30_000);
    // (The same round may crawl its address again: a new, outbound connection.)
    expect(s.sw.connected.get(inbound.id)).not.toBe(inbound);
    expect(s.sw.stoppedGracefully).toEqual([inbound]);
    expect(s.sw.connected.get(persistent.id)).toBe(persistent);
    s.reactor.stop();
  });
});
