import { afterEach, describe, expect, it } from 'vitest';
import { until, world, type TestNode, type World } from './helpers.js';

let w: World;
afterEach(async () => {
  await w?.stopAll();
});

describe('a 20-node mesh on the memory network', () => {
  it('every node dials every other at once; all agree on one connection per pair; broadcasts reach everyone', async () => {
    w = world(42);
    const nodes: TestNode[] = [];
    for (let i = 0; i < 20; i++) nodes.push(await w.node(`m${i}`, `10.1.0.${i + 1}`));
    for (let i = 0; i < 20; i++) for (let j = i + 1; j < 20; j++) w.net.setLatency(nodes[i].ip, nodes[j].ip, 5 + ((i * 7 + j * 3) % 20));
    // Everyone dials everyone: 380 dials for 190 pairs, so both directions collide everywhere.
    for (const a of nodes) for (const b of nodes) if (a !== b) void a.sw.dialPeerWithAddress(b.addr).catch(() => undefined);
    await until(w.clock, () => nodes.every((n) => n.sw.peers.size === 19) && w.net.openConnections() === 190, 30_000, 5);
    for (const a of nodes) {
      for (const b of nodes) {
        if (a === b) continue;
        expect(a.sw.peers.get(b.key.id)!.outbound).toBe(!b.sw.peers.get(a.key.id)!.outbound);
      }
    }
    for (const n of nodes) await n.sw.broadcast(0x40, Buffer.from(`from ${n.ip}`));
    await until(w.clock, () => nodes.every((n) => n.reactor.received.length === 19), 5000, 5);
    for (const n of nodes) expect(new Set(n.reactor.received.map((r) => r.from)).size).toBe(19);
    await w.stopAll();
    await w.clock.settle(5);
    expect(w.clock.pendingTimers()).toBe(0);
    expect(w.net.openConnections()).toBe(0);
  }, 60_000);
});
