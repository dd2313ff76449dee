import { describe, expect, it } from 'vitest';
import type { Peer } from '../../../p2p/peer.js';
import { BaseReactor, type Envelope } from '../../../p2p/reactor.js';
import { Switch } from '../../../p2p/switch.js';
import { TcpTransport } from '../../../p2p/transport/tcp-transport.js';
import { keyFor } from './helpers.js';

/** Answers every 'ping:<n>' on channel 0x30 with 'pong:<n>' and lets tests await messages. */
class PingPongReactor extends BaseReactor {
  readonly got: string[] = [];
  private waiters: Array<{ pred: () => boolean; resolve: () => void }> = [];

  constructor() {
    super([{ id: 0x30, priority: 1, sendQueueCapacity: 100 }]);
  }

  override receive(e: Envelope): void {
    const text = Buffer.from(e.message).toString();
    this.got.push(`${e.peer.nodeInfo.moniker}:${text}`);
    if (text.startsWith('ping:')) e.peer.trySend(0x30, Buffer.from(`pong:${text.slice(5)}`));
    this.waiters = this.waiters.filter((w) => (w.pred() ? (w.resolve(), false) : true));
  }

  waitFor(pred: () => boolean): Promise<void> {
    if (pred()) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ pred, resolve }));
  }
}

function peersReached(sw: Switch, n: number): Promise<void> {
  if (sw.peers.size >= n) return Promise.resolve();
  return new Promise((resolve) => {
    const on = (): void => {
      if (sw.peers.size >= n) {
        sw.off('peer:add', on);
        resolve();
      }
    };
    sw.on('peer:add', on);
  });
}

describe('Switches over real TCP on 127.0.0.1', () => {
  it('three switches form a full mesh and exchange messages both ways', async () => {
    const nodes: Array<{ sw: Switch; r: PingPongReactor; name: string }> = [];
    for (const name of ['tcp-a', 'tcp-b', 'tcp-c']) {
      const transport = new TcpTransport({}, { host: '127.0.0.1', port: 0 });
      const sw = new Switch({ transport, nodeKey: keyFor(name) }, { nodeInfo: { network: 'tcp-test', moniker: name }, allowDuplicateIp: true });
      const r = new PingPongReactor();
      sw.addReactor('pingpong', r);
      await sw.start();
      nodes.push({ sw, r, name });
    }
    try {
      const [a, b, c] = nodes;
      await a.sw.dialPeerWithAddress(b.sw.netAddress());
      await a.sw.dialPeerWithAddress(c.sw.netAddress());
      await b.sw.dialPeerWithAddress(c.sw.netAddress());
      await Promise.all(nodes.map((n) => peersReached(n.sw, 2)));
      for (const n of nodes) {
        const results = await n.sw.broadcast(0x30, Buffer.from(`ping:${n.name}`));
        expect([...results.values()]).toEqual([true, true]);
      }
      // Every node gets 2 pings and 2 pongs.
      await Promise.all(nodes.map((n) => n.r.waitFor(() => n.r.got.length === 4)));
      for (const n of nodes) {
        const others = nodes.filter((o) => o !== n).map((o) => o.name);
        expect(n.r.got.filter((g) => g.includes(':ping:')).sort()).toEqual(others.map((o) => `${o}:ping:${o}`).sort());
        expect(n.r.got.filter((g) => g.includes(':pong:')).sort()).toEqual(others.map((o) => `${o}:pong:${n.name}`).sort());
      }
      const outbound = (p: Peer): boolean => p.outbound;
      expect(a.sw.peers.list().filter(outbound)).toHaveLength(2);
      expect(c.sw.peers.list().filter(outbound)).toHaveLength(0);
    } finally {
      for (const n of nodes) await n.sw.stop();
    }
    for (const n of nodes) expect(n.sw.peers.size).toBe(0);
  });
});
