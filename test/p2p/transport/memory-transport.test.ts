import { describe, expect, it } from 'vitest';
import { once } from 'node:events';
import { VirtualClock } from '../../../p2p/clock.js';
import { MemoryNetwork } from '../../../p2p/transport/memory-transport.js';
import type { RawConnection } from '../../../p2p/transport/transport.js';
import {
  ErrConnectionRefused,
  ErrDialAborted,
  ErrDialTimeout,
  ErrTransportClosed,
  ErrTransportListening,
} from '../../../p2p/transport/transport-errors.js';

function setup(latencyMs = 0) {
  const clock = new VirtualClock(1_000_000);
  const net = new MemoryNetwork({ clock }, { latencyMs });
  return { clock, net };
}

describe('MemoryNetwork / MemoryTransport', () => {
  it('connects a dialer to a listener and carries bytes both ways', async () => {
    const { net } = setup();
    const a = net.transport('10.0.0.1');
    const b = net.transport('10.0.0.2', { port: 4000 });
    const accepted: RawConnection[] = [];
    expect(await b.listen((c) => accepted.push(c))).toEqual({ ip: '10.0.0.2', port: 4000 });
    const conn = await a.dial({ ip: '10.0.0.2', port: 4000 });
    expect(accepted).toHaveLength(1);
    expect(conn.remote).toEqual({ ip: '10.0.0.2', port: 4000 });
    expect(accepted[0].remote.ip).toBe('10.0.0.1');
    expect(accepted[0].remote.port).toBe(conn.local.port);
    const got = once(accepted[0].stream, 'data');
    conn.stream.write(Buffer.from('ping'));
    expect(String((await got)[0])).toBe('ping');
    const back = once(conn.stream, 'data');
    accepted[0].stream.write(Buffer.from('pong'));
    expect(String((await back)[0])).toBe('pong');
    expect(net.openConnections()).toBe(1);
    expect(a.openConnections()).toBe(1);
    expect(b.openConnections()).toBe(1);
    conn.stream.destroy();
    await once(accepted[0].stream, 'close');
    await new Promise((r) => setImmediate(r));
    expect(net.openConnections()).toBe(0);
    expect(a.openConnections() + b.openConnections()).toBe(0);
  });

  it('gives each dialer its own source port', async () => {
    const { net } = setup();
    const b = net.transport('10.0.0.2');
    const ports: number[] = [];
    await b.listen((c) => ports.push(c.remote.port));
    const a = net.transport('10.0.0.1');
    await a.dial({ ip: '10.0.0.2', port: 26656 });
    await a.dial({ ip: '10.0.0.2', port: 26656 });
    expect(new Set(ports).size).toBe(2);
  });

  it('refuses when nobody listens, when the host refuses, and after the listener closes', async () => {
    const { net } = setup();
    const a = net.transport('10.0.0.1');
    await expect(a.dial({ ip: '10.0.0.9', port: 26656 })).rejects.toBeInstanceOf(ErrConnectionRefused);
    const b = net.transport('10.0.0.2');
    await b.listen(() => undefined);
    await expect(a.dial({ ip: '10.0.0.2', port: 1 })).rejects.toBeInstanceOf(ErrConnectionRefused);
    net.refuse('10.0.0.2');
    await expect(a.dial({ ip: '10.0.0.2', port: 26656 })).rejects.toBeInstanceOf(ErrConnectionRefused);
    net.refuse('10.0.0.2', false);
    await expect(a.dial({ ip: '10.0.0.2', port: 26656 })).resolves.toBeDefined();
    await b.close();
    expect(net.listening()).toBe(0);
    await expect(a.dial({ ip: '10.0.0.2', port: 26656 })).rejects.toBeInstanceOf(ErrConnectionRefused);
  });

  it('times out on a blackholed host exactly at the dial timeout, on the virtual clock', async () => {
    const { clock, net } = setup();
    const b = net.transport('10.0.0.2');
    await b.listen(() => undefined);
    net.blackhole('10.0.0.2');
    const a = net.transport('10.0.0.1', { dialTimeoutMs: 1000 });
    let result: unknown;
    void a.dial({ ip: '10.0.0.2', port: 26656 }).catch((e) => (result = e));
    await clock.advanceAsync(999);
    expect(result).toBeUndefined();
    await clock.advanceAsync(1);
    expect(result).toBeInstanceOf(ErrDialTimeout);
    expect((result as ErrDialTimeout).timeoutMs).toBe(1000);
    expect(clock.pendingTimers()).toBe(0);
  });

  it('applies per-link latency on the clock', async () => {
    const { clock, net } = setup(50);
    net.setLatency('10.0.0.1', '10.0.0.3', 200);
    await net.transport('10.0.0.2').listen(() => undefined);
    await net.transport('10.0.0.3').listen(() => undefined);
    const a = net.transport('10.0.0.1');
    let fast = false;
    let slow = false;
    void a.dial({ ip: '10.0.0.2', port: 26656 }).then(() => (fast = true));
    void a.dial({ ip: '10.0.0.3', port: 26656 }).then(() => (slow = true));
    await clock.advanceAsync(49);
    expect([fast, slow]).toEqual([false, false]);
    await clock.advanceAsync(1);
    expect([fast, slow]).toEqual([true, false]);
    await clock.advanceAsync(150);
    expect([fast, slow]).toEqual([true, true]);
    expect(clock.pendingTimers()).toBe(0);
  });

  it('aborts a pending dial through its signal', async () => {
    const { clock, net } = setup(100);
    await net.transport('10.0.0.2').listen(() => undefined);
    const ac = new AbortController();
    const p = net.transport('10.0.0.1').dial({ ip: '10.0.0.2', port: 26656 }, { signal: ac.signal });
    ac.abort();
    await expect(p).rejects.toBeInstanceOf(ErrDialAborted);
    expect(clock.pendingTimers()).toBe(0);
    expect(net.openConnections()).toBe(0);
  });

  it('disconnect() cuts a host off and close() destroys what a transport owns', async () => {
    const { net } = setup();
    const b = net.transport('10.0.0.2');
    await b.listen(() => undefined);
    const a = net.transport('10.0.0.1');
    const c = net.transport('10.0.0.3');
    const ab = await a.dial({ ip: '10.0.0.2', port: 26656 });
    await c.dial({ ip: '10.0.0.2', port: 26656 });
    expect(net.disconnect('10.0.0.1')).toBe(1);
    await once(ab.stream, 'close');
    await new Promise((r) => setImmediate(r));
    expect(net.openConnections()).toBe(1);
    await b.close();
    await new Promise((r) => setImmediate(r));
    expect(net.openConnections()).toBe(0);
    await expect(b.listen(() => undefined)).rejects.toBeInstanceOf(ErrTransportClosed);
    await expect(b.dial({ ip: '10.0.0.1', port: 1 })).rejects.toBeInstanceOf(ErrTransportClosed);
  });

  it('refuses a second listener on the same host and port', async () => {
    const { net } = setup();
    await net.transport('10.0.0.2').listen(() => undefined);
    await expect(net.transport('10.0.0.2').listen(() => undefined)).rejects.toBeInstanceOf(ErrTransportListening);
  });
});
