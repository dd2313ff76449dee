import { describe, expect, it } from 'vitest';
import { VirtualClock } from '../../../p2p/clock.js';
import { createLatencyPair } from '../../../p2p/transport/latency-pipe.js';
import { MemoryNetwork } from '../../../p2p/transport/memory-transport.js';
import type { RawConnection } from '../../../p2p/transport/transport.js';

describe('createLatencyPair', () => {
  it('delivers each chunk exactly latencyMs later, in order, both ways', async () => {
    const clock = new VirtualClock();
    const [a, b] = createLatencyPair(clock, 100);
    const got: string[] = [];
    b.on('data', (c: Buffer) => got.push(`${clock.now()}:${c}`));
    a.on('data', (c: Buffer) => got.push(`${clock.now()}:back ${c}`));
    a.write('one');
    await clock.advanceAsync(30);
    a.write('two');
    b.write('x');
    await clock.advanceAsync(69);
    expect(got).toEqual([]);
    await clock.advanceAsync(1);
    expect(got).toEqual(['100:one']);
    await clock.advanceAsync(30);
    expect(got.slice(0, 1)).toEqual(['100:one']);
    expect(got.slice(1).sort()).toEqual(['130:back x', '130:two']);
    expect(clock.pendingTimers()).toBe(0);
  });

  it('ends after the data sent before the end; destroy resets both at once', async () => {
    const clock = new VirtualClock();
    const [a, b] = createLatencyPair(clock, 50);
    const got: string[] = [];
    b.on('data', (c: Buffer) => got.push(String(c)));
    let ended = -1;
    b.on('end', () => (ended = clock.now()));
    a.end('last');
    await clock.advanceAsync(49);
    expect(ended).toBe(-1);
    await clock.advanceAsync(1);
    expect(got).toEqual(['last']);
    expect(ended).toBe(50);
    const [c, d] = createLatencyPair(clock, 50);
    d.resume();
    c.write('in flight');
    c.destroy();
    await clock.settle(3);
    expect(d.destroyed).toBe(true);
    expect(clock.pendingTimers()).toBe(0);
  });

  it('a reader that never reads stops its writer instead of buffering without bound', async () => {
    const clock = new VirtualClock();
    const [a, b] = createLatencyPair(clock, 10, 1024);
    let acceptedBytes = 0;
    for (let round = 0; round < 20; round++) {
      // A well-behaved writer: writes only while the stream does not ask it to wait.
      while (!a.writableNeedDrain) {
        a.write(Buffer.alloc(256));
        acceptedBytes += 256;
      }
      await clock.advanceAsync(100);
    }
    // Nothing reads b: what a accepted is bounded by b's buffer + the in-flight limit + a's buffer.
    expect(acceptedBytes).toBeLessThanOrEqual(1024 + 1024 + 1024 + 256);
    expect(a.writableNeedDrain).toBe(true);
    expect(clock.pendingTimers()).toBe(0);
    // Once b reads, everything flows again.
    let received = 0;
    b.on('data', (c: Buffer) => (received += c.length));
    await clock.advanceAsync(100);
    expect(received).toBe(acceptedBytes);
    a.destroy();
  });

  it('is used by the memory network on links with latency', async () => {
    const clock = new VirtualClock();
    const net = new MemoryNetwork({ clock });
    net.setLatency('10.0.0.1', '10.0.0.2', 40);
    const accepted: RawConnection[] = [];
    await net.transport('10.0.0.2').listen((c) => accepted.push(c));
    const dial = net.transport('10.0.0.1').dial({ ip: '10.0.0.2', port: 26656 });
    await clock.advanceAsync(40);
    const conn = await dial;
    let at = -1;
    accepted[0].stream.on('data', () => (at = clock.now()));
    conn.stream.write('hi');
    await clock.advanceAsync(40);
    expect(at).toBe(80);
    conn.stream.destroy();
    await clock.settle(3);
    expect(net.openConnections()).toBe(0);
  });
});
