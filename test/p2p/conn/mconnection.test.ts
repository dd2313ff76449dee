/**
 * MConnection behaviour over an in-memory pipe on the VirtualClock, including the scenarios of
 * CometBFT's p2p/conn/connection_test.go (names in the test titles).
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { VirtualClock } from '../../../p2p/clock.js';
import { createDuplexPair } from '../../../p2p/conn/duplex-pair.js';
import { DEFAULT_MAX_WRITE_BATCH_BYTES, MConnection } from '../../../p2p/conn/mconnection.js';
import { toCometConnectionStatus } from '../../../p2p/conn/connection-status.js';
import { ErrConnectionClosed, ErrMConnectionConfig, ErrPongTimeout, ErrReceiveHandlerFailed } from '../../../p2p/conn/mconnection-errors.js';
import { encodeDelimitedPacketMsg } from '../../../p2p/conn/packet-codec.js';
import { connectedPair, makeSide, pattern, RawPeer, withRawPeer } from './mconnection-helpers.js';

const microtask = (): Promise<void> => new Promise((r) => queueMicrotask(r));
const testTimers = { pingIntervalMs: 90, pongTimeoutMs: 45 };

describe('sending and receiving', () => {
  it('TestMConnectionSend: send/trySend on a known channel succeed; unknown channels fail at once', async () => {
    const { clock, A, B } = connectedPair([{ id: 0x01, priority: 1, sendQueueCapacity: 4 }]);
    expect(await A.mconn.send(0x01, Buffer.from('Ant-Man'))).toBe(true);
    expect(A.mconn.trySend(0x01, Buffer.from('Spider-Man'))).toBe(true);
    expect(await A.mconn.send(0x05, Buffer.from('Absorbing Man'))).toBe(false);
    expect(A.mconn.trySend(0x05, Buffer.from('x'))).toBe(false);
    expect(A.mconn.canSend(0x05)).toBe(false);
    expect(A.mconn.canSend(0x01)).toBe(true);
    await clock.settle();
    expect(B.received.map(([c, m]) => [c, m.toString()])).toEqual([[1, 'Ant-Man'], [1, 'Spider-Man']]);
  });

  it('fails fast before start and after stop', async () => {
    const clock = new VirtualClock();
    const [a] = createDuplexPair();
    const side = makeSide(clock, a, [{ id: 1, priority: 1 }]);
    expect(side.mconn.running).toBe(false);
    expect(side.mconn.trySend(1, Buffer.from('x'))).toBe(false);
    side.mconn.start();
    expect(side.mconn.running).toBe(true);
    side.mconn.stop();
    expect(side.mconn.running).toBe(false);
    expect(await side.mconn.send(1, Buffer.from('x'))).toBe(false);
    expect(side.mconn.trySend(1, Buffer.from('x'))).toBe(false);
    expect(side.mconn.canSend(1)).toBe(false);
  });

  it('TestMConnectionReceive: messages of every size arrive intact on their channel, in order', async () => {
    const chans = [{ id: 0x00, priority: 1, sendQueueCapacity: 100 }, { id: 0x30, priority: 5, sendQueueCapacity: 100 }];
    const { clock, A, B } = connectedPair(chans, { sendRate: 0, recvRate: 0 });
    const sizes = [0, 1, 1023, 1024, 1025, 2048, 5000, 100_000];
    for (const [i, n] of sizes.entries()) {
      expect(A.mconn.trySend(0x00, pattern(n, i))).toBe(true);
      expect(A.mconn.trySend(0x30, pattern(n, i + 100))).toBe(true);
    }
    expect(await clock.runUntil(() => B.received.length === sizes.length * 2, 5_000, 10)).toBe(true);
    for (const ch of [0x00, 0x30]) {
      const got = B.received.filter(([c]) => c === ch).map(([, m]) => m);
      expect(got.map((m) => m.length)).toEqual(sizes);
      got.forEach((m, i) => expect(m.equals(pattern(sizes[i], ch === 0 ? i : i + 100))).toBe(true));
    }
    expect(A.errors).toEqual([]);
    expect(B.errors).toEqual([]);
  });

  it('property: any mix of messages on any channels arrives intact and in per-channel order', async () => {
    const chans = [
      { id: 0x00, priority: 1, sendQueueCapacity: 64 },
      { id: 0x7f, priority: 3, sendQueueCapacity: 64 },
      { id: 0x80, priority: 7, sendQueueCapacity: 64 }, // 2-byte channel varint: 1023-byte pieces
      { id: 0xff, priority: 10, sendQueueCapacity: 64 },
    ];
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 5000 })), { maxLength: 40 }),
        fc.integer({ min: 16, max: 4096 }),
        async (plan, payload) => {
          const { clock, A, B } = connectedPair(chans, { sendRate: 0, recvRate: 0, maxPacketMsgPayloadSize: payload });
          const sent = plan.map(([c, n], i) => [chans[c].id, pattern(n, i)] as const);
          for (const [id, m] of sent) expect(A.mconn.trySend(id, m)).toBe(true);
          await clock.runUntil(() => B.received.length === sent.length, 1_000, 1);
          for (const ch of chans) {
            const want = sent.filter(([id]) => id === ch.id).map(([, m]) => m.toString('hex'));
            const got = B.received.filter(([id]) => id === ch.id).map(([, m]) => m.toString('hex'));
            expect(got).toEqual(want);
          }
          expect(B.errors).toEqual([]);
          A.mconn.stop();
          await clock.settle();
          expect(clock.pendingTimers()).toBe(0);
        },
      ),
      { numRuns: 40 },
    );
  });

  it('TestMConnectionTrySend: with capacity 1 trySend fills the queue, then fails; canSend agrees', async () => {
    // The peer does not read, so the writer stalls once the pipe is full and the queue stays full.
    const { clock, mconn } = withRawPeer([{ id: 1, priority: 1, sendQueueCapacity: 1 }], { sendRate: 0 }, { read: false, highWaterMark: 1024 });
    const big = pattern(1_000_000); // more than one write batch: it stays in flight
    expect(mconn.canSend(1)).toBe(true);
    expect(mconn.trySend(1, big)).toBe(true);
    expect(mconn.canSend(1)).toBe(false);
    expect(mconn.trySend(1, big)).toBe(false);
    await clock.settle();
    // The writer took the first message to cut into packets: one slot is free again.
    expect(mconn.canSend(1)).toBe(true);
    expect(mconn.trySend(1, big)).toBe(true);
    expect(mconn.trySend(1, big)).toBe(false);
    expect(mconn.status().channels[0].sendQueueSize).toBe(2);
    mconn.stop();
  });

  it('send() waits for room up to sendTimeoutMs, then reports false; room in time reports true', async () => {
    const { clock, mconn, peer } = withRawPeer([{ id: 1, priority: 1, sendQueueCapacity: 1 }], { sendRate: 0 }, { read: false, highWaterMark: 1024 });
    mconn.trySend(1, pattern(100_000));
    await clock.settle();
    mconn.trySend(1, pattern(10));
    let late: boolean | undefined;
    void mconn.send(1, pattern(10)).then((ok) => (late = ok));
    await clock.advanceAsync(9_999);
    expect(late).toBeUndefined();
    await clock.advanceAsync(1);
    expect(late).toBe(false);
    // Now let the peer read: the queue moves and a waiting send gets in.
    let inTime: boolean | undefined;
    void mconn.send(1, pattern(10)).then((ok) => (inTime = ok));
    peer.startReading();
    await clock.runUntil(() => inTime !== undefined, 1_000, 10);
    expect(inTime).toBe(true);
    await clock.runUntil(() => peer.count('msg') > 0 && peer.packets.filter((p) => p.eof).length === 3, 1_000, 10);
    expect(peer.packets.filter((p) => p.eof).length).toBe(3);
    mconn.stop();
    expect(clock.pendingTimers()).toBe(0);
  });

  it('a receive handler that stops the connection gets no further messages from the same chunk', async () => {
    const clock = new VirtualClock();
    const [a, b] = createDuplexPair();
    const got: number[] = [];
    const m = new MConnection({ clock }, a, [{ id: 1, priority: 1 }], {
      onReceive: (_c, msg) => {
        got.push(msg[0]);
        if (msg[0] === 2) m.stop();
      },
      onError: () => {},
    });
    m.start();
    new RawPeer(b).write(Buffer.concat([1, 2, 3, 4].map((x) => encodeDelimitedPacketMsg(1, true, Uint8Array.of(x)))));
    await clock.settle();
    expect(got).toEqual([1, 2]);
    expect(clock.pendingTimers()).toBe(0);
  });

  it('send and trySend on a non-integer or out-of-range channel id fail at once', async () => {
    const { mconn } = withRawPeer([{ id: 1, priority: 1 }]);
    for (const id of [1.5, -1, 256, 1025, NaN]) {
      expect(mconn.trySend(id, Buffer.from('x'))).toBe(false);
      expect(await mconn.send(id, Buffer.from('x'))).toBe(false);
      expect(mconn.canSend(id)).toBe(false);
    }
    mconn.stop();
  });

  it('large payload sizes (3-byte varints) are cut and batched correctly', async () => {
    const { clock, A, B } = connectedPair([{ id: 0x90, priority: 1, sendQueueCapacity: 8 }], {
      sendRate: 0,
      recvRate: 0,
      maxPacketMsgPayloadSize: 100_000,
    });
    const msgs = [pattern(0), pattern(99_999, 1), pattern(250_000, 2), pattern(5, 3)];
    for (const m of msgs) expect(A.mconn.trySend(0x90, m)).toBe(true);
    await clock.runUntil(() => B.received.length === msgs.length, 1_000, 1);
    expect(B.received.map(([, m]) => m.length)).toEqual(msgs.map((m) => m.length));
    B.received.forEach(([, m], i) => expect(m.equals(msgs[i])).toBe(true));
    A.mconn.stop();
  });

  it('an empty message goes out as one PacketMsg with eof and no data', async () => {
    const { clock, mconn, peer } = withRawPeer([{ id: 7, priority: 1 }]);
    mconn.trySend(7, new Uint8Array(0));
    await clock.settle();
    expect(peer.packets).toEqual([{ kind: 'msg', channelId: 7, eof: true, data: Buffer.alloc(0) }]);
    mconn.stop();
  });

  it('a throwing receive handler stops the connection with ErrReceiveHandlerFailed', async () => {
    const clock = new VirtualClock();
    const [a, b] = createDuplexPair();
    const errors: Error[] = [];
    const m = new MConnection({ clock }, a, [{ id: 1, priority: 1 }], {
      onReceive: () => {
        throw new Error('reactor bug');
      },
      onError: (e) => errors.push(e),
    });
    m.start();
    new RawPeer(b).write(encodeDelimitedPacketMsg(1, true, Buffer.from('hi')));
    await clock.settle();
    expect(errors.length).toBe(1);
    expect(errors[0]).toBeInstanceOf(ErrReceiveHandlerFailed);
    expect((errors[0] as ErrReceiveHandlerFailed).channelId).toBe(1);
    expect(m.running).toBe(false);
  });
});

describe('latency and batching', () => {
  function spyWrites(conn: { write: (...args: never[]) => boolean }): Buffer[] {
    const writes: Buffer[] = [];
    const orig = conn.write.bind(conn) as (...args: unknown[]) => boolean;
    (conn as { write: unknown }).write = (chunk: Buffer, ...rest: unknown[]) => {
      writes.push(Buffer.from(chunk));
      return orig(chunk, ...rest);
    };
    return writes;
  }

  it('a small message on an idle connection reaches the stream in the same event-loop turn', async () => {
    const clock = new VirtualClock();
    const [a, b] = createDuplexPair();
    const writes = spyWrites(a as never);
    const side = makeSide(clock, a, [{ id: 1, priority: 1 }], { flushThrottleMs: 100 });
    side.mconn.start();
    new RawPeer(b);
    side.mconn.trySend(1, Buffer.from('ping me'));
    expect(writes.length).toBe(0); // not synchronously inside trySend...
    await microtask(); // ...but before any I/O or timer can run
    expect(writes.length).toBe(1);
    // Much later (idle again) another message is not held back by the flush throttle either.
    await clock.advanceAsync(5);
    side.mconn.trySend(1, Buffer.from('again'));
    await microtask();
    expect(writes.length).toBe(2);
    side.mconn.stop();
  });

  it('the flush throttle coalesces only while the previous write is still buffered in the stream', async () => {
    const clock = new VirtualClock();
    const [a, b] = createDuplexPair(256); // nobody reads b yet: its buffer fills after ~256 bytes
    const writes = spyWrites(a as never);
    const side = makeSide(clock, a, [{ id: 1, priority: 1, sendQueueCapacity: 10 }], { flushThrottleMs: 10, sendRate: 0 });
    side.mconn.start();
    const sizes = [200, 100, 50, 50];
    side.mconn.trySend(1, pattern(sizes[0], 0));
    await clock.settle();
    expect(a.writableLength).toBe(0); // idle stream: written at once, no throttle
    side.mconn.trySend(1, pattern(sizes[1], 1));
    await clock.settle();
    expect(writes.length).toBe(2);
    expect(a.writableLength).toBeGreaterThan(0); // this write is still pending in the stream
    expect(a.writableNeedDrain).toBe(false);
    side.mconn.trySend(1, pattern(sizes[2], 2));
    side.mconn.trySend(1, pattern(sizes[3], 3));
    await clock.settle();
    expect(writes.length).toBe(2); // held back to coalesce...
    await clock.advanceAsync(9);
    expect(writes.length).toBe(2);
    await clock.advanceAsync(1);
    expect(writes.length).toBe(3); // ...for at most the throttle, then both go in one write
    const peer = new RawPeer(b);
    await clock.runUntil(() => peer.count('msg') === 4, 100, 1);
    expect(peer.packets.map((p, i) => p.data.equals(pattern(sizes[i], i)))).toEqual([true, true, true, true]);
    side.mconn.stop();
  });

  it('messages sent in one turn go out as one write of many packets', async () => {
    const clock = new VirtualClock();
    const [a, b] = createDuplexPair();
    const writes = spyWrites(a as never);
    const side = makeSide(clock, a, [{ id: 1, priority: 1, sendQueueCapacity: 50 }, { id: 2, priority: 1, sendQueueCapacity: 50 }], { sendRate: 0 });
    side.mconn.start();
    const peer = new RawPeer(b);
    for (let i = 0; i < 40; i++) side.mconn.trySend(1 + (i % 2), pattern(100, i));
    await clock.settle();
    expect(writes.length).toBe(1);
    expect(peer.count('msg')).toBe(40);
    side.mconn.stop();
  });

  it('honours backpressure: stops writing while the stream is full, resumes on drain, loses nothing', async () => {
    const { clock, mconn, peer, side } = withRawPeer([{ id: 1, priority: 1, sendQueueCapacity: 64 }], { sendRate: 0 }, { read: false, highWaterMark: 4096 });
    const msgs = Array.from({ length: 64 }, (_, i) => pattern(20_000, i));
    for (const m of msgs) expect(mconn.trySend(1, m)).toBe(true);
    await clock.settle(10);
    // Bounded: what sits in the stream is at most one batch beyond its high-water mark.
    expect(side.conn.writableLength).toBeLessThanOrEqual(4096 + DEFAULT_MAX_WRITE_BATCH_BYTES);
    const queued = mconn.status().channels[0].sendQueueSize;
    expect(queued).toBeGreaterThan(50);
    peer.startReading();
    await clock.runUntil(() => peer.packets.filter((p) => p.eof).length === 64, 5_000, 10);
    const data = Buffer.concat(peer.packets.map((p) => p.data));
    expect(data.equals(Buffer.concat(msgs))).toBe(true);
    mconn.stop();
  });
});

describe('scheduler', () => {
  it('gives each channel bytes in proportion to its priority while both are backlogged', async () => {
    // Rate-limited so that the queues, not the pipe, hold the backlog.
    const chans = [{ id: 1, priority: 1, sendQueueCapacity: 1000 }, { id: 2, priority: 10, sendQueueCapacity: 1000 }];
    const { clock, mconn, peer } = withRawPeer(chans, { sendRate: 200_000 });
    for (let i = 0; i < 400; i++) {
      mconn.trySend(1, pattern(1024, i));
      mconn.trySend(2, pattern(1024, i));
    }
    await clock.runUntil(() => peer.bytes > 150_000, 5_000, 10);
    const msgs = peer.packets.filter((p) => p.kind === 'msg');
    const low = msgs.filter((p) => p.channelId === 1).length;
    const high = msgs.filter((p) => p.channelId === 2).length;
    expect(high / low).toBeGreaterThan(8);
    expect(high / low).toBeLessThan(12.5);
    mconn.stop();
  });

  it('a high-priority message jumps a rate-limited low-priority backlog without waiting for the rate', async () => {
    const chans = [{ id: 1, priority: 1, sendQueueCapacity: 10 }, { id: 2, priority: 10 }];
    const { clock, mconn, peer } = withRawPeer(chans, { sendRate: 100_000 });
    for (let i = 0; i < 3; i++) mconn.trySend(1, pattern(500_000)); // 15 s of backlog
    await clock.advanceAsync(500); // the backlog has spent its budget: the writer waits on the clock
    const before = peer.count('msg');
    mconn.trySend(2, Buffer.from('urgent'));
    await clock.settle(); // no virtual time passes
    const at = peer.packets.findIndex((p) => p.channelId === 2);
    expect(at).toBe(before);
    // The overdraft is repaid by the backlog: over 10 s the rate still holds.
    const b0 = peer.bytes;
    for (let i = 0; i < 100; i++) {
      mconn.trySend(2, Buffer.from('urgent'));
      await clock.advanceAsync(100);
    }
    expect(Math.abs((peer.bytes - b0) / 10 - 100_000) / 100_000).toBeLessThan(0.05);
    mconn.stop();
  });

  it('a lone rate-limited channel does not preempt its own rate wait', async () => {
    const { clock, mconn, peer } = withRawPeer([{ id: 1, priority: 1, sendQueueCapacity: 10 }], { sendRate: 100_000 });
    mconn.trySend(1, pattern(100_000));
    await clock.advanceAsync(100);
    const b0 = peer.bytes;
    mconn.trySend(1, Buffer.from('x'));
    await clock.settle();
    expect(peer.bytes).toBe(b0);
    mconn.stop();
  });

  it('decays recentlySent by x0.8 every 2 s and counts packet bytes with their prefix', async () => {
    const { clock, mconn } = withRawPeer([{ id: 1, priority: 1 }], { sendRate: 0 });
    mconn.trySend(1, pattern(2500));
    await clock.settle();
    expect(mconn.status().channels[0].recentlySent).toBe(2532); // 1034 + 1034 + 464, the Go split
    await clock.advanceAsync(2_000);
    expect(mconn.status().channels[0].recentlySent).toBe(Math.floor(2532 * 0.8));
    await clock.advanceAsync(2_000);
    expect(mconn.status().channels[0].recentlySent).toBe(Math.floor(Math.floor(2532 * 0.8) * 0.8));
    mconn.stop();
  });
});

describe('ping and pong', () => {
  it('TestMConnectionPongTimeoutResultsInError: a peer that never answers gets ErrPongTimeout', async () => {
    const { clock, side, peer } = withRawPeer([{ id: 1, priority: 1 }], testTimers);
    await clock.advanceAsync(90);
    expect(peer.count('ping')).toBe(1);
    await clock.advanceAsync(44);
    expect(side.errors).toEqual([]);
    await clock.advanceAsync(1);
    expect(side.errors.length).toBe(1);
    expect(side.errors[0]).toBeInstanceOf(ErrPongTimeout);
    expect(clock.pendingTimers()).toBe(0);
  });

  it('TestMConnectionPingPongs: two rounds between two MConnections, no error, no leak', async () => {
    const { clock, A, B } = connectedPair([{ id: 1, priority: 1 }], testTimers);
    await clock.advanceAsync(90 * 2 + 50);
    expect(A.errors).toEqual([]);
    expect(B.errors).toEqual([]);
    expect(A.mconn.running && B.mconn.running).toBe(true);
    A.mconn.stop();
    await clock.settle();
    expect(B.errors.length).toBe(1);
    expect(clock.pendingTimers()).toBe(0);
  });

  it('TestMConnectionMultiplePongsInTheBeginning: unsolicited pongs are harmless', async () => {
    const { clock, side, peer } = withRawPeer([{ id: 1, priority: 1 }], testTimers);
    peer.write('021200021200021200');
    await clock.settle();
    await clock.advanceAsync(90);
    expect(peer.count('ping')).toBe(1);
    peer.write('021200');
    await clock.advanceAsync(60);
    expect(side.errors).toEqual([]);
    expect(side.mconn.running).toBe(true);
    side.mconn.stop();
  });

  it('TestMConnectionMultiplePings: every ping is answered and the connection stays up', async () => {
    const { clock, side, peer } = withRawPeer([{ id: 1, priority: 1 }], testTimers);
    for (let i = 1; i <= 3; i++) {
      peer.write('020a00');
      await clock.settle();
      expect(peer.count('pong')).toBe(i);
    }
    expect(side.errors).toEqual([]);
    side.mconn.stop();
  });

  it('a ping flood is answered with coalesced pongs; memory stays bounded even if the peer never reads', async () => {
    const flood = Buffer.alloc(3 * 100_000);
    for (let i = 0; i < flood.length; i += 3) flood.set([0x02, 0x0a, 0x00], i);
    const reading = withRawPeer([{ id: 1, priority: 1 }], { recvRate: 0 });
    reading.peer.write(flood);
    await reading.clock.settle(20);
    expect(reading.side.errors).toEqual([]);
    const pongs = reading.peer.count('pong');
    expect(pongs).toBeGreaterThan(0);
    expect(pongs).toBeLessThan(1000); // one per chunk of pings, not one per ping
    reading.side.mconn.stop();

    const deaf = withRawPeer([{ id: 1, priority: 1 }], { recvRate: 0 }, { read: false, highWaterMark: 16 });
    for (let i = 0; i < 20; i++) {
      deaf.peer.write(flood);
      await deaf.clock.settle(2);
    }
    expect(deaf.side.errors).toEqual([]);
    expect(deaf.side.conn.writableLength).toBeLessThan(1024);
    deaf.side.mconn.stop();
  });
});

describe('stopping', () => {
  it('TestMConnectionStopsAndReturnsError: the peer closing is reported once, and everything is cleared', async () => {
    const { clock, side, peer } = withRawPeer([{ id: 1, priority: 1 }]);
    peer.conn.destroy();
    await clock.settle();
    expect(side.errors.length).toBe(1);
    expect(side.errors[0]).toBeInstanceOf(ErrConnectionClosed);
    expect(side.mconn.running).toBe(false);
    await clock.advanceAsync(120_000);
    expect(side.errors.length).toBe(1);
    expect(clock.pendingTimers()).toBe(0);
  });

  it('stop() is immediate: drops queued data, fails waiting sends, destroys the stream, no onError', async () => {
    const { clock, side, peer } = withRawPeer([{ id: 1, priority: 1 }], { sendRate: 1000 });
    const m = side.mconn;
    m.trySend(1, pattern(50_000));
    await clock.settle();
    m.trySend(1, pattern(10));
    const waiting = m.send(1, pattern(10));
    m.stop(new Error('operator said so'));
    expect(await waiting).toBe(false);
    await clock.settle();
    expect(side.conn.destroyed).toBe(true);
    expect(peer.conn.destroyed).toBe(true);
    expect(side.errors).toEqual([]);
    expect(clock.pendingTimers()).toBe(0);
    m.stop();
  });

  it('TestMConnectionSendFlushStop: flushStop delivers what was queued, then closes', async () => {
    const chans = [{ id: 1, priority: 1, sendQueueCapacity: 10 }];
    const { clock, A, B } = connectedPair(chans, { sendRate: 100_000 });
    const msgs = [pattern(300_000, 1), pattern(10, 2), pattern(5000, 3)];
    for (const m of msgs) expect(A.mconn.trySend(1, m)).toBe(true);
    let done = false;
    void A.mconn.flushStop().then(() => (done = true));
    expect(A.mconn.trySend(1, pattern(1))).toBe(false);
    await clock.runUntil(() => done, 10_000, 20);
    expect(done).toBe(true);
    expect(B.received.map(([, m]) => m.length)).toEqual(msgs.map((m) => m.length));
    expect(A.errors).toEqual([]);
    expect(B.errors[0]).toBeInstanceOf(ErrConnectionClosed); // B sees the end of the stream
    expect(clock.pendingTimers()).toBe(0);
  });

  it('flushStop is bounded by flushStopTimeoutMs when the peer never reads', async () => {
    const { clock, side } = withRawPeer([{ id: 1, priority: 1 }], { sendRate: 0, flushStopTimeoutMs: 1000 }, { read: false, highWaterMark: 1024 });
    side.mconn.trySend(1, pattern(1_000_000));
    let done = false;
    void side.mconn.flushStop().then(() => (done = true));
    await clock.advanceAsync(999);
    expect(done).toBe(false);
    await clock.advanceAsync(1);
    expect(done).toBe(true);
    expect(side.conn.destroyed).toBe(true);
    expect(side.errors).toEqual([]);
    expect(clock.pendingTimers()).toBe(0);
  });
});

describe('status', () => {
  it('TestMConnectionStatus: per-channel queue sizes, counters and rates, in CometBFT shape too', async () => {
    const chans = [{ id: 0x20, priority: 6, sendQueueCapacity: 100 }, { id: 0x30, priority: 5 }];
    const { clock, A, B } = connectedPair(chans, { sendRate: 0, recvRate: 0 });
    const s0 = A.mconn.status();
    expect(s0.channels[0]).toMatchObject({ id: 0x20, priority: 6, sendQueueCapacity: 100, sendQueueSize: 0, recentlySent: 0 });
    A.mconn.trySend(0x20, pattern(2500));
    A.mconn.trySend(0x30, pattern(10));
    await clock.settle();
    await clock.advanceAsync(1000);
    const sa = A.mconn.status();
    const sb = B.mconn.status();
    expect(sa.channels[0]).toMatchObject({ bytesSent: 2500, messagesSent: 1, sendQueueSize: 0 });
    expect(sa.channels[1]).toMatchObject({ bytesSent: 10, messagesSent: 1 });
    expect(sb.channels[0]).toMatchObject({ bytesReceived: 2500, messagesReceived: 1 });
    // 2500 bytes on 0x20 = 1034 + 1034 + 464 on the wire; 10 bytes on 0x30 = one 19-byte packet.
    expect(sa.sendMonitor.bytes).toBe(2532 + 19);
    expect(sb.recvMonitor.bytes).toBe(2532 + 19);
    expect(sa.durationMs).toBe(1000);
    const json = toCometConnectionStatus(sa);
    expect(json.Duration).toBe('1000000000');
    expect(json.SendMonitor.Bytes).toBe(String(2532 + 19));
    expect(json.Channels[0]).toEqual({ ID: 0x20, SendQueueCapacity: '100', SendQueueSize: '0', Priority: '6', RecentlySent: '2532' });
    A.mconn.stop();
  });
});

describe('configuration errors name the key', () => {
  const clock = new VirtualClock();
  const make = (chans: unknown, opts: object = {}) => () =>
    new MConnection({ clock }, createDuplexPair()[0], chans as never, { onReceive() {}, onError() {} }, opts);
  it.each([
    [[{ id: 256, priority: 1 }], {}, 'channel.id'],
    [[{ id: -1, priority: 1 }], {}, 'channel.id'],
    [[{ id: 1, priority: 0 }], {}, 'channel[0x01].priority'],
    [[{ id: 1, priority: 1, sendQueueCapacity: 0 }], {}, 'channel[0x01].sendQueueCapacity'],
    [[{ id: 1, priority: 1 }, { id: 1, priority: 2 }], {}, 'channels'],
    [[], {}, 'channels'],
    [[{ id: 1, priority: 1 }], { pongTimeoutMs: 60_000 }, 'pongTimeoutMs'],
    [[{ id: 1, priority: 1 }], { sendRate: -5 }, 'sendRate'],
    [[{ id: 1, priority: 1 }], { maxPacketMsgPayloadSize: 0 }, 'maxPacketMsgPayloadSize'],
  ])('%j %j -> %s', (chans, opts, key) => {
    expect(make(chans, opts)).toThrow(ErrMConnectionConfig);
    try {
      make(chans, opts)();
    } catch (err) {
      expect((err as ErrMConnectionConfig).key).toBe(key);
    }
  });
});
