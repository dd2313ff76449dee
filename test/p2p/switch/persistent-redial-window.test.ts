/**
 * A persistent peer whose redialed connection is stopped while the redial loop that made it is
 * still winding down (between the dial's success and the loop's end) must be redialed again, on
 * the schedule; and a Switch stopped in that window must leave no loop and no timer behind.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { NetAddress } from '../../../p2p/net-address.js';
import type { Peer } from '../../../p2p/peer.js';
import type { Rng } from '../../../p2p/rng.js';
import { Switch } from '../../../p2p/switch.js';
import { CHANNELS, keyFor, RecordingReactor, world, type World } from './helpers.js';

/** Jitter-free randomness: every wait is exactly the schedule's base value. */
const zeroJitter: Rng = { float: () => 0, int: () => 0, bytes: (n) => new Uint8Array(n), shuffle: (xs) => xs };

/** Runs `fn` synchronously (k = -1) or after k microtask turns. */
function afterMicrotasks(k: number, fn: () => void): void {
  if (k < 0) return fn();
  let chain = Promise.resolve();
  for (let i = 0; i < k; i++) chain = chain.then(() => undefined);
  void chain.then(fn);
}

let w: World;
afterEach(async () => {
  await w?.stopAll();
});

/** a keeps b persistent; b is down for a's first dial (t = 0) and comes up at t = 1 s. */
async function setup(options: { onAdd?: (sw: Switch, peer: Peer) => void; bReactor?: RecordingReactor } = {}) {
  w = world();
  const bKey = keyFor('b');
  const bAddr = new NetAddress(bKey.id, '10.0.0.2', 26656);
  const sw = new Switch(
    { transport: w.net.transport('10.0.0.1'), nodeKey: keyFor('a'), clock: w.clock, rng: zeroJitter },
    { nodeInfo: { network: 'test-chain', moniker: 'a' }, persistentPeers: [bAddr.toString()] },
  );
  sw.addReactor('rec', new RecordingReactor('a', CHANNELS));
  await sw.start();
  w.nodes.push({ sw, key: keyFor('a'), ip: '10.0.0.1', addr: new NetAddress(keyFor('a').id, '10.0.0.1', 26656), reactor: sw.reactor('rec') as RecordingReactor });
  const t0 = w.clock.now();
  const addTimes: number[] = [];
  sw.on('peer:add', (peer) => {
    addTimes.push((w.clock.now() - t0) / 1000);
    options.onAdd?.(sw, peer);
  });
  await sw.dialPeersAsync([bAddr.toString()]);
  await w.clock.advanceAsync(1000);
  expect(sw.redialing()).toEqual([bAddr.id]);
  const bsw = new Switch(
    { transport: w.net.transport('10.0.0.2'), nodeKey: bKey, clock: w.clock, rng: w.rng.fork() },
    { nodeInfo: { network: 'test-chain', moniker: 'b' } },
  );
  const bReactor = options.bReactor ?? new RecordingReactor('b', CHANNELS);
  bsw.addReactor('rec', bReactor);
  await bsw.start();
  w.nodes.push({ sw: bsw, key: bKey, ip: '10.0.0.2', addr: bAddr, reactor: bReactor });
  return { sw, bsw, bAddr, addTimes };
}

describe('persistent peer dropped while its redial loop winds down', () => {
  // k = -1: stopped synchronously from 'peer:add' (inside the dial); k >= 0: that many microtask
  // turns later, i.e. after the dial resolved but before the loop has ended.
  for (const k of [-1, 0, 1, 2, 3, 4, 6]) {
    it(`is redialed on the schedule (stopped ${k < 0 ? 'synchronously' : `after ${k} microtasks`})`, async () => {
      let drops = 3;
      const { sw, addTimes } = await setup({
        onAdd: (s, peer) => {
          if (drops-- > 0) afterMicrotasks(k, () => s.stopPeerForError(peer, new Error('dropped at once')));
        },
      });
      await w.clock.advanceAsync(60_000);
      // Dial 0 at t=0 failed (b down); dial 1 at 5 s connects and is dropped at once; each short-lived
      // connection resumes the schedule (5 s apart), never at once, never lost.
      expect(addTimes).toEqual([5, 10, 15, 20]);
      expect(sw.peers.size).toBe(1);
      expect(sw.redialing()).toEqual([]);
      expect(sw.diagnostics().redials).toBe(0);
    });
  }

  it('a remote that drops the connection right after accepting it: same schedule', async () => {
    let drops = 3;
    class Dropper extends RecordingReactor {
      override addPeer(peer: Peer): void {
        super.addPeer(peer);
        if (drops-- > 0) w.net.disconnect('10.0.0.2');
      }
    }
    const { sw, addTimes } = await setup({ bReactor: new Dropper('b', CHANNELS) });
    await w.clock.advanceAsync(60_000);
    expect(addTimes).toEqual([5, 10, 15, 20]);
    expect(sw.peers.size).toBe(1);
    expect(sw.redialing()).toEqual([]);
  });

  for (const k of [-1, 0, 1, 2, 3, 5]) {
    it(`Switch.stop() in that window leaves no loop and no timer (stop ${k < 0 ? 'synchronously' : `after ${k} microtasks`})`, async () => {
      let stopping: Promise<void> | undefined;
      const { sw, bsw, addTimes } = await setup({
        onAdd: (s, peer) => {
          s.stopPeerForError(peer, new Error('dropped at once'));
          afterMicrotasks(k, () => (stopping = s.stop()));
        },
      });
      await w.clock.advanceAsync(5_000);
      expect(addTimes).toEqual([5]);
      expect(stopping).toBeDefined();
      await stopping;
      expect(sw.redialing()).toEqual([]);
      expect(sw.diagnostics()).toMatchObject({ redials: 0, tasks: 0, peers: 0, dialing: 0 });
      await bsw.stop();
      expect(w.clock.pendingTimers()).toBe(0);
      await w.clock.advanceAsync(3_600_000);
      expect(addTimes).toEqual([5]);
    });
  }
});
