/** Shared fixtures for Switch tests: nodes on a MemoryNetwork driven by a VirtualClock. */
import { createHash } from 'node:crypto';
import { VirtualClock } from '../../../p2p/clock.js';
import { NetAddress } from '../../../p2p/net-address.js';
import { NodeKey } from '../../../p2p/node-key.js';
import type { Peer } from '../../../p2p/peer.js';
import { BaseReactor, type Envelope } from '../../../p2p/reactor.js';
import { SeededRng } from '../../../p2p/rng.js';
import { Switch, type SwitchOptions } from '../../../p2p/switch.js';
import { MemoryNetwork } from '../../../p2p/transport/memory-transport.js';
import type { ChannelDescriptor } from '../../../p2p/conn/channel.js';

export const keyFor = (label: string): NodeKey =>
  NodeKey.fromSeed(createHash('sha256').update(`switch-test:${label}`).digest());

/** A reactor that records every call, in order, across all reactors sharing `log`. */
export class RecordingReactor extends BaseReactor {
  readonly received: Array<{ from: string; channelId: number; text: string }> = [];
  readonly added: Peer[] = [];
  readonly removed: Array<{ peer: Peer; reason: unknown }> = [];

  constructor(
    readonly label: string,
    channels: ChannelDescriptor[],
    readonly log: string[] = [],
  ) {
    super(channels);
  }

  override initPeer(peer: Peer): void {
    this.log.push(`${this.label}:init:${peer.id.slice(0, 4)}`);
  }

  override addPeer(peer: Peer): void {
    this.added.push(peer);
    this.log.push(`${this.label}:add:${peer.id.slice(0, 4)}`);
  }

  override removePeer(peer: Peer, reason: unknown): void | Promise<void> {
    this.removed.push({ peer, reason });
    this.log.push(`${this.label}:remove:${peer.id.slice(0, 4)}`);
  }

  override receive(e: Envelope): void {
    this.received.push({ from: e.peer.id, channelId: e.channelId, text: Buffer.from(e.message).toString() });
  }
}

export interface TestNode {
  sw: Switch;
  key: NodeKey;
  ip: string;
  addr: NetAddress;
  reactor: RecordingReactor;
}

export interface World {
  clock: VirtualClock;
  net: MemoryNetwork;
  rng: SeededRng;
  nodes: TestNode[];
  node(label: string, ip: string, options?: Partial<SwitchOptions> & { channels?: ChannelDescriptor[]; start?: boolean; port?: number }): Promise<TestNode>;
  stopAll(): Promise<void>;
}

export const CHANNELS: ChannelDescriptor[] = [
  { id: 0x40, priority: 1, sendQueueCapacity: 10 },
  { id: 0x41, priority: 1, sendQueueCapacity: 10 },
];

export function world(seed = 1): World {
  const clock = new VirtualClock(1_700_000_000_000);
  const net = new MemoryNetwork({ clock });
  const rng = new SeededRng(seed);
  const nodes: TestNode[] = [];
  return {
    clock,
    net,
    rng,
    nodes,
    async node(label, ip, options = {}) {
      const key = keyFor(label);
      const { channels, start, port, ...swOptions } = options;
      const transport = net.transport(ip, { port: port ?? 26656 });
      const sw = new Switch(
        { transport, nodeKey: key, clock, rng: rng.fork() },
        { nodeInfo: { network: 'test-chain', moniker: label }, ...swOptions },
      );
      const reactor = new RecordingReactor(label, channels ?? CHANNELS);
      sw.addReactor('rec', reactor);
      if (start !== false) await sw.start();
      const n: TestNode = { sw, key, ip, addr: new NetAddress(key.id, ip, port ?? 26656), reactor };
      nodes.push(n);
      return n;
    },
    async stopAll() {
      // Stopping may wait on virtual timers (a reactor's slow removePeer): keep time moving.
      let done = false;
      const stopping = (async () => {
        for (const n of nodes) await n.sw.stop();
      })().finally(() => (done = true));
      for (let i = 0; i < 2000 && !done; i++) await clock.advanceAsync(10);
      await stopping;
    },
  };
}

/** Waits (on the virtual clock) until `pred` holds; fails the test otherwise. */
export async function until(clock: VirtualClock, pred: () => boolean, maxMs = 10_000, stepMs = 10): Promise<void> {
  const ok = await clock.runUntil(pred, maxMs, stepMs);
  if (!ok) throw new Error('condition not reached in virtual time');
}
