/**
 * Integration: MConnection over SecretConnection over real TCP on 127.0.0.1, both ends in this
 * process. Rate limits are off and the MConnection clock is virtual (no timer needs to fire), so
 * the test is driven only by socket I/O and ends by itself.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { Server } from 'node:net';
import { rawTcpPair } from './secret-connection-helpers.js';
import { VirtualClock } from '../../../p2p/clock.js';
import { NodeKey } from '../../../p2p/node-key.js';
import { SecretConnection } from '../../../p2p/conn/secret-connection.js';
import { ErrConnectionClosed } from '../../../p2p/conn/mconnection-errors.js';
import { makeSide, pattern } from './mconnection-helpers.js';

const servers: Server[] = [];
afterEach(() => {
  for (const s of servers.splice(0)) s.close();
});

/** Lets real socket I/O run (event-loop turns, no timers) until `done()` or a bound on turns. */
/**
 * Lets real TCP I/O run until `done()` holds. Bounded by real time, not by a number of event-loop
 * turns: a turn budget is a CPU-speed-dependent deadline (~1 s idle) that a loaded machine can
 * blow mid-transfer. Spins on setImmediate at first (fast), then polls every millisecond so a long
 * wait does not burn a core that the I/O itself needs. Throws when the condition never holds.
 */
async function ioUntil(done: () => boolean, maxMs = 20_000): Promise<void> {
  const deadline = Date.now() + maxMs;
  for (let turn = 0; !done(); turn++) {
    if (Date.now() > deadline) throw new Error(`ioUntil: condition not reached in ${maxMs} ms`);
    await new Promise((r) => (turn < 10_000 ? setImmediate(r) : setTimeout(r, 1)));
  }
}

async function securePair(clock: VirtualClock): Promise<[SecretConnection, SecretConnection, NodeKey, NodeKey]> {
  const [rawA, rawB] = await rawTcpPair(servers);
  const keyA = NodeKey.fromSeed(new Uint8Array(32).fill(1));
  const keyB = NodeKey.fromSeed(new Uint8Array(32).fill(2));
  const [a, b] = await Promise.all([
    SecretConnection.handshake({ clock }, rawA, keyA),
    SecretConnection.handshake({ clock }, rawB, keyB),
  ]);
  return [a, b, keyA, keyB];
}

