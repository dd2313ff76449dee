import { afterEach, describe, expect, it } from 'vitest';
import type { Rng } from '../../../p2p/rng.js';
import { until, world, type World } from './helpers.js';
import { Switch } from '../../../p2p/switch.js';
import { RecordingReactor, CHANNELS, keyFor } from './helpers.js';
import { NetAddress } from '../../../p2p/net-address.js';

/** Jitter-free randomness: every wait is exactly the schedule's base value. */
const zeroJitter: Rng = {
  float: () => 0,
  int: () => 0,
  bytes: (n) => new Uint8Array(n),
  shuffle: (xs) => xs,
};

let w: World;
afterEach(async () => {
  await w?.stopAll();
});

async function persistentPair(maxDialPeriodMs = 0) {
  w = world();
  const bKey = keyFor('b');
  const bAddr = new NetAddress(bKey.id, '10.0.0.2', 26656);
  const transport = w.net.transport('10.0.0.1');
  const sw = new Switch(
    { transport, nodeKey: keyFor('a'), clock: w.clock, rng: zeroJitter },
    { nodeInfo: { network: 'test-chain', moniker: 'a' }, persistentPeers: [bAddr.toString()], persistentPeersMaxDialPeriodMs: maxDialPeriodMs },
  );
  sw.addReactor('rec', new RecordingReactor('a', CHANNELS));
  await sw.start();
  w.nodes.push({ sw, key: keyFor('a'), ip: '10.0.0.1', addr: new NetAddress(keyFor('a').id, '10.0.0.1', 26656), reactor: sw.reactor('rec') as RecordingReactor });
  const t0 = w.clock.now();
  const dialTimes: number[] = [];
  sw.on('dial:error', () => dialTimes.push((w.clock.now() - t0) / 1000));
  return { sw, bAddr, t0, dialTimes };
}

describe('persistent peers', () => {
  it('redial schedule to the second: 20 quick tries, 3^i backoff, then every 10 minutes for days', async () => {
    const { sw, bAddr, dialTimes } = await persistentPair();
    await sw.dialPeersAsync([bAddr.toString()]); // b is down: nobody listens at 10.0.0.2
    await w.clock.advanceAsync(0);
    const day = 86_400_000;
    for (let d = 0; d < 3; d++) await w.clock.advanceAsync(day);
    const expected = [0];
    for (let i = 1; i < 20; i++) expected.push(5 * i);
    let t = 95;
    for (let i = 1; i <= 10; i++) expected.push((t += 3 ** i));
    while (t + 600 <= 3 * 86_400) expected.push((t += 600));
    expect(dialTimes.slice(0, 31)).toEqual(expected.slice(0, 31));
    expect(dialTimes[29]).toBe(88_667);
    expect(dialTimes).toEqual(expected);
    expect(dialTimes).toHaveLength(1 + 19 + 10 + 284);
    expect(sw.redialing()).toEqual([bAddr.id]);
    // b comes up: the next capped redial connects, and the loop ends.
    const b = await w.node('b', '10.0.0.2');
    await until(w.clock, () => sw.peers.size === 1, 600_000, 1000);
    expect(sw.peers.get(b.key.id)!.persistent).toBe(true);
    await w.clock.settle(5);
    expect(sw.redialing()).toEqual([]);
  });

  it('caps backoff at persistent_peers_max_dial_period', async () => {
    const { sw, bAddr, dialTimes } = await persistentPair(60_000);
    await sw.dialPeersAsync([bAddr.toString()]);
    await w.clock.advanceAsync(0);
    await w.clock.advanceAsync(3_600_000);
    const gaps = dialTimes.slice(1).map((x, i) => x - dialTimes[i]);
    expect(gaps.slice(0, 19)).toEqual(Array(19).fill(5));
    expect(gaps.slice(19, 23)).toEqual([3, 9, 27, 60]);
    expect(new Set(gaps.slice(23))).toEqual(new Set([60]));
  });

  it('a stable persistent peer that drops is redialed at once; only one loop per peer', async () => {
    const { sw, bAddr } = await persistentPair();
    const b = await w.node('b', '10.0.0.2');
    await sw.dialPeerWithAddress(bAddr);
    await w.clock.advanceAsync(120_000); // stable by now
    const removed: unknown[] = [];
    sw.on('peer:remove', (_p, r) => removed.push(r));
    w.net.disconnect('10.0.0.2');
    await until(w.clock, () => removed.length === 1 && sw.peers.size === 1, 1000, 1);
    expect(sw.redialing()).toEqual([]);
    // Many errors at once still start a single loop.
    w.net.refuse('10.0.0.2');
    const p = sw.peers.get(b.key.id)!;
    sw.stopPeerForError(p, new Error('one'));
    sw.stopPeerForError(p, new Error('two'));
    await w.clock.settle(5);
    const again = await sw.dialPeerWithAddress(bAddr).catch((e) => e);
    expect(again).toBeInstanceOf(Error);
    expect(sw.redialing()).toEqual([bAddr.id]);
    w.net.refuse('10.0.0.2', false);
    await until(w.clock, () => sw.peers.size === 1, 20_000, 100);
  });

  it('an inbound persistent peer is redialed at its configured address', async () => {
    w = world();
    const b = await w.node('b', '10.0.0.2');
    const a = await w.node('a', '10.0.0.1', { persistentPeers: [b.addr.toString()] });
    await b.sw.dialPeerWithAddress(a.addr);
    await until(w.clock, () => a.sw.peers.size === 1);
    const inbound = a.sw.peers.get(b.key.id)!;
    expect(inbound.outbound).toBe(false);
    expect(inbound.persistent).toBe(true);
    await w.clock.advanceAsync(61_000);
    w.net.disconnect('10.0.0.1', '10.0.0.2');
    await until(w.clock, () => a.sw.peers.get(b.key.id)?.outbound === true, 10_000, 10);
  });

  it('stopping the Switch stops redial loops and leaves no timers', async () => {
    const { sw, bAddr } = await persistentPair();
    await sw.dialPeersAsync([bAddr.toString()]);
    await w.clock.advanceAsync(30_000);
    expect(sw.redialing()).toHaveLength(1);
    await sw.stop();
    expect(sw.redialing()).toHaveLength(0);
    expect(w.clock.pendingTimers()).toBe(0);
  });
});
