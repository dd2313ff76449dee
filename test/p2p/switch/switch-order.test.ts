import { afterEach, describe, expect, it } from 'vitest';
import { MConnection } from '../../../p2p/conn/mconnection.js';
import { buildNodeInfo } from '../../../p2p/node-info.js';
import type { Peer } from '../../../p2p/peer.js';
import { BaseReactor } from '../../../p2p/reactor.js';
import { Switch } from '../../../p2p/switch.js';
import {
  ErrDuplicateChannel,
  ErrDuplicateReactor,
  ErrReactorFailed,
  ErrSwitchStarted,
  PeerStoppedGracefully,
} from '../../../p2p/switch-errors.js';
import { upgradeConnection } from '../../../p2p/upgrade.js';
import { CHANNELS, RecordingReactor, keyFor, until, world, type World } from './helpers.js';

let w: World;
afterEach(async () => {
  await w?.stopAll();
});

describe('Switch call order and misbehaving reactors', () => {
  it('initPeer on all → start → addPeer on all; close → removePeer on all (peer still in the set) → leave set → peer:remove', async () => {
    w = world();
    const a = await w.node('a', '10.0.0.1', { start: false });
    const log = a.reactor.log;
    const second = new (class extends RecordingReactor {
      override removePeer(peer: Peer, reason: unknown): void {
        log.push(`second:remove:inSet=${a.sw.peers.has(peer.id)}:running=${peer.running}`);
        super.removePeer(peer, reason);
      }
    })('second', [{ id: 0x50, priority: 1 }], log);
    a.sw.addReactor('second', second);
    a.sw.on('peer:add', (p) => log.push(`event:add:inSet=${a.sw.peers.has(p.id)}`));
    a.sw.on('peer:remove', (p, reason) => log.push(`event:remove:inSet=${a.sw.peers.has(p.id)}:${(reason as Error).name}`));
    await a.sw.start();
    const b = await w.node('b', '10.0.0.2');
    const peer = await a.sw.dialPeerWithAddress(b.addr);
    const id = peer.id.slice(0, 4);
    expect(log).toEqual([`a:init:${id}`, `second:init:${id}`, `a:add:${id}`, `second:add:${id}`, 'event:add:inSet=true']);
    log.length = 0;
    a.sw.stopPeerForError(peer, new Error('test says so'));
    await w.clock.settle(3);
    expect(log).toEqual([`a:remove:${id}`, 'second:remove:inSet=true:running=false', `second:remove:${id}`, 'event:remove:inSet=false:Error']);
    expect(a.reactor.removed[0].reason).toBeInstanceOf(Error);
    expect(await peer.send(0x40, Buffer.from('late'))).toBe(false);
    // b sees the connection drop and removes a too.
    await until(w.clock, () => b.sw.peers.size === 0);
  });

  it('a reconnecting peer never gets initPeer before removePeer of its old connection finished', async () => {
    w = world();
    const log: string[] = [];
    const slow = new (class extends BaseReactor {
      override initPeer(p: Peer): void {
        log.push(`init ${p.id.slice(0, 4)} @${w.clock.now() - t0}`);
      }
      override async removePeer(p: Peer): Promise<void> {
        log.push(`remove-start ${p.id.slice(0, 4)} @${w.clock.now() - t0}`);
        await w.clock.sleep(1000);
        log.push(`remove-end ${p.id.slice(0, 4)} @${w.clock.now() - t0}`);
      }
    })([{ id: 0x50, priority: 1 }]);
    const a = await w.node('a', '10.0.0.1', { start: false, channels: [{ id: 0x40, priority: 1 }] });
    a.sw.addReactor('slow', slow);
    await a.sw.start();
    const b = await w.node('b', '10.0.0.2', { persistentPeers: [`${keyFor('a').id}@10.0.0.1:26656`] });
    const t0 = w.clock.now();
    await b.sw.dialPeerWithAddress(a.addr);
    await until(w.clock, () => a.sw.peers.size === 1);
    const bid = b.key.id.slice(0, 4);
    // b drops the connection; its redial (immediate) hits a while a is still removing b.
    const rejected: unknown[] = [];
    a.sw.on('accept:error', (_r, e) => rejected.push(e));
    b.sw.stopPeerForError(b.sw.peers.list()[0], new Error('flap'));
    await until(w.clock, () => a.sw.peers.size === 1 && log.filter((l) => l.startsWith('init')).length === 2, 20_000);
    const starts = log.map((l) => l.split(' ')[0]);
    expect(starts).toEqual(['init', 'remove-start', 'remove-end', 'init']);
    expect(log[2]).toBe(`remove-end ${bid} @1000`);
    expect(rejected.length).toBeGreaterThanOrEqual(1); // the early reconnect was refused as a duplicate
  });

  it('a peer whose addPeer throws is not kept; other peers are unaffected', async () => {
    w = world();
    const a = await w.node('a', '10.0.0.1', { start: false });
    const bad = keyFor('b').id;
    a.sw.addReactor(
      'picky',
      new (class extends BaseReactor {
        override addPeer(p: Peer): void {
          if (p.id === bad) throw new Error('no thanks');
        }
      })([{ id: 0x51, priority: 1 }]),
    );
    await a.sw.start();
    const b = await w.node('b', '10.0.0.2');
    const c = await w.node('c', '10.0.0.3');
    const err = await a.sw.dialPeerWithAddress(b.addr).catch((e) => e);
    expect(err).toBeInstanceOf(ErrReactorFailed);
    expect((err as ErrReactorFailed).method).toBe('addPeer');
    await w.clock.settle(3);
    expect(a.sw.peers.has(b.key.id)).toBe(false);
    expect(a.reactor.removed.map((r) => r.peer.id)).toEqual([b.key.id]);
    await a.sw.dialPeerWithAddress(c.addr);
    expect(a.sw.peers.size).toBe(1);
  });

  it('a peer whose initPeer throws never joins; removePeer cleans up; no peer:add', async () => {
    w = world();
    const a = await w.node('a', '10.0.0.1', { start: false });
    a.sw.addReactor(
      'boom',
      new (class extends BaseReactor {
        override initPeer(): void {
          throw new Error('init boom');
        }
      })([{ id: 0x51, priority: 1 }]),
    );
    const adds: Peer[] = [];
    a.sw.on('peer:add', (p) => adds.push(p));
    await a.sw.start();
    const b = await w.node('b', '10.0.0.2');
    const err = await a.sw.dialPeerWithAddress(b.addr).catch((e) => e);
    expect(err).toBeInstanceOf(ErrReactorFailed);
    expect((err as ErrReactorFailed).method).toBe('initPeer');
    expect(adds).toHaveLength(0);
    expect(a.sw.peers.size).toBe(0);
    expect(a.reactor.removed).toHaveLength(1);
  });

  it('a reactor whose receive throws gets that peer stopped; the Switch keeps working', async () => {
    w = world();
    const a = await w.node('a', '10.0.0.1', { start: false });
    a.sw.addReactor(
      'fragile',
      new (class extends BaseReactor {
        override receive(): void {
          throw new Error('cannot decode');
        }
      })([{ id: 0x51, priority: 1 }]),
    );
    await a.sw.start();
    const b = await w.node('b', '10.0.0.2', { channels: [...CHANNELS, { id: 0x51, priority: 1 }] });
    const c = await w.node('c', '10.0.0.3');
    await a.sw.dialPeerWithAddress(b.addr);
    await a.sw.dialPeerWithAddress(c.addr);
    await until(w.clock, () => b.sw.peers.size === 1 && c.sw.peers.size === 1);
    b.sw.peers.list()[0].trySend(0x51, Buffer.from('poison'));
    await until(w.clock, () => a.sw.peers.size === 1);
    const reason = a.reactor.removed[0].reason as ErrReactorFailed;
    expect(reason).toBeInstanceOf(ErrReactorFailed);
    expect(reason.method).toBe('receive');
    c.sw.peers.list()[0].trySend(0x40, Buffer.from('still fine'));
    await until(w.clock, () => a.reactor.received.length === 1);
    expect(a.reactor.received[0].text).toBe('still fine');
  });

  it('an event listener that throws is logged; other listeners and the Switch carry on', async () => {
    w = world();
    const a = await w.node('a', '10.0.0.1');
    const b = await w.node('b', '10.0.0.2');
    const seen: string[] = [];
    const thrower = (): void => {
      throw new Error('listener bug');
    };
    a.sw.on('peer:add', thrower);
    a.sw.on('peer:add', (p) => seen.push(p.id));
    const peer = await a.sw.dialPeerWithAddress(b.addr);
    expect(seen).toEqual([b.key.id]);
    expect(a.sw.peers.size).toBe(1);
    // off() finds the listener it was given.
    a.sw.off('peer:add', thrower);
    expect(a.sw.listenerCount('peer:add')).toBe(1);
    await a.sw.stopPeerGracefully(peer);
    expect(a.reactor.removed[0].reason).toBeInstanceOf(PeerStoppedGracefully);
    expect(a.sw.peers.size).toBe(0);
  });

  it('a message on a channel no reactor handles stops that peer', async () => {
    w = world();
    const b = await w.node('b', '10.0.0.2');
    const t = w.net.transport('10.0.0.9');
    const raw = await t.dial({ ip: '10.0.0.2', port: 26656 });
    const key = keyFor('m');
    const info = buildNodeInfo({ nodeId: key.id, listenAddr: 'tcp://10.0.0.9:26656', network: 'test-chain', version: '1', moniker: 'm', channels: [0x40, 0x77] });
    const up = await upgradeConnection({ clock: w.clock }, { raw, identity: key, ourNodeInfo: info, dialedId: b.key.id });
    await until(w.clock, () => b.sw.peers.size === 1);
    const errors: Error[] = [];
    const mc = new MConnection({ clock: w.clock }, up.conn, [{ id: 0x77, priority: 1 }], { onReceive: () => undefined, onError: (e) => errors.push(e) });
    mc.start();
    mc.trySend(0x77, Buffer.from('unknown here'));
    await until(w.clock, () => b.sw.peers.size === 0);
    const reason = b.reactor.removed[0].reason as Error;
    expect(reason.name).toMatch(/UnknownChannel|NoReactorForChannel/);
    mc.stop();
  });

  it('addReactor refuses a channel claimed twice, a duplicate name, and calls after start', async () => {
    w = world();
    const a = await w.node('a', '10.0.0.1', { start: false });
    const clash = new RecordingReactor('x', [{ id: 0x41, priority: 1 }]);
    expect(() => a.sw.addReactor('x', clash)).toThrow(ErrDuplicateChannel);
    expect(() => a.sw.addReactor('rec', new RecordingReactor('y', [{ id: 0x60, priority: 1 }]))).toThrow(ErrDuplicateReactor);
    expect(() => a.sw.addReactor('z', new RecordingReactor('z', [{ id: 0x60, priority: 1 }, { id: 0x60, priority: 1 }]))).toThrow(ErrDuplicateChannel);
    await a.sw.start();
    expect(() => a.sw.addReactor('late', new RecordingReactor('late', [{ id: 0x61, priority: 1 }]))).toThrow(ErrSwitchStarted);
    expect(Array.from(a.sw.nodeInfo().channels)).toEqual([0x40, 0x41]);
    expect(a.sw.reactor('rec')).toBe(a.reactor);
  });

  it('start fails without any channel, and a failed start leaves nothing listening', async () => {
    w = world();
    const sw = new Switch({ transport: w.net.transport('10.0.0.5'), nodeKey: keyFor('e'), clock: w.clock }, { nodeInfo: { network: 'n', moniker: 'e' } });
    await expect(sw.start()).rejects.toThrow(/reactors/);
    const sw2 = new Switch({ transport: w.net.transport('10.0.0.6'), nodeKey: keyFor('f'), clock: w.clock }, { nodeInfo: { network: 'n', moniker: 'f', listenAddr: 'not an address' } });
    sw2.addReactor('r', new RecordingReactor('r', CHANNELS));
    await expect(sw2.start()).rejects.toThrow();
    expect(w.net.listening()).toBe(0);
  });
});
