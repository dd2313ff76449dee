import { describe, expect, it } from 'vitest';
import { NetAddress } from '../../p2p/net-address.js';
import type { Peer } from '../../p2p/peer.js';
import { BaseReactor, type Envelope } from '../../p2p/reactor.js';
import { Switch } from '../../p2p/switch.js';
import { encodePexAddrs, encodePexRequest } from '../../pex/pex-codec.js';
import { PEX_CHANNEL_DESCRIPTOR } from '../../pex/pex-reactor.js';
import { hostOf, pexKey, pexWorld, type PexNode } from './support/pex-world.js';

describe('PEX on real Switches and address books (memory transport, virtual clock)', () => {
  it('three nodes with partial books become fully connected (TestPEXReactorRunning)', async () => {
    const w = pexWorld(3);
    const pex = { ensurePeersPeriodMs: 250 };
    const a = await w.add({ label: 'a', ip: hostOf(1), pex });
    const b = await w.add({ label: 'b', ip: hostOf(2), pex });
    const c = await w.add({ label: 'c', ip: hostOf(3), pex });
    a.book.addAddress(b.addr, a.addr);
    b.book.addAddress(a.addr, b.addr);
    c.book.addAddress(b.addr, c.addr);
    const full = (): boolean => w.nodes.every((n) => n.sw.peers.size === 2);
    expect(await w.clock.runUntil(full, 10_000, 50)).toBe(true);
    for (const n of w.nodes) expect(n.pex.stats.bans).toBe(0);
    await w.stopAll();
    expect(w.clock.pendingTimers()).toBe(0);
  });
});

describe('a 50-node network that knows only one seed', () => {
  it('converges: every node reaches its outbound target, the seed sheds connections, nobody is banned', async () => {
    const w = pexWorld(50);
    const seed = await w.add({ label: 'seed', ip: hostOf(200), pex: { seedMode: true } });
    const maxOutbound = 10;
    for (let i = 1; i <= 50; i++) {
      await w.add({ label: `n${i}`, ip: hostOf(i), pex: { seeds: [seed.addr.toString()] }, sw: { maxOutboundPeers: maxOutbound } });
    }
    const nodes = w.nodes.slice(1);
    const converged = (): boolean => nodes.every((n) => n.sw.numPeers().outbound >= maxOutbound);
    const startMs = w.clock.now();
    const ok = await w.clock.runUntil(converged, 15 * 60_000, 1_000);
    const tookMs = w.clock.now() - startMs;
    expect(ok, `not converged after ${tookMs} ms: ${nodes.map((n) => n.sw.numPeers().outbound).join(',')}`).toBe(true);
    // Bounded virtual time: a few ensurePeers periods, not the 30 s-per-address of a tick-only dialer.
    expect(tookMs).toBeLessThanOrEqual(5 * 60_000);
    for (const n of nodes) expect(n.sw.numPeers().outbound).toBeLessThanOrEqual(maxOutbound);
    // Let the seed's crawl and answers settle; nodes at their target never come back to it.
    await w.clock.advanceAsync(60_000);
    expect(seed.sw.numPeers().inbound).toBe(0);
    expect(seed.sw.peers.size).toBeLessThanOrEqual(seed.pex.options.maxConcurrentCrawlDials);
    for (const n of w.nodes) {
      expect(n.pex.stats.bans, n.label).toBe(0);
      expect(n.book.counts().banned, n.label).toBe(0);
    }
    await w.stopAll();
  }, 120_000);
});

describe('seed fast-dial on the real stack', () => {
  it('dials what the seed sent in the same virtual millisecond, within budget, and connects within 1 s', async () => {
    const w = pexWorld(7);
    const seed = await w.add({ label: 'seed', ip: hostOf(200), pex: { seedMode: true } });
    const peers: PexNode[] = [];
    for (let i = 1; i <= 3; i++) peers.push(await w.add({ label: `p${i}`, ip: hostOf(i), sw: { maxOutboundPeers: 0 } }));
    for (const p of peers) seed.book.addAddress(p.addr, seed.addr);
    const dials: { addr: string; atMs: number; reason: string }[] = [];
    const node = await w.add({
      label: 'node',
      ip: hostOf(100),
      pex: { seeds: [seed.addr.toString()] },
      sw: { maxOutboundPeers: 4 },
      observer: { dialStarted: (addr, reason) => dials.push({ addr: addr.toString(), atMs: w.clock.now(), reason }) },
    });
    // Record when the seed's answer reaches the node's reactor.
    let answeredAtMs: number | undefined;
    const receive = node.pex.receive.bind(node.pex);
    node.pex.receive = (env) => {
      if (env.peer.id === seed.key.id && env.message[0] === 0x12) answeredAtMs ??= w.clock.now();
      receive(env);
    };
    let maxOut = 0;
    const done = (): boolean => {
      const c = node.sw.numPeers();
      maxOut = Math.max(maxOut, c.outbound + c.dialing);
      return peers.every((p) => node.sw.peers.has(p.key.id));
    };
    expect(await w.clock.runUntil(done, 10_000, 10)).toBe(true);
    expect(dials[0]).toMatchObject({ addr: seed.addr.toString(), reason: 'seed' });
    const firstPeerDial = dials.find((d) => d.reason === 'ensure');
    expect(answeredAtMs).toBeDefined();
    expect(firstPeerDial!.atMs - answeredAtMs!).toBe(0);
    expect(w.clock.now() - answeredAtMs!).toBeLessThanOrEqual(1_000);
    expect(maxOut).toBeLessThanOrEqual(4);
    await w.stopAll();
  });
});

