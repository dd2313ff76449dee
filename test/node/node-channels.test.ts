/**
 * Node's reactor order: user reactors in the order given, PEX last (registered at start), so
 * NodeInfo lists channel 0x00 last as CometBFT does; clashes with PEX are reported when the user
 * reactor is added, as the Switch would report them.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { initHome } from '../../node/home.js';
import { loadConfig } from '../../node/load-config.js';
import { Node } from '../../node/node.js';
import { VirtualClock } from '../../p2p/clock.js';
import { NodeKey } from '../../p2p/node-key.js';
import type { Peer } from '../../p2p/peer.js';
import { BaseReactor } from '../../p2p/reactor.js';
import { SeededRng } from '../../p2p/rng.js';
import { ErrDuplicateChannel, ErrDuplicateReactor, ErrSwitchStarted } from '../../p2p/switch-errors.js';
import { MemoryNetwork } from '../../p2p/transport/memory-transport.js';

const homes: string[] = [];
const nodes: Node[] = [];
afterEach(async () => {
  await Promise.all(nodes.splice(0).map((n) => n.stop()));
  for (const h of homes.splice(0)) rmSync(h, { recursive: true, force: true });
});

class Channel extends BaseReactor {
  constructor(
    id: number,
    private readonly log: string[] = [],
  ) {
    super([{ id, priority: 1 }]);
  }
  override addPeer(_peer: Peer): void {
    this.log.push(`add:${this.getChannels()[0].id.toString(16)}`);
  }
}

function makeNode(net: MemoryNetwork, clock: VirtualClock, ip: string, values: Record<string, string | boolean> = {}, reactors: ConstructorParameters<typeof Node>[1]['reactors'] = []): Node {
  const home = mkdtempSync(join(tmpdir(), 'sy-channels-'));
  homes.push(home);
  initHome(home, { moniker: ip, 'p2p.laddr': `tcp://${ip}:26656`, 'p2p.addr_book_strict': false, 'rpc.laddr': '', ...values });
  const config = loadConfig(home);
  const node = new Node({ clock, rng: new SeededRng(5), transport: net.transport(ip) }, { config, nodeKey: NodeKey.load(config.nodeKeyFile), reactors });
  nodes.push(node);
  return node;
}

describe('Node reactor and channel order', () => {
  it('advertises the user reactors\' channels in registration order, then 0x00; PEX joins the Switch at start', async () => {
    const clock = new VirtualClock(1_700_000_000_000);
    const net = new MemoryNetwork({ clock });
    const log: string[] = [];
    const node = makeNode(net, clock, '10.0.0.1', {}, [
      { name: 'blocksync', reactor: new Channel(0x40, log) },
      { name: 'consensus', reactor: new Channel(0x20, log) },
    ]);
    node.addReactor('mempool', new Channel(0x30, log));
    expect(node.sw.reactor('pex')).toBeUndefined();
    await node.start();
    expect(Buffer.from(node.sw.nodeInfo().channels).toString('hex')).toBe('40203000');
    expect(node.sw.reactor('pex')).toBe(node.pex);
    expect(() => node.addReactor('late', new Channel(0x50))).toThrow(ErrSwitchStarted);

    // Reactors are called in the same order: a peer reaches the user reactors in order.
    const other = makeNode(net, clock, '10.0.0.2', {}, [{ name: 'consensus', reactor: new Channel(0x20) }]);
    await other.start();
    await other.sw.dialPeerWithAddress(node.sw.netAddress());
    expect(await clock.runUntil(() => log.length === 3, 1000, 10)).toBe(true);
    expect(log).toEqual(['add:40', 'add:20', 'add:30']);
  });

  it('reports a user reactor that claims channel 0x00 or the name pex when PEX runs, and allows it without PEX', () => {
    const clock = new VirtualClock();
    const net = new MemoryNetwork({ clock });
    const withPex = makeNode(net, clock, '10.0.0.3');
    const err = (() => {
      try {
        withPex.addReactor('my-pex', new Channel(0x00));
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(err).toBeInstanceOf(ErrDuplicateChannel);
    expect(err).toMatchObject({ channelId: 0, reactor: 'my-pex', existingReactor: 'pex' });
    expect(() => withPex.addReactor('pex', new Channel(0x70))).toThrow(ErrDuplicateReactor);
    expect(() => makeNode(net, clock, '10.0.0.4', {}, [{ name: 'zero', reactor: new Channel(0x00) }])).toThrow(ErrDuplicateChannel);

    const withoutPex = makeNode(net, clock, '10.0.0.5', { 'p2p.pex': false });
    withoutPex.addReactor('my-pex', new Channel(0x00));
    expect(withoutPex.pex).toBeUndefined();
  });
});
