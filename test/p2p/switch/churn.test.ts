import { afterEach, describe, expect, it } from 'vitest';
import { until, world, type World } from './helpers.js';

let w: World;
afterEach(async () => {
  await w?.stopAll();
});

describe('churn', () => {
  it('1 000 connect/disconnect cycles leave no timers, connections, listeners or peer-set entries behind', async () => {
    w = world();
    const hub = await w.node('hub', '10.0.0.1');
    const client = await w.node('client', '10.0.0.2');
    const events = ['peer:add', 'peer:remove', 'dial:error', 'accept:error'] as const;
    const listenersBefore = events.map((e) => hub.sw.listenerCount(e) + client.sw.listenerCount(e));
    const timersBefore = w.clock.pendingTimers();
    let adds = 0;
    let removes = 0;
    hub.sw.on('peer:add', () => adds++);
    hub.sw.on('peer:remove', () => removes++);
    for (let i = 0; i < 1000; i++) {
      const peer = await client.sw.dialPeerWithAddress(hub.addr);
      await until(w.clock, () => hub.sw.peers.size === 1, 1000, 1);
      switch (i % 3) {
        case 0:
          await client.sw.stopPeerGracefully(peer);
          break;
        case 1:
          client.sw.stopPeerForError(peer, new Error('churn'));
          break;
        default:
          w.net.disconnect('10.0.0.2');
      }
      await until(w.clock, () => hub.sw.peers.size === 0 && client.sw.peers.size === 0 && w.net.openConnections() === 0, 1000, 1);
    }
    expect(adds).toBe(1000);
    expect(removes).toBe(1000);
    expect(w.clock.pendingTimers()).toBe(timersBefore);
    expect(w.net.openConnections()).toBe(0);
    expect(hub.sw.numPeers()).toEqual({ outbound: 0, inbound: 0, dialing: 0 });
    hub.sw.removeAllListeners('peer:add');
    hub.sw.removeAllListeners('peer:remove');
    expect(events.map((e) => hub.sw.listenerCount(e) + client.sw.listenerCount(e))).toEqual(listenersBefore);
    const idle = { peers: 0, dialing: 0, reserved: 0, removals: 0, inflight: 0, tasks: 0, redials: 0, upgradingInbound: 0 };
    expect(hub.sw.diagnostics()).toEqual(idle);
    expect(client.sw.diagnostics()).toEqual(idle);
    expect(hub.reactor.added).toHaveLength(1000);
    expect(hub.reactor.removed).toHaveLength(1000);
  }, 120_000);
});
