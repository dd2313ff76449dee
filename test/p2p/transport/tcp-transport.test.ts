import { describe, expect, it } from 'vitest';
import { once } from 'node:events';
import net from 'node:net';
import { TcpTransport } from '../../../p2p/transport/tcp-transport.js';
import type { RawConnection } from '../../../p2p/transport/transport.js';
import { ErrConnectionRefused, ErrDialTimeout, ErrListenFailed } from '../../../p2p/transport/transport-errors.js';
import { VirtualClock } from '../../../p2p/clock.js';

async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

describe('TcpTransport on 127.0.0.1', () => {
  it('listens on a free port, accepts and dials, bytes flow both ways, close leaves nothing', async () => {
    const server = new TcpTransport({}, { host: '127.0.0.1', port: 0 });
    const accepted: RawConnection[] = [];
    const addr = await server.listen((c) => accepted.push(c));
    expect(addr.ip).toBe('127.0.0.1');
    expect(addr.port).toBeGreaterThan(0);
    const client = new TcpTransport({}, { host: '127.0.0.1', port: 0 });
    const conn = await client.dial(addr);
    expect(conn.remote).toEqual(addr);
    while (accepted.length === 0) await new Promise((r) => setImmediate(r));
    expect(accepted[0].remote.ip).toBe('127.0.0.1');
    expect(accepted[0].remote.port).toBe(conn.local.port);
    const got = once(accepted[0].stream, 'data');
    conn.stream.write('hello');
    expect(String((await got)[0])).toBe('hello');
    expect(server.openConnections()).toBe(1);
    expect(client.openConnections()).toBe(1);
    await server.close();
    await client.close();
    expect(server.openConnections()).toBe(0);
    expect(client.openConnections()).toBe(0);
    expect(server.listenAddress()).toBeUndefined();
  });

  it('reports a refused connection with a typed error', async () => {
    const port = await freePort();
    const client = new TcpTransport({}, {});
    await expect(client.dial({ ip: '127.0.0.1', port })).rejects.toBeInstanceOf(ErrConnectionRefused);
    expect(client.openConnections()).toBe(0);
    await client.close();
  });

  it('times out on the injected clock', async () => {
    const clock = new VirtualClock();
    // A listener with a full backlog is not portable; instead fire the dial timer before the
    // kernel can answer by advancing the virtual clock synchronously.
    const client = new TcpTransport({ clock }, { dialTimeoutMs: 1000 });
    const p = client.dial({ ip: '127.0.0.1', port: await freePort() });
    clock.advance(1000);
    await expect(p).rejects.toBeInstanceOf(ErrDialTimeout);
    expect(clock.pendingTimers()).toBe(0);
    await client.close();
  });

  it('fails fast with a typed error when the port is taken', async () => {
    const a = new TcpTransport({}, { host: '127.0.0.1', port: 0 });
    const { port } = await a.listen(() => undefined);
    const b = new TcpTransport({}, { host: '127.0.0.1', port });
    await expect(b.listen(() => undefined)).rejects.toBeInstanceOf(ErrListenFailed);
    await a.close();
    await b.close();
  });

  it('rejects a bad port option naming the key', () => {
    expect(() => new TcpTransport({}, { port: 70000 })).toThrow(/'port'/);
  });
});
