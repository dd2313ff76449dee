import { afterEach, describe, expect, it } from 'vitest';
import type { NetAddress } from '../../../p2p/net-address.js';
import {
  ErrAlreadyDialingOrConnected,
  ErrRejectedFiltered,
  ErrRejectedInboundLimit,
  ErrRejectedUpgradeLimit,
  ErrSwitchConfig,
  ErrUpgradeTimeout,
} from '../../../p2p/switch-errors.js';
import type { AddrBookLike } from '../../../p2p/switch.js';
import { keyFor, until, world, type World } from './helpers.js';

let w: World;
afterEach(async () => {
  await w?.stopAll();
});

function recordingBook(): AddrBookLike & { calls: string[] } {
  const calls: string[] = [];
  return {
    calls,
    addAddress: (a: NetAddress, src: NetAddress) => calls.push(`add ${a.id.slice(0, 4)} from ${src.id.slice(0, 4)}`),
    addOurAddress: (a: NetAddress) => calls.push(`ours ${a.id.slice(0, 4)}`),
    removeAddress: (a: NetAddress) => calls.push(`remove ${a.id.slice(0, 4)}`),
    markGood: (id: string) => calls.push(`good ${id.slice(0, 4)}`),
    save: () => calls.push('save'),
  };
}

describe('Switch limits and special peer IDs', () => {
  it('enforces max inbound peers; unconditional peers are exempt and not counted', async () => {
    w = world();
    const hub = await w.node('hub', '10.0.1.1', {
      maxInboundPeers: 2,
      maxOutboundPeers: 7,
      unconditionalPeerIds: [keyFor('u1').id, keyFor('u2').id],
    });
    expect(hub.sw.maxInboundPeers()).toBe(2);
    expect(hub.sw.maxOutboundPeers()).toBe(7);
    const errs: unknown[] = [];
    hub.sw.on('accept:error', (_r, e) => errs.push(e));
    for (const label of ['p1', 'p2', 'p3']) {
      const n = await w.node(label, `10.0.2.${label.slice(1)}`);
      await n.sw.dialPeerWithAddress(hub.addr).catch(() => undefined);
      await w.clock.settle(5);
    }
    await until(w.clock, () => errs.length === 1);
    expect(errs[0]).toBeInstanceOf(ErrRejectedInboundLimit);
    expect((errs[0] as ErrRejectedInboundLimit).id).toBe(keyFor('p3').id);
    expect(hub.sw.peers.size).toBe(2);
    for (const label of ['u1', 'u2']) {
      const n = await w.node(label, `10.0.3.${label.slice(1)}`);
      await n.sw.dialPeerWithAddress(hub.addr);
    }
    await until(w.clock, () => hub.sw.peers.size === 4);
    expect(hub.sw.numPeers()).toEqual({ outbound: 0, inbound: 2, dialing: 0 });
    expect(hub.sw.isPeerUnconditional(keyFor('u1').id)).toBe(true);
  });

  it('bounds the connections being upgraded at once to max inbound + unconditional', async () => {
    w = world();
    const hub = await w.node('hub', '10.0.1.1', { maxInboundPeers: 2, unconditionalPeerIds: [keyFor('u').id] });
    const errs: unknown[] = [];
    hub.sw.on('accept:error', (_r, e) => errs.push(e));
    const flood = w.net.transport('10.6.6.6');
    for (let i = 0; i < 5; i++) await flood.dial({ ip: '10.0.1.1', port: 26656 });
    await w.clock.settle(5);
    const limited = errs.filter((e) => e instanceof ErrRejectedUpgradeLimit);
    expect(limited).toHaveLength(2);
    expect((limited[0] as ErrRejectedUpgradeLimit).limit).toBe(3);
    // The three silent ones time out in the handshake and free their slots.
    await w.clock.advanceAsync(3000);
    expect(errs.filter((e) => e instanceof ErrUpgradeTimeout)).toHaveLength(3);
    const ok = await w.node('late', '10.0.4.1');
    await ok.sw.dialPeerWithAddress(hub.addr);
    await until(w.clock, () => hub.sw.peers.size === 1);
    expect(w.net.openConnections()).toBe(1);
  });

  it('refuses a second peer from the same IP unless duplicate IPs are allowed', async () => {
    w = world();
    const a = await w.node('a', '10.0.1.1');
    const b = await w.node('b', '10.0.1.2');
    const b2 = await w.node('b2', '10.0.1.2', { port: 26657 });
    await a.sw.dialPeerWithAddress(b.addr);
    expect(a.sw.isDialingOrExistingAddress(b2.addr)).toBe(true);
    const err = await a.sw.dialPeerWithAddress(b2.addr).catch((e) => e);
    expect(err).toBeInstanceOf(ErrAlreadyDialingOrConnected);
    expect((err as ErrAlreadyDialingOrConnected).reason).toBe('duplicate-ip');
    // Inbound from the same IP is refused too.
    const errs: unknown[] = [];
    a.sw.on('accept:error', (_r, e) => errs.push(e));
    await b2.sw.dialPeerWithAddress(a.addr).catch(() => undefined);
    await until(w.clock, () => errs.length === 1);
    expect(errs[0]).toBeInstanceOf(ErrRejectedFiltered);
    // With allowDuplicateIp both get in.
    const c = await w.node('c', '10.0.1.3', { allowDuplicateIp: true });
    await c.sw.dialPeerWithAddress(b.addr);
    await c.sw.dialPeerWithAddress(b2.addr);
    expect(c.sw.peers.size).toBe(2);
  });

  it('private peer IDs never reach the address book', async () => {
    w = world();
    const priv = keyFor('private');
    const pub = keyFor('public');
    const a = await w.node('a', '10.0.1.1', { privatePeerIds: [priv.id] });
    await w.node('private', '10.0.1.2');
    await w.node('public', '10.0.1.3');
    const book = recordingBook();
    a.sw.setAddrBook(book);
    await a.sw.dialPeersAsync([`${priv.id}@10.0.1.2:26656`, `${pub.id}@10.0.1.3:26656`]);
    expect(book.calls).toEqual([`add ${pub.id.slice(0, 4)} from ${a.key.id.slice(0, 4)}`, 'save']);
    await until(w.clock, () => a.sw.peers.size === 2, 5000);
    for (const p of a.sw.peers.list()) a.sw.markPeerAsGood(p);
    expect(book.calls.filter((c) => c.startsWith('good'))).toEqual([`good ${pub.id.slice(0, 4)}`]);
    expect(a.sw.isPeerPrivate(priv.id)).toBe(true);
  });

  it('fails fast on bad IDs and addresses in the options, naming the key', async () => {
    w = world();
    await expect(w.node('x', '10.0.1.1', { unconditionalPeerIds: ['nothex'] })).rejects.toThrow(/unconditionalPeerIds/);
    await expect(w.node('y', '10.0.1.2', { privatePeerIds: ['abc'] })).rejects.toThrow(ErrSwitchConfig);
    await expect(w.node('z', '10.0.1.3', { persistentPeers: ['10.0.0.1:26656'] })).rejects.toThrow(/persistentPeers/);
    await expect(w.node('v', '10.0.1.4', { maxInboundPeers: -1 })).rejects.toThrow(/maxInboundPeers/);
  });
});
