import { afterEach, describe, expect, it } from 'vitest';
import { SecretConnection } from '../../../p2p/conn/secret-connection.js';
import { NetAddress } from '../../../p2p/net-address.js';
import { buildNodeInfo, type NodeInfo } from '../../../p2p/node-info.js';
import {
  ErrRejected,
  ErrRejectedAuthFailure,
  ErrRejectedDialedIdMismatch,
  ErrRejectedFiltered,
  ErrRejectedIncompatible,
  ErrRejectedInvalidNodeInfo,
  ErrRejectedNodeInfoIdMismatch,
  ErrRejectedSelf,
  ErrRejectedDuplicate,
  ErrUpgradeTimeout,
  ErrAlreadyDialingOrConnected,
} from '../../../p2p/switch-errors.js';
import type { RawConnection } from '../../../p2p/transport/transport.js';
import { upgradeConnection } from '../../../p2p/upgrade.js';
import { keyFor, until, world, type World } from './helpers.js';

let w: World;
afterEach(async () => {
  await w?.stopAll();
});

/** Errors the Switch reports for inbound connections. */
function acceptErrors(sw: import('../../../p2p/switch.js').Switch): unknown[] {
  const out: unknown[] = [];
  sw.on('accept:error', (_remote, err) => out.push(err));
  return out;
}

function infoFor(label: string, overrides: Partial<NodeInfo> = {}): NodeInfo {
  return {
    ...buildNodeInfo({
      nodeId: keyFor(label).id,
      listenAddr: 'tcp://10.0.0.9:26656',
      network: 'test-chain',
      version: '1',
      moniker: label,
      channels: [0x40],
    }),
    ...overrides,
  };
}

/** Dials `to` from a bare memory transport and runs the upgrade by hand (a scripted remote). */
let handDialers = 0;
async function handUpgrade(w: World, label: string, to: NetAddress, ourNodeInfo: NodeInfo, dialedId = to.id) {
  // Each hand dialer gets a host of its own, chosen deterministically (runs replay exactly).
  handDialers++;
  const t = w.net.transport(`10.9.${w.nodes.length}.${handDialers}`);
  const raw = await t.dial({ ip: to.ip, port: to.port });
  const key = keyFor(label);
  return upgradeConnection({ clock: w.clock }, { raw, identity: key, ourNodeInfo, dialedId });
}

