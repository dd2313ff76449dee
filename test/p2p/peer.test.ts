import { describe, expect, it } from 'vitest';
import { VirtualClock } from '../../p2p/clock.js';
import { createDuplexPair } from '../../p2p/conn/duplex-pair.js';
import { NetAddress } from '../../p2p/net-address.js';
import { buildNodeInfo } from '../../p2p/node-info.js';
import { Peer } from '../../p2p/peer.js';
import { keyFor } from './switch/helpers.js';

function pair(clock: VirtualClock, opts: { aChannels?: number[]; bAdvertises?: number[]; listenAddr?: string } = {}) {
  const [x, y] = createDuplexPair();
  const ka = keyFor('peer-a');
  const kb = keyFor('peer-b');
  const infoA = buildNodeInfo({ nodeId: ka.id, listenAddr: 'tcp://10.0.0.1:26656', network: 'n', version: '1', moniker: 'a', channels: opts.aChannels ?? [1, 2] });
  const infoB = buildNodeInfo({ nodeId: kb.id, listenAddr: opts.listenAddr ?? 'tcp://10.0.0.2:26656', network: 'n', version: '1', moniker: 'b', channels: opts.bAdvertises ?? [1, 2] });
  const gotByA: string[] = [];
  const gotByB: string[] = [];
  const errors: Error[] = [];
  const descs = [{ id: 1, priority: 1, sendQueueCapacity: 2 }, { id: 2, priority: 1 }, { id: 3, priority: 1 }];
  // a's view of b (outbound, dialed) and b's view of a (inbound).
  const peerB = new Peer({ clock }, {
    conn: x, nodeInfo: infoB, outbound: true, persistent: true, socketAddr: new NetAddress(kb.id, '10.0.0.2', 26656), channels: descs,
    onReceive: (_p, ch, m) => gotByA.push(`${ch}:${Buffer.from(m)}`), onError: (_p, e) => errors.push(e),
  });
  const peerA = new Peer({ clock }, {
    conn: y, nodeInfo: infoA, outbound: false, persistent: false, socketAddr: new NetAddress(ka.id, '10.0.0.1', 40001), channels: descs,
    onReceive: (_p, ch, m) => gotByB.push(`${ch}:${Buffer.from(m)}`), onError: (_p, e) => errors.push(e),
  });
  return { peerA, peerB, gotByA, gotByB, errors, ka, kb };
}

describe('Peer', () => {
  it('reports identity, direction, persistence and addresses', () => {
    const clock = new VirtualClock(5000);
    const { peerA, peerB, kb } = pair(clock, { listenAddr: 'tcp://192.0.2.7:26656' });
    expect(peerB.id).toBe(kb.id);
    expect(peerB.outbound).toBe(true);
    expect(peerB.persistent).toBe(true);
    expect(peerB.socketAddr().toString()).toBe(`${kb.id}@10.0.0.2:26656`);
    expect(peerB.remoteIP()).toBe('10.0.0.2');
    expect(peerB.selfReportedAddr()!.toString()).toBe(`${kb.id}@192.0.2.7:26656`);
    expect(peerA.outbound).toBe(false);
    expect(peerA.socketAddr().port).toBe(40001);
    expect(peerA.connectedAtMs).toBe(5000);
    expect(peerA.lifecycle).toBe('new');
  });

  it('sends only on channels the peer advertised, and only while running', async () => {
    const clock = new VirtualClock();
    const { peerA, peerB, gotByB } = pair(clock, { bAdvertises: [1] });
    expect(await peerB.send(1, Buffer.from('early'))).toBe(false); // not started
    peerA.start();
    peerB.start();
    expect(peerB.hasChannel(1)).toBe(true);
    expect(peerB.hasChannel(2)).toBe(false);
    expect(await peerB.send(1, Buffer.from('one'))).toBe(true);
    expect(await peerB.send(2, Buffer.from('two'))).toBe(false); // b did not advertise 2
    expect(peerB.trySend(2, Buffer.from('two'))).toBe(false);
    expect(peerB.canSend(2)).toBe(false);
    expect(peerB.trySend(9, Buffer.from('nine'))).toBe(false);
    await clock.advanceAsync(0);
    expect(gotByB).toEqual(['1:one']);
    expect(peerB.status().channels.find((c) => c.id === 1)!.messagesSent).toBe(1);
    peerB.stop();
    expect(peerB.lifecycle).toBe('stopped');
    expect(await peerB.send(1, Buffer.from('late'))).toBe(false);
    expect(peerB.trySend(1, Buffer.from('late'))).toBe(false);
  });

  it('flushStop delivers what is queued, then closes', async () => {
    const clock = new VirtualClock();
    const { peerA, peerB, gotByB } = pair(clock);
    peerA.start();
    peerB.start();
    expect(peerB.trySend(1, Buffer.from('last words'))).toBe(true);
    const done = peerB.flushStop();
    expect(peerB.running).toBe(false);
    await clock.runUntil(() => gotByB.length === 1, 1000, 10);
    await done;
    expect(gotByB).toEqual(['1:last words']);
  });

  it('keeps per-peer data for reactors', () => {
    const { peerA } = pair(new VirtualClock());
    expect(peerA.get('height')).toBeUndefined();
    peerA.set('height', 42);
    peerA.set('height', 43);
    expect(peerA.get('height')).toBe(43);
  });
});
