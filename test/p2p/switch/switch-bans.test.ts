/**
 * The Switch's ban list (SwitchDeps.bans / setBanList): a banned ID is refused after the upgrade
 * when it connects to us and is not dialed at all, with ErrRejectedBanned; a persistent peer that
 * is banned keeps its redial loop and comes back once the ban is over.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { NodeId } from '../../../p2p/node-id.js';
import { ErrRejectedBanned } from '../../../p2p/switch-errors.js';
import type { PeerBanList } from '../../../p2p/switch-options.js';
import { until, world, type World } from './helpers.js';

/** Bans by ID until a clock time, like the node's. */
class Bans implements PeerBanList {
  readonly until = new Map<NodeId, number>();
  asked = 0;
  constructor(private readonly now: () => number) {}
  bannedUntil(id: NodeId): number | undefined {
    this.asked++;
    const t = this.until.get(id);
    return t !== undefined && t > this.now() ? t : undefined;
  }
}

let w: World;
afterEach(async () => {
  await w.stopAll();
});

describe('Switch ban list', () => {
  it('refuses a banned inbound peer after the upgrade, with the typed reason, and lets it in once the ban is over', async () => {
    w = world();
    const a = await w.node('a', '10.0.0.1');
    const b = await w.node('b', '10.0.0.2');
    const bans = new Bans(() => w.clock.now());
    a.sw.setBanList(bans);
    const endMs = w.clock.now() + 60_000;
    bans.until.set(b.key.id, endMs);
    const refused: unknown[] = [];
    a.sw.on('accept:error', (_remote, err) => refused.push(err));

    await b.sw.dialPeerWithAddress(a.addr).catch(() => undefined);
    await until(w.clock, () => refused.length === 1 && b.sw.peers.size === 0);
    const err = refused[0] as ErrRejectedBanned;
    expect(err).toBeInstanceOf(ErrRejectedBanned);
    expect(err).toMatchObject({ id: b.key.id, bannedUntilMs: endMs, direction: 'inbound' });
    expect(err.remote).toMatch(/^10\.0\.0\.2:\d+$/);
    expect(err.message).toMatch(/is banned until .*connection refused/);
    expect(a.sw.peers.size).toBe(0);
    // Refused before any reactor saw it.
    expect(a.reactor.log).toEqual([]);

    await w.clock.advanceAsync(endMs - w.clock.now());
    await b.sw.dialPeerWithAddress(a.addr);
    await until(w.clock, () => a.sw.peers.has(b.key.id));
    expect(refused).toHaveLength(1);
  });

  it('does not dial a banned ID: no connection is made, dial:error carries ErrRejectedBanned', async () => {
    w = world();
    const a = await w.node('a', '10.0.0.1');
    const b = await w.node('b', '10.0.0.2');
    const bans = new Bans(() => w.clock.now());
    a.sw.setBanList(bans);
    bans.until.set(b.key.id, w.clock.now() + 1000);
    const dialErrors: unknown[] = [];
    a.sw.on('dial:error', (_addr, err) => dialErrors.push(err));
    let bConnections = 0;
    b.sw.on('accept:error', () => bConnections++);
    b.sw.on('peer:add', () => bConnections++);

    await expect(a.sw.dialPeerWithAddress(b.addr)).rejects.toMatchObject({ name: 'ErrRejectedBanned', direction: 'outbound', id: b.key.id });
    await w.clock.settle(10);
    expect(bConnections).toBe(0);
    expect(w.net.openConnections()).toBe(0);
    expect(dialErrors).toHaveLength(1);
    expect(a.sw.diagnostics().dialing).toBe(0);

    // Without a ban list nobody is banned.
    a.sw.setBanList(undefined);
    await a.sw.dialPeerWithAddress(b.addr);
    expect(a.sw.peers.has(b.key.id)).toBe(true);
  });

  it('a banned persistent peer keeps its redial loop and is connected once the ban is over', async () => {
    w = world();
    const b = await w.node('b', '10.0.0.2');
    const a = await w.node('a', '10.0.0.1', { persistentPeers: [b.addr.toString()], start: false });
    const bans = new Bans(() => w.clock.now());
    const endMs = w.clock.now() + 30_000;
    bans.until.set(b.key.id, endMs);
    a.sw.setBanList(bans);
    await a.sw.start();
    await a.sw.dialPeersAsync([b.addr.toString()]);
    await until(w.clock, () => a.sw.redialing().includes(b.key.id), 5000);
    expect(a.sw.peers.size).toBe(0);
    await until(w.clock, () => a.sw.peers.has(b.key.id), 120_000, 500);
    expect(w.clock.now()).toBeGreaterThanOrEqual(endMs);
  });
});
