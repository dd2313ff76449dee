import { afterEach, describe, expect, it } from 'vitest';
import { world, until, type World } from './helpers.js';

let w: World;
afterEach(async () => {
  await w?.stopAll();
});

describe('Switch on the memory transport', () => {
  it('connects two switches and routes messages both ways by channel', async () => {
    w = world();
    const a = await w.node('a', '10.0.0.1');
    const b = await w.node('b', '10.0.0.2');
    const peer = await a.sw.dialPeerWithAddress(b.addr);
    expect(peer.id).toBe(b.key.id);
    expect(peer.outbound).toBe(true);
    expect(peer.socketAddr().equals(b.addr)).toBe(true);
    await until(w.clock, () => b.sw.peers.size === 1);
    const back = b.sw.peers.get(a.key.id)!;
    expect(back.outbound).toBe(false);
    expect(back.remoteIP()).toBe('10.0.0.1');
    expect(a.sw.numPeers()).toEqual({ outbound: 1, inbound: 0, dialing: 0 });
    expect(b.sw.numPeers()).toEqual({ outbound: 0, inbound: 1, dialing: 0 });

    expect(await peer.send(0x40, Buffer.from('hello'))).toBe(true);
    expect(back.trySend(0x41, Buffer.from('world'))).toBe(true);
    await until(w.clock, () => b.reactor.received.length === 1 && a.reactor.received.length === 1);
    expect(b.reactor.received[0]).toEqual({ from: a.key.id, channelId: 0x40, text: 'hello' });
    expect(a.reactor.received[0]).toEqual({ from: b.key.id, channelId: 0x41, text: 'world' });
    // Channels the peer did not advertise are refused locally.
    expect(await peer.send(0x42, Buffer.from('x'))).toBe(false);
    expect(peer.trySend(0x42, Buffer.from('x'))).toBe(false);
  });

  it('broadcasts with per-peer results', async () => {
    w = world();
    const a = await w.node('a', '10.0.0.1');
    const b = await w.node('b', '10.0.0.2');
    const c = await w.node('c', '10.0.0.3', { channels: [{ id: 0x41, priority: 1 }] });
    await a.sw.dialPeerWithAddress(b.addr);
    await a.sw.dialPeerWithAddress(c.addr);
    const results = await a.sw.broadcast(0x40, Buffer.from('all'));
    expect(results.get(b.key.id)).toBe(true);
    expect(results.get(c.key.id)).toBe(false); // c does not have channel 0x40
    await until(w.clock, () => b.reactor.received.length === 1);
    expect(c.reactor.received).toHaveLength(0);
  });

  it('connects over a link with 50 ms latency, in virtual time', async () => {
    w = world();
    w.net.setLatency('10.0.0.1', '10.0.0.2', 50);
    const a = await w.node('a', '10.0.0.1');
    const b = await w.node('b', '10.0.0.2');
    const t0 = w.clock.now();
    let peer: import('../../../p2p/peer.js').Peer | undefined;
    void a.sw.dialPeerWithAddress(b.addr).then((p) => (peer = p));
    await until(w.clock, () => peer !== undefined, 5000, 5);
    // connect + ephemeral keys + auth signatures (each side's NodeInfo rides in the same write
    // as its AuthSig): 3 one-way trips at least.
    expect(w.clock.now() - t0).toBeGreaterThanOrEqual(150);
    const sent = w.clock.now();
    peer!.trySend(0x40, Buffer.from('slow'));
    await until(w.clock, () => b.reactor.received.length === 1, 1000, 1);
    expect(w.clock.now() - sent).toBe(50);
  });

  it('stop leaves no timers, connections, listeners or peers behind', async () => {
    w = world();
    const a = await w.node('a', '10.0.0.1');
    const b = await w.node('b', '10.0.0.2');
    await a.sw.dialPeerWithAddress(b.addr);
    await until(w.clock, () => b.sw.peers.size === 1);
    await w.stopAll();
    await w.clock.settle(5);
    expect(w.clock.pendingTimers()).toBe(0);
    expect(w.net.openConnections()).toBe(0);
    expect(w.net.listening()).toBe(0);
    expect(a.sw.peers.size + b.sw.peers.size).toBe(0);
    expect(a.reactor.removed).toHaveLength(1);
    expect(b.reactor.removed).toHaveLength(1);
  });
});