describe('persistent peers', () => {
  it('PEX never dials a persistent peer the Switch is redialing, over hours of downtime', async () => {
    const w = pexWorld(9);
    const downKey = pexKey('down');
    const downAddr = `${downKey.id}@${hostOf(50)}:26656`;
    w.net.refuse(hostOf(50));
    const pexDials: string[] = [];
    const node = await w.add({
      label: 'node',
      ip: hostOf(1),
      pex: { ensurePeersPeriodMs: 5_000 },
      sw: { persistentPeers: [downAddr] },
      observer: { dialStarted: (addr) => pexDials.push(addr.toString()) },
    });
    await node.sw.dialPeersAsync([downAddr]);
    expect(node.book.hasAddress(NetAddress.parse(downAddr))).toBe(true);
    await w.clock.advanceAsync(10_000);
    expect(node.sw.redialing()).toEqual([downKey.id]);
    for (let h = 0; h < 6; h++) await w.clock.advanceAsync(3_600_000);
    expect(pexDials).toEqual([]);
    expect(node.pex.stats.bans).toBe(0);
    expect(node.book.counts().banned).toBe(0);
    await w.stopAll();
  }, 60_000);
});

/** A peer speaking raw bytes on the PEX channel: whatever `onAdd` sends. */
class RawPexReactor extends BaseReactor {
  readonly received: string[] = [];
  constructor(private readonly onAdd: (peer: Peer) => void) {
    super([{ ...PEX_CHANNEL_DESCRIPTOR }]);
  }
  override addPeer(peer: Peer): void {
    this.onAdd(peer);
  }
  override receive(e: Envelope): void {
    this.received.push(Buffer.from(e.message).toString('hex'));
  }
}

async function evilNode(w: ReturnType<typeof pexWorld>, label: string, ip: string, onAdd: (peer: Peer) => void) {
  const key = pexKey(label);
  const sw = new Switch({ transport: w.net.transport(ip), nodeKey: key, clock: w.clock, rng: w.rng.fork() }, { nodeInfo: { network: 'pex-test', moniker: label } });
  const reactor = new RawPexReactor(onAdd);
  sw.addReactor('raw', reactor);
  await sw.start();
  return { sw, reactor, addr: new NetAddress(key.id, ip, 26656) };
}

describe('abusive peers on the real stack', () => {
  it('unsolicited PexAddrs: the honest node disconnects and bans it; other peers unaffected', async () => {
    const w = pexWorld(11);
    const honest = await w.add({ label: 'honest', ip: hostOf(1) });
    const friend = await w.add({ label: 'friend', ip: hostOf(2) });
    const evil = await evilNode(w, 'evil', hostOf(66), (peer) => {
      // Answer before being asked: twice (the first may pass as the answer to the request on connect).
      const junk = encodePexAddrs([new NetAddress(pexKey('x').id, '11.77.0.1', 26656)]).bytes;
      void peer.send(0, junk).then(() => peer.send(0, junk));
    });
    honest.book.addAddress(evil.addr, honest.addr);
    honest.book.addAddress(friend.addr, honest.addr);
    await w.clock.runUntil(() => honest.book.isBanned(evil.addr), 60_000, 100);
    expect(honest.book.isBanned(evil.addr)).toBe(true);
    expect(honest.sw.peers.has(evil.addr.id)).toBe(false);
    expect(honest.sw.peers.has(friend.key.id)).toBe(true);
    expect(honest.book.isBanned(friend.addr)).toBe(false);
    // Banned: not dialed again for the ban time.
    await w.clock.advanceAsync(10 * 60_000);
    expect(honest.sw.peers.has(evil.addr.id)).toBe(false);
    await w.stopAll();
    await evil.sw.stop();
  });

  it('a request flood from an inbound peer: answered twice, then disconnected and banned', async () => {
    const w = pexWorld(12);
    const honest = await w.add({ label: 'honest', ip: hostOf(1) });
    const evil = await evilNode(w, 'flooder', hostOf(66), (peer) => {
      const req = encodePexRequest();
      void peer.send(0, req).then(() => peer.send(0, req)).then(() => peer.send(0, req));
    });
    await evil.sw.dialPeerWithAddress(honest.addr);
    // The dialer may finish its upgrade before the acceptor adds the peer: wait for the ban (the
    // outcome), not for "honest has no such peer", which already holds before the peer is added.
    expect(await w.clock.runUntil(() => honest.pex.stats.bans > 0 && !honest.sw.peers.has(evil.addr.id) && evil.sw.peers.size === 0, 10_000, 10)).toBe(true);
    // Answered twice (the third request is the offence). Whether those answers reach the flooder
    // before the disconnect depends on how its three requests were chunked on the wire: when they
    // arrive together, the honest node stops the peer before its send loop writes the answers.
    expect(honest.pex.stats.requestsAnswered).toBe(2);
    expect(evil.reactor.received.length).toBeLessThanOrEqual(2);
    expect(honest.book.isBanned(evil.addr)).toBe(true);
    expect(honest.pex.stats.bans).toBe(1);
    await w.stopAll();
    await evil.sw.stop();
  });
});

