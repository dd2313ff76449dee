/**
 * Whole nodes for PEX integration tests: NodeKey + MemoryTransport (or TCP) + Switch + AddrBook +
 * PexReactor, all on one VirtualClock. Each node's host is its own /16 (11.<i>.0.1), so address
 * book group limits never make the tests about bucket luck.
 */
import { createHash } from 'node:crypto';
import { AddrBook } from '../../../addrbook/addr-book.js';
import { VirtualClock, type Clock } from '../../../p2p/clock.js';
import { NetAddress } from '../../../p2p/net-address.js';
import { NodeKey } from '../../../p2p/node-key.js';
import type { Peer } from '../../../p2p/peer.js';
import { SeededRng } from '../../../p2p/rng.js';
import { Switch, type SwitchOptions } from '../../../p2p/switch.js';
import { MemoryNetwork } from '../../../p2p/transport/memory-transport.js';
import type { Transport } from '../../../p2p/transport/transport.js';
import type { PexObserver } from '../../../pex/pex-deps.js';
import { PexReactor, type PexReactorOptions } from '../../../pex/pex-reactor.js';

export const pexKey = (label: string): NodeKey => NodeKey.fromSeed(createHash('sha256').update(`pex-test:${label}`).digest());

export interface PexNode {
  label: string;
  key: NodeKey;
  addr: NetAddress;
  sw: Switch;
  book: AddrBook;
  pex: PexReactor<Peer>;
}

export interface NodeSpec {
  label: string;
  ip: string;
  port?: number;
  pex?: PexReactorOptions;
  sw?: Partial<SwitchOptions>;
  /** Use this transport instead of the memory network. */
  transport?: Transport;
  observer?: PexObserver;
}

export async function makeNode(clock: Clock, rng: SeededRng, net: MemoryNetwork | undefined, spec: NodeSpec): Promise<PexNode> {
  const key = pexKey(spec.label);
  const port = spec.port ?? 26656;
  const transport = spec.transport ?? net!.transport(spec.ip, { port });
  const book = new AddrBook({ clock, rng: rng.fork() }, { routabilityStrict: false, key: createHash('sha256').update(spec.label).digest('hex').slice(0, 24) });
  book.start();
  const sw = new Switch({ transport, nodeKey: key, clock, rng: rng.fork(), addrBook: book }, { nodeInfo: { network: 'pex-test', moniker: spec.label }, ...spec.sw });
  const pex = new PexReactor<Peer>({ clock, rng: rng.fork(), book, observer: spec.observer }, { routabilityStrict: false, ...spec.pex });
  sw.addReactor('pex', pex);
  await sw.start();
  const bound = transport.listenAddress()!;
  return { label: spec.label, key, addr: new NetAddress(key.id, bound.ip === '0.0.0.0' ? spec.ip : bound.ip, bound.port), sw, book, pex };
}

export interface PexWorld {
  clock: VirtualClock;
  net: MemoryNetwork;
  rng: SeededRng;
  nodes: PexNode[];
  add(spec: NodeSpec): Promise<PexNode>;
  stopAll(): Promise<void>;
}

export function pexWorld(seed = 1): PexWorld {
  const clock = new VirtualClock(1_700_000_000_000);
  const net = new MemoryNetwork({ clock });
  const rng = new SeededRng(seed);
  const nodes: PexNode[] = [];
  return {
    clock,
    net,
    rng,
    nodes,
    async add(spec) {
      const n = await makeNode(clock, rng, net, spec);
      nodes.push(n);
      return n;
    },
    async stopAll() {
      await Promise.all(nodes.map((n) => n.sw.stop()));
      for (const n of nodes) n.book.stop();
    },
  };
}

export const hostOf = (i: number): string => `11.${i}.0.1`;