describe('upgrade rejections, each with its own typed error', () => {
  it('auth failure: the remote speaks garbage instead of the handshake', async () => {
    w = world();
    const junk = w.net.transport('10.0.0.66');
    await junk.listen((c) => c.stream.write(Buffer.alloc(64, 0xff)));
    const a = await w.node('a', '10.0.0.1');
    const err = await a.sw.dialPeerWithAddress(new NetAddress(keyFor('x').id, '10.0.0.66', 26656)).catch((e) => e);
    expect(err).toBeInstanceOf(ErrRejectedAuthFailure);
    expect((err as ErrRejectedAuthFailure).stage).toBe('handshake');
    expect(a.sw.peers.size).toBe(0);
    expect(a.sw.numPeers().dialing).toBe(0);
  });

  it('dialed-ID mismatch: the key on the other end is not the one dialed', async () => {
    w = world();
    const a = await w.node('a', '10.0.0.1');
    await w.node('b', '10.0.0.2');
    const wrong = new NetAddress(keyFor('not-b').id, '10.0.0.2', 26656);
    const dialErrors: unknown[] = [];
    a.sw.on('dial:error', (addr, e) => dialErrors.push([addr.toString(), e]));
    const err = await a.sw.dialPeerWithAddress(wrong).catch((e) => e);
    expect(err).toBeInstanceOf(ErrRejectedDialedIdMismatch);
    expect((err as ErrRejectedDialedIdMismatch).dialedId).toBe(wrong.id);
    expect((err as ErrRejectedDialedIdMismatch).authenticatedId).toBe(keyFor('b').id);
    expect(dialErrors).toHaveLength(1);
  });

  it('invalid NodeInfo: an empty moniker is refused by the listener', async () => {
    w = world();
    const b = await w.node('b', '10.0.0.2');
    const errs = acceptErrors(b.sw);
    const bad = infoFor('m', { moniker: '' });
    // The dialer sees the connection close.
    await handUpgrade(w, 'm', b.addr, bad).catch(() => undefined);
    await until(w.clock, () => errs.length === 1);
    expect(errs[0]).toBeInstanceOf(ErrRejectedInvalidNodeInfo);
    expect(b.sw.peers.size).toBe(0);
  });

  it('NodeInfo ID mismatch: the NodeInfo speaks for another key', async () => {
    w = world();
    const b = await w.node('b', '10.0.0.2');
    const errs = acceptErrors(b.sw);
    await handUpgrade(w, 'm', b.addr, infoFor('someone-else')).catch(() => undefined);
    await until(w.clock, () => errs.length === 1);
    expect(errs[0]).toBeInstanceOf(ErrRejectedNodeInfoIdMismatch);
    expect((errs[0] as ErrRejectedNodeInfoIdMismatch).authenticatedId).toBe(keyFor('m').id);
  });

  it('incompatible: another network, or no common channel', async () => {
    w = world();
    const b = await w.node('b', '10.0.0.2');
    const errs = acceptErrors(b.sw);
    const err1 = await handUpgrade(w, 'm', b.addr, infoFor('m', { network: 'other-chain' })).catch((e) => e);
    expect(err1).toBeInstanceOf(ErrRejectedIncompatible); // checked on both ends
    const err2 = await handUpgrade(w, 'n', b.addr, infoFor('n', { channels: Uint8Array.of(0x99) })).catch((e) => e);
    expect(err2).toBeInstanceOf(ErrRejectedIncompatible);
    await until(w.clock, () => errs.length === 2);
    expect(errs.every((e) => e instanceof ErrRejectedIncompatible)).toBe(true);
    // Peers announcing p2p 9 (CometBFT v1.0) are fine.
    const up = await handUpgrade(w, 'v1', b.addr, infoFor('v1', { protocolVersion: { p2p: 9, block: 11, app: 0 } }));
    expect(up.nodeInfo.id).toBe(b.key.id);
    up.conn.destroy();
  });

  it('self: dialing our own address is refused, remembered as ours and kept out of the address book', async () => {
    w = world();
    const a = await w.node('a', '10.0.0.1');
    const calls: string[] = [];
    a.sw.setAddrBook({
      addAddress: () => calls.push('add'),
      addOurAddress: (x) => calls.push(`ours:${x.toString()}`),
      removeAddress: (x) => calls.push(`remove:${x.toString()}`),
      markGood: () => calls.push('good'),
      save: () => calls.push('save'),
    });
    const err = await a.sw.dialPeerWithAddress(a.addr).catch((e) => e);
    expect(err).toBeInstanceOf(ErrRejectedSelf);
    expect(calls).toEqual([`remove:${a.addr}`, `ours:${a.addr}`]);
    expect(a.sw.isOurAddress(a.addr)).toBe(true);
    await w.clock.settle(5);
    expect(a.sw.peers.size).toBe(0);
  });

  it('duplicate: a second connection from an already connected ID', async () => {
    w = world();
    const a = await w.node('a', '10.0.0.1');
    const b = await w.node('b', '10.0.0.2');
    await a.sw.dialPeerWithAddress(b.addr);
    await until(w.clock, () => b.sw.peers.size === 1);
    // Dialing again is refused before any connection is made.
    const again = await a.sw.dialPeerWithAddress(b.addr).catch((e) => e);
    expect(again).toBeInstanceOf(ErrAlreadyDialingOrConnected);
    expect((again as ErrAlreadyDialingOrConnected).reason).toBe('connected');
    // The same key from another IP (a second process with a copied key) is refused by b.
    const errs = acceptErrors(b.sw);
    const twin = await w.node('a', '10.0.0.3', { allowDuplicateIp: true });
    // The twin may briefly see b as a peer (its side of the upgrade finished first); b closes it.
    await twin.sw.dialPeerWithAddress(b.addr).catch(() => undefined);
    await until(w.clock, () => errs.length === 1 && twin.sw.peers.size === 0);
    expect(errs[0]).toBeInstanceOf(ErrRejectedDuplicate);
    expect(b.sw.peers.size).toBe(1);
    expect(b.sw.peers.get(a.key.id)!.remoteIP()).toBe('10.0.0.1');
  });

  it('filtered: a connection filter by address and a peer filter by ID', async () => {
    w = world();
    const b = await w.node('b', '10.0.0.2', {
      connFilters: [(r) => { if (r.ip === '10.0.0.1') throw new Error('banned ip'); }],
      peerFilters: [async (p) => { if (p.id === keyFor('c').id) throw new Error('banned id'); }],
    });
    const errs = acceptErrors(b.sw);
    const a = await w.node('a', '10.0.0.1');
    const c = await w.node('c', '10.0.0.3');
    await a.sw.dialPeerWithAddress(b.addr).catch(() => undefined);
    await c.sw.dialPeerWithAddress(b.addr).catch(() => undefined);
    await until(w.clock, () => errs.length === 2);
    const byFilter = Object.fromEntries(errs.map((e) => [(e as ErrRejectedFiltered).filter, e]));
    expect(byFilter.address).toBeInstanceOf(ErrRejectedFiltered);
    expect(byFilter.id).toBeInstanceOf(ErrRejectedFiltered);
    expect((byFilter.id as ErrRejectedFiltered).id).toBe(c.key.id);
    expect(b.sw.peers.size).toBe(0);
    await w.clock.settle(5);
    expect(a.sw.peers.size + c.sw.peers.size).toBe(0);
  });

  it('timeouts: handshake at exactly 3 s, NodeInfo exchange at 3 s, filters at 5 s', async () => {
    w = world();
    // A listener that accepts and says nothing.
    const mute = w.net.transport('10.0.0.70');
    const held: RawConnection[] = [];
    await mute.listen((c) => held.push(c));
    const a = await w.node('a', '10.0.0.1');
    let err: unknown;
    void a.sw.dialPeerWithAddress(new NetAddress(keyFor('x').id, '10.0.0.70', 26656)).catch((e) => (err = e));
    await w.clock.advanceAsync(2999);
    expect(err).toBeUndefined();
    await w.clock.advanceAsync(1);
    expect(err).toBeInstanceOf(ErrUpgradeTimeout);
    expect((err as ErrUpgradeTimeout).stage).toBe('handshake');

    // A listener that completes the handshake, then never sends its NodeInfo.
    const quiet = w.net.transport('10.0.0.71');
    const qkey = keyFor('quiet');
    await quiet.listen((c) => {
      void SecretConnection.handshake({ clock: w.clock }, c.stream, qkey).catch(() => undefined);
    });
    let err2: unknown;
    void a.sw.dialPeerWithAddress(new NetAddress(qkey.id, '10.0.0.71', 26656)).catch((e) => (err2 = e));
    await w.clock.settle(20);
    await w.clock.advanceAsync(2999);
    expect(err2).toBeUndefined();
    await w.clock.advanceAsync(1);
    expect(err2).toBeInstanceOf(ErrUpgradeTimeout);
    expect((err2 as ErrUpgradeTimeout).stage).toBe('node-info-exchange');

    // A filter that never answers.
    const slow = await w.node('slow', '10.0.0.72', { connFilters: [() => new Promise<void>(() => undefined)] });
    const errs = acceptErrors(slow.sw);
    void a.sw.dialPeerWithAddress(slow.addr).catch(() => undefined);
    await w.clock.settle(5);
    await w.clock.advanceAsync(4999);
    expect(errs).toHaveLength(0);
    await w.clock.advanceAsync(1);
    expect(errs[0]).toBeInstanceOf(ErrUpgradeTimeout);
    expect((errs[0] as ErrUpgradeTimeout).stage).toBe('address-filter');
    for (const e of [err, err2, errs[0]]) expect(e).toBeInstanceOf(ErrRejected);
    // Every deadline was cleared on the way out (no peers, so no MConnection timers either).
    await w.clock.settle(5);
    expect(w.clock.pendingTimers()).toBe(0);
  });
});