describe('seed answers on the real stack', () => {
  it('a seed answers a node, flushes, hangs up; a concurrent Switch stop is safe (TestPEXReactorSeedModeFlushStop)', async () => {
    const w = pexWorld(21);
    const seed = await w.add({ label: 'seed', ip: hostOf(200), pex: { seedMode: true } });
    for (let i = 1; i <= 5; i++) seed.book.addAddress(new NetAddress(pexKey(`far${i}`).id, hostOf(150 + i), 26656), seed.addr);
    const node = await w.add({ label: 'node', ip: hostOf(1), pex: { seeds: [seed.addr.toString()] }, sw: { maxOutboundPeers: 1 } });
    // maxOutbound 1: the seed connection uses the whole budget, so what the node learns stays in its book.
    const learned = (): boolean => [1, 2, 3, 4, 5].every((i) => node.book.hasAddress(new NetAddress(pexKey(`far${i}`).id, hostOf(150 + i), 26656)));
    expect(await w.clock.runUntil(learned, 5_000, 1)).toBe(true);
    expect(await w.clock.runUntil(() => !node.sw.peers.has(seed.key.id), 5_000, 1)).toBe(true);
    expect(seed.sw.peers.size).toBe(0);
    expect(seed.pex.stats.requestsAnswered).toBe(1);
    // Another node connects and asks; the seed is stopped while it answers.
    const other = await w.add({ label: 'other', ip: hostOf(2), pex: { seeds: [seed.addr.toString()] } });
    await w.clock.runUntil(() => seed.pex.stats.requestsAnswered === 2, 5_000, 1);
    await Promise.all([seed.sw.stop(), w.clock.advanceAsync(100)]);
    expect(seed.sw.peers.size).toBe(0);
    expect(other.pex.stats.bans + node.pex.stats.bans + seed.pex.stats.bans).toBe(0);
    await w.stopAll();
  });

  it('250 addresses from a seed at once: outbound + dialing never exceeds the maximum', async () => {
    const w = pexWorld(22);
    const seed = await w.add({ label: 'seed', ip: hostOf(200), pex: { seedMode: true } });
    const live: PexNode[] = [];
    for (let i = 1; i <= 12; i++) live.push(await w.add({ label: `live${i}`, ip: hostOf(i), sw: { maxOutboundPeers: 0 } }));
    for (const n of live) seed.book.addAddress(n.addr, seed.addr);
    // The rest do not exist: dials to them are refused.
    for (let i = 0; seed.book.size() < 250 && i < 400; i++) {
      try {
        seed.book.addAddress(new NetAddress(pexKey(`ghost${i}`).id, `12.${i & 255}.${i >> 8}.1`, 26656), seed.addr);
      } catch {
        // The book may refuse some (bucket limits): keep adding until it holds 250.
      }
    }
    let maxOut = 0;
    let node: PexNode | undefined;
    // The high-water mark of outbound + dialing is reached when a dial starts: sample there.
    const sample = (): void => {
      const c = node!.sw.numPeers();
      maxOut = Math.max(maxOut, c.outbound + c.dialing + 1);
    };
    node = await w.add({ label: 'node', ip: hostOf(100), pex: { seeds: [seed.addr.toString()] }, sw: { maxOutboundPeers: 6 }, observer: { dialStarted: sample } });
    await w.clock.advanceAsync(3 * 60_000);
    expect(maxOut).toBe(6);
    expect(node.pex.stats.dialsStarted).toBeGreaterThan(6); // refused ghosts freed budget for more dials
    expect(node.sw.numPeers().outbound).toBeLessThanOrEqual(6);
    expect(node.pex.stats.seedWakeUps).toBeGreaterThanOrEqual(1);
    await w.stopAll();
  }, 60_000);
});
