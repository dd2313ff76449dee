import { describe, expect, it } from 'vitest';
import { SystemClock } from '../../p2p/clock.js';
import { SeededRng } from '../../p2p/rng.js';
import { TcpTransport } from '../../p2p/transport/tcp-transport.js';
import { makeNode, type PexNode } from './support/pex-world.js';

/** Real time: polls until `pred` holds or `maxMs` passes. */
async function waitFor(pred: () => boolean, maxMs: number): Promise<boolean> {
  const end = Date.now() + maxMs;
  while (Date.now() < end) {
    if (pred()) return true;
    await new Promise((r) => setTimeout(r, 20));
  }
  return pred();
}

describe('PEX over real TCP on 127.0.0.1', () => {
  it('a seed and four nodes find each other', async () => {
    const clock = new SystemClock();
    const rng = new SeededRng('tcp');
    const nodes: PexNode[] = [];
    const tcp = () => new TcpTransport({ clock }, { host: '127.0.0.1', port: 0 });
    try {
      const seed = await makeNode(clock, rng, undefined, {
        label: 'tcp-seed',
        ip: '127.0.0.1',
        transport: tcp(),
        pex: { seedMode: true, crawlPeriodMs: 1_000 },
        sw: { allowDuplicateIp: true },
      });
      nodes.push(seed);
      for (let i = 1; i <= 4; i++) {
        nodes.push(
          await makeNode(clock, rng, undefined, {
            label: `tcp-n${i}`,
            ip: '127.0.0.1',
            transport: tcp(),
            // Real time on a shared, possibly loaded machine: a receiver enforces "next request at
            // least ensurePeersPeriod/3 (100 ms here) after the previous one" on arrival times,
            // while the sender spaces requests by its own send times. One request held up ~200 ms
            // (event loop busy with handshakes) would get an honest node banned, so the sender
            // keeps a margin wider than any stall we expect here.
            pex: { seeds: [seed.addr.toString()], ensurePeersPeriodMs: 300, requestSendMarginMs: 1_000 },
            sw: { allowDuplicateIp: true },
          }),
        );
      }
      const members = nodes.slice(1);
      const meshed = (): boolean => members.every((n) => members.every((m) => m === n || n.sw.peers.has(m.key.id)));
      expect(await waitFor(meshed, 15_000)).toBe(true);
      for (const n of nodes) expect(n.pex.stats.bans).toBe(0);
    } finally {
      await Promise.all(nodes.map((n) => n.sw.stop()));
      for (const n of nodes) n.book.stop();
    }
  }, 30_000);
});
