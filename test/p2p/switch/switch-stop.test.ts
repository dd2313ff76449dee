import { describe, expect, it } from 'vitest';
import { SecretConnection } from '../../../p2p/conn/secret-connection.js';
import { encodeDelimited } from '../../../p2p/conn/delimited.js';
import { NetAddress } from '../../../p2p/net-address.js';
import { ErrRejectedAuthFailure } from '../../../p2p/switch-errors.js';
import { keyFor, until, world } from './helpers.js';

describe('Switch.stop in the middle of everything', () => {
  it('aborts dials, upgrades, scheduled dials and redials, and leaves nothing behind', async () => {
    const w = world();
    const order: string[] = [];
    const a = await w.node('a', '10.0.0.1', { persistentPeers: [`${keyFor('gone').id}@10.0.9.9:26656`] });
    a.sw.addListener('peer:remove', () => order.push('peer:remove'));
    const b = await w.node('b', '10.0.0.2');
    await a.sw.dialPeerWithAddress(b.addr);
    // A dial stuck on a blackholed host, a redial loop for a persistent peer that is down,
    // scheduled dials from dialPeersAsync, and an inbound connection that never handshakes.
    await w.node('hole', '10.0.0.3');
    w.net.blackhole('10.0.0.3');
    void a.sw.dialPeerWithAddress(new NetAddress(keyFor('hole').id, '10.0.0.3', 26656)).catch(() => undefined);
    void a.sw.dialPeerWithAddress(new NetAddress(keyFor('gone').id, '10.0.9.9', 26656)).catch(() => undefined);
    await a.sw.dialPeersAsync([`${keyFor('x').id}@10.0.0.4:26656`]);
    const mute = w.net.transport('10.0.0.5');
    await mute.dial({ ip: '10.0.0.1', port: 26656 });
    await w.clock.settle(5);
    expect(a.sw.diagnostics().upgradingInbound).toBe(1);
    expect(a.sw.redialing()).toHaveLength(1);
    await a.sw.stop();
    expect(order).toEqual(['peer:remove']);
    expect(a.sw.diagnostics()).toEqual({ peers: 0, dialing: 0, reserved: 0, removals: 0, inflight: 0, tasks: 0, redials: 0, upgradingInbound: 0 });
    await b.sw.stop();
    await mute.close();
    await w.clock.settle(5);
    expect(w.clock.pendingTimers()).toBe(0);
    expect(w.net.openConnections()).toBe(0);
    expect(w.net.listening()).toBe(1); // only 'hole' still listens
    await w.stopAll();
    expect(w.net.listening()).toBe(0);
    // stop is idempotent.
    await a.sw.stop();
  });

  it('refuses a NodeInfo longer than 10 240 bytes before reading it', async () => {
    const w = world();
    const a = await w.node('a', '10.0.0.1');
    const liar = w.net.transport('10.0.0.8');
    const lkey = keyFor('liar');
    await liar.listen((c) => {
      void SecretConnection.handshake({ clock: w.clock }, c.stream, lkey).then((sc) => {
        // A length prefix of 10 241, then nothing: the reader must fail on the prefix alone.
        sc.write(encodeDelimited(new Uint8Array(10_241)).subarray(0, 2));
      }, () => undefined);
    });
    const err = await a.sw.dialPeerWithAddress(new NetAddress(lkey.id, '10.0.0.8', 26656)).catch((e) => e);
    expect(err).toBeInstanceOf(ErrRejectedAuthFailure);
    expect((err as ErrRejectedAuthFailure).stage).toBe('node-info-exchange');
    expect(String((err as Error).cause)).toMatch(/10241|limit/);
    await w.stopAll();
    await liar.close();
    await until(w.clock, () => w.net.openConnections() === 0);
  });
});
