/**
 * A complete custom reactor: "greeter" says hello to every new peer on its own channel and keeps,
 * per peer, the greeting it got back. This file is both the README example and a test.
 */
import { expect, it } from 'vitest';
import {
  BaseReactor,
  MemoryNetwork,
  NodeKey,
  Switch,
  VirtualClock,
  type Envelope,
  type Peer,
} from '../../../index.js';

const GREETER_CHANNEL = 0x70;

class GreeterReactor extends BaseReactor {
  constructor(private readonly name: string) {
    // One channel; priority weighs it against other channels when sending.
    super([{ id: GREETER_CHANNEL, priority: 1, sendQueueCapacity: 10, recvMessageCapacity: 1024 }]);
  }

  override addPeer(peer: Peer): void {
    // The peer is connected: say hello (false if its queue is full or it lacks the channel).
    peer.trySend(GREETER_CHANNEL, Buffer.from(`hello from ${this.name}`));
  }

  override receive({ peer, message }: Envelope): void {
    // Per-peer state lives on the peer; it goes away with it.
    peer.set('greeting', Buffer.from(message).toString());
  }

  override removePeer(peer: Peer, reason: unknown): void {
    console.log(`${this.name}: ${peer.nodeInfo.moniker} left (${String(reason)})`);
  }
}

it('two nodes greet each other', async () => {
  // Everything runs on a virtual clock over an in-memory network; for real sockets use
  // `new TcpTransport({}, { host: '0.0.0.0', port: 26656 })`, leave out the clock, and for bulk
  // traffic add `cryptoPool: new FrameCryptoPool()` (encryption on worker threads).
  const clock = new VirtualClock();
  const network = new MemoryNetwork({ clock });

  async function startNode(name: string, ip: string): Promise<Switch> {
    const sw = new Switch(
      { transport: network.transport(ip), nodeKey: NodeKey.generate(), clock },
      { nodeInfo: { network: 'greeting-net', moniker: name } },
    );
    sw.addReactor('greeter', new GreeterReactor(name));
    await sw.start();
    return sw;
  }

  const alice = await startNode('alice', '10.0.0.1');
  const bob = await startNode('bob', '10.0.0.2');

  const bobAsSeenByAlice = await alice.dialPeerWithAddress(bob.netAddress());
  await clock.runUntil(() => bobAsSeenByAlice.get('greeting') !== undefined, 1000);
  expect(bobAsSeenByAlice.get('greeting')).toBe('hello from bob');

  const aliceAsSeenByBob = bob.peers.get(alice.nodeInfo().id)!;
  expect(aliceAsSeenByBob.get('greeting')).toBe('hello from alice');

  await alice.stop();
  await bob.stop();
});