describe('MConnection over SecretConnection over TCP', () => {
  it('carries prioritised multi-channel traffic both ways, intact and in order', async () => {
    const clock = new VirtualClock();
    const [sa, sb, , keyB] = await securePair(clock);
    expect(sa.remoteNodeId).toBe(keyB.id);
    const chans = [
      { id: 0x00, priority: 1, sendQueueCapacity: 50 },
      { id: 0x20, priority: 6, sendQueueCapacity: 50 },
      { id: 0x21, priority: 10, sendQueueCapacity: 50 },
    ];
    const opts = { sendRate: 0, recvRate: 0 };
    const A = makeSide(clock, sa, chans, opts);
    const B = makeSide(clock, sb, chans, opts);
    A.mconn.start();
    B.mconn.start();
    const sizes = [0, 1, 1024, 1025, 4096, 65_537, 1 << 20];
    const expectedB: [number, number][] = [];
    for (const ch of [0x00, 0x20, 0x21]) {
      for (const [i, n] of sizes.entries()) {
        expect(await A.mconn.send(ch, pattern(n, ch + i))).toBe(true);
        expect(await B.mconn.send(ch, pattern(n, ch + i + 7))).toBe(true);
        expectedB.push([ch, n]);
      }
    }
    const total = sizes.length * 3;
    await ioUntil(() => A.received.length === total && B.received.length === total);
    expect(A.errors).toEqual([]);
    expect(B.errors).toEqual([]);
    for (const [side, salt] of [[B, 0], [A, 7]] as const) {
      expect(side.received.length).toBe(total);
      for (const ch of [0x00, 0x20, 0x21]) {
        const got = side.received.filter(([c]) => c === ch).map(([, m]) => m);
        expect(got.map((m) => m.length)).toEqual(sizes);
        got.forEach((m, i) => expect(m.equals(pattern(sizes[i], ch + i + salt))).toBe(true));
      }
    }
    // Graceful stop from A: everything queued arrives, B sees the end, nothing is left running.
    expect(A.mconn.trySend(0x20, pattern(300_000, 99))).toBe(true);
    await A.mconn.flushStop();
    await ioUntil(() => B.errors.length > 0);
    expect(B.received.at(-1)![1].equals(pattern(300_000, 99))).toBe(true);
    expect(B.errors[0]).toBeInstanceOf(ErrConnectionClosed);
    expect(clock.pendingTimers()).toBe(0);
  });

  it('bulk transfers on two connections at once stay intact while write batches are reused', async () => {
    // Full-size write batches go back to a pool shared by every MConnection once the
    // SecretConnection has sealed them; reusing one any earlier would corrupt queued data.
    const clock = new VirtualClock();
    const chans = [{ id: 0x01, priority: 1, sendQueueCapacity: 8 }];
    const opts = { sendRate: 0, recvRate: 0 };
    const sides: Array<readonly [ReturnType<typeof makeSide>, ReturnType<typeof makeSide>]> = [];
    for (let p = 0; p < 2; p++) {
      const [sa, sb] = await securePair(clock);
      const A = makeSide(clock, sa, chans, opts);
      const B = makeSide(clock, sb, chans, opts);
      A.mconn.start();
      B.mconn.start();
      sides.push([A, B] as const);
    }
    const count = 12;
    const message = (p: number, dir: number, i: number): Buffer => pattern(1 << 20, p * 100 + dir * 50 + i);
    const senders = sides.flatMap(([A, B], p) =>
      [A, B].map(async (side, dir) => {
        for (let i = 0; i < count; i++) expect(await side.mconn.send(0x01, message(p, dir, i))).toBe(true);
      }),
    );
    await Promise.all(senders);
    await ioUntil(() => sides.every(([A, B]) => A.received.length === count && B.received.length === count));
    sides.forEach(([A, B], p) => {
      expect(A.errors).toEqual([]);
      expect(B.errors).toEqual([]);
      expect(B.received.length).toBe(count);
      expect(A.received.length).toBe(count);
      B.received.forEach(([, m], i) => expect(m.equals(message(p, 0, i))).toBe(true));
      A.received.forEach(([, m], i) => expect(m.equals(message(p, 1, i))).toBe(true));
      A.mconn.stop();
      B.mconn.stop();
    });
  });

  it('answers pings through the encryption and reports a dead TCP peer once', async () => {
    const clock = new VirtualClock();
    const [sa, sb] = await securePair(clock);
    const chans = [{ id: 0x01, priority: 1 }];
    const A = makeSide(clock, sa, chans, { pingIntervalMs: 1000, pongTimeoutMs: 500 });
    const B = makeSide(clock, sb, chans, { pingIntervalMs: 1000, pongTimeoutMs: 500 });
    A.mconn.start();
    B.mconn.start();
    for (let round = 0; round < 3; round++) {
      clock.advance(1000 - (clock.now() % 1000)); // exactly to the next ping: both sides ping
      await ioUntil(() => A.mconn.status().recvMonitor.bytes >= 6 * (round + 1));
      clock.advance(499); // the pongs came back over TCP in time: no timeout
    }
    expect(A.errors).toEqual([]);
    expect(B.errors).toEqual([]);
    sb.destroy();
    await ioUntil(() => A.errors.length > 0);
    expect(A.errors.length).toBe(1);
    expect(A.mconn.running).toBe(false);
    B.mconn.stop();
    expect(clock.pendingTimers()).toBe(0);
  });
});
