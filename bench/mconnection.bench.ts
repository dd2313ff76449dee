/**
 * MConnection benchmarks, all over SecretConnection over TCP on 127.0.0.1 with both ends in this
 * process (the same machine does the sealing and the opening, as in the AEAD baseline).
 *
 * - mconnection_goodput (MB/s, higher is better): one channel, 1 MiB messages, rate limits off.
 *   Baseline: the AEAD ceiling as in bench/secret-connection.bench.ts (MB of 1028-byte frame
 *   plaintext one thread can copy, seal and open per second with SecretConnection's own AEAD),
 *   measured alternately with short goodput passes; medians of the 9 passes of each least
 *   disturbed by other processes (bench/run-queue-wait.ts). Connections are configured as a node
 *   configures them (bulk frames on a FrameCryptoPool with its default thread count); the
 *   mconnection_goodput_one_thread line repeats the figure with every frame on the main thread.
 * - mconnection_latency_p50_us / _p99_us (µs, lower is better): 64-byte request/response on one
 *   channel with default options; value = our percentile minus the same percentile of a raw TCP
 *   echo measured in the same run (round trips alternate between the two); baseline = the raw
 *   TCP percentile. Median over three passes.
 * - mconnection_priority_p99_ratio (lower is better): p99 round trip of a priority-10 channel
 *   while a priority-1 channel saturates the connection's (default 5.12 MB/s) send rate, divided
 *   by the same p99 unloaded; baseline 1 (an unloaded connection).
 */
import { createServer, connect, type Server, type Socket } from 'node:net';
import { once } from 'node:events';
import { randomBytes } from 'node:crypto';
import { systemClock } from '../p2p/clock.js';
import { NodeKey } from '../p2p/node-key.js';
import { SecretConnection } from '../p2p/conn/secret-connection.js';
import { FrameCryptoPool } from '../p2p/conn/frame-crypto-pool.js';
import { createFrameAead, FRAME_PLAINTEXT_BYTES, FRAME_SEALED_BYTES } from '../p2p/conn/frame-aead.js';
import { MConnection, type MConnectionOptions } from '../p2p/conn/mconnection.js';
import type { ChannelDescriptor } from '../p2p/conn/channel.js';
import { median, percentile, report } from './harness.js';
import { alternateUntilClean } from './run-queue-wait.js';

/**
 * Connections are set up as a node sets them up: bulk frames sealed and opened on a frame crypto
 * pool with the default thread count (one fewer than the CPUs). mconnection_goodput_one_thread
 * repeats the goodput figure with every frame on the main thread.
 */
const nodePool = new FrameCryptoPool();
const nowNs = (): bigint => process.hrtime.bigint();
const seconds = (ns: bigint): number => Number(ns) / 1e9;

async function tcpPair(server: Server, port: number): Promise<[Socket, Socket]> {
  const accepted = once(server, 'connection') as Promise<[Socket]>;
  const dialer = connect(port, '127.0.0.1');
  await once(dialer, 'connect');
  const [listener] = await accepted;
  for (const s of [dialer, listener]) s.setNoDelay(true);
  return [dialer, listener];
}

interface Ends {
  a: MConnection;
  b: MConnection;
  /** Replaces the receive handler of an end (the MConnection handler delegates to it). */
  onA: (ch: number, m: Uint8Array) => void;
  onB: (ch: number, m: Uint8Array) => void;
}

async function mconnPair(server: Server, port: number, channels: ChannelDescriptor[], opts: MConnectionOptions, cryptoPool: FrameCryptoPool | undefined): Promise<Ends> {
  const [rawA, rawB] = await tcpPair(server, port);
  const [sa, sb] = await Promise.all([
    SecretConnection.handshake({ clock: systemClock }, rawA, NodeKey.fromSeed(randomBytes(32)), { cryptoPool }),
    SecretConnection.handshake({ clock: systemClock }, rawB, NodeKey.fromSeed(randomBytes(32)), { cryptoPool }),
  ]);
  const ends = {} as Ends;
  ends.onA = ends.onB = () => {};
  const fail = (err: Error): void => {
    throw err;
  };
  ends.a = new MConnection({ clock: systemClock }, sa, channels, { onReceive: (c, m) => ends.onA(c, m), onError: fail }, opts);
  ends.b = new MConnection({ clock: systemClock }, sb, channels, { onReceive: (c, m) => ends.onB(c, m), onError: fail }, opts);
  ends.a.start();
  ends.b.start();
  return ends;
}

/**
 * The AEAD ceiling, defined as in the SecretConnection benchmark: MB of 1028-byte frame
 * plaintext per second that one thread can copy into a frame, seal and open again.
 */
function aeadCeilingMBps(durationMs: number): number {
  const aead = createFrameAead(randomBytes(32));
  const sealed = Buffer.alloc(FRAME_SEALED_BYTES);
  const plain = randomBytes(FRAME_PLAINTEXT_BYTES);
  const nonce = Buffer.alloc(12);
  let frames = 0;
  const start = nowNs();
  const end = start + BigInt(durationMs) * 1_000_000n;
  while (nowNs() < end) {
    for (let i = 0; i < 256; i++) {
      nonce.writeUInt32LE(frames++ >>> 0, 4);
      plain.copy(sealed);
      aead.sealFrame(sealed, 0, nonce);
      if (!aead.openFrameInto(sealed, 0, plain, 0, nonce)) throw new Error('AEAD self-check failed');
    }
  }
  return (frames * FRAME_PLAINTEXT_BYTES) / 1e6 / seconds(nowNs() - start);
}

/** Medians over this many undisturbed passes of each kind (see run-queue-wait.ts). */
const CLEAN_PASSES = 9;
const MAX_ROUNDS = 24;

/** The same transfer straight over SecretConnection (no MConnection), for context on stderr. */
async function secretOnlyPass(server: Server, port: number, cryptoPool: FrameCryptoPool | undefined): Promise<{ pass: (mib: number) => Promise<number>; close: () => void }> {
  const [rawA, rawB] = await tcpPair(server, port);
  const [sa, sb] = await Promise.all([
    SecretConnection.handshake({ clock: systemClock }, rawA, NodeKey.fromSeed(randomBytes(32)), { cryptoPool }),
    SecretConnection.handshake({ clock: systemClock }, rawB, NodeKey.fromSeed(randomBytes(32)), { cryptoPool }),
  ]);
  let got = 0;
  sb.on('data', (c: Buffer) => (got += c.length));
  const message = randomBytes(1 << 20);
  return {
    async pass(mib: number): Promise<number> {
      const target = got + mib * message.length;
      const start = nowNs();
      for (let i = 0; i < mib; i++) if (!sa.write(message)) await once(sa, 'drain');
      while (got < target) await new Promise((r) => setImmediate(r));
      return (mib * message.length) / 1e6 / seconds(nowNs() - start);
    },
    close: () => sa.destroy(),
  };
}

/**
 * Goodput passes alternate with AEAD-ceiling measurements (and SecretConnection-alone passes,
 * for context) so that all see the same moments of a noisy machine; passes during which another
 * process held our CPU are dropped and the medians of the least-disturbed ones returned.
 */
async function goodputVsCeiling(server: Server, port: number, name: string, cryptoPool: FrameCryptoPool | undefined): Promise<{ goodput: number; ceiling: number; secretOnly: number }> {
  const MiB = 1 << 20;
  const ends = await mconnPair(server, port, [{ id: 0x01, priority: 1, sendQueueCapacity: 4 }], { sendRate: 0, recvRate: 0 }, cryptoPool);
  const secret = await secretOnlyPass(server, port, cryptoPool);
  const message = randomBytes(MiB);
  let received = 0;
  let bytes = 0;
  ends.onB = (_c, m) => {
    received++;
    bytes += m.length;
  };
  const pass = async (count: number): Promise<number> => {
    const start = nowNs();
    const target = received + count;
    const b0 = bytes;
    for (let i = 0; i < count; i++) if (!(await ends.a.send(0x01, message))) throw new Error('send failed');
    while (received < target) await new Promise((r) => setImmediate(r));
    return (bytes - b0) / 1e6 / seconds(nowNs() - start);
  };
  await pass(16); // warm-up
  await secret.pass(16);
  aeadCeilingMBps(100);
  const [g, c, so] = await alternateUntilClean([() => pass(16), () => aeadCeilingMBps(50), () => secret.pass(16)], CLEAN_PASSES, MAX_ROUNDS);
  ends.a.stop();
  ends.b.stop();
  secret.close();
  process.stderr.write(
    `${name}: ${cryptoPool?.threads ?? 0} crypto worker thread(s); ${g.values.length} least-disturbed of ${g.total} passes (${g.disturbed} disturbed; median of all ${median(g.all).toFixed(0)}), goodput ${Math.min(...g.values).toFixed(0)}–${Math.max(...g.values).toFixed(0)} MB/s\n`,
  );
  return { goodput: median(g.values), ceiling: median(c.values), secretOnly: median(so.values) };
}

/** Measures one 64-byte round trip (µs) per call. */
interface Prober {
  once(): Promise<number>;
  close(): void;
}

/** A 64-byte echo over plain TCP. */
async function rawProber(server: Server, port: number): Promise<Prober> {
  const [a, b] = await tcpPair(server, port);
  b.on('data', (chunk: Buffer) => b.write(chunk));
  const msg = randomBytes(64);
  let got = 0;
  let resolve: () => void = () => {};
  a.on('data', (chunk: Buffer) => {
    got += chunk.length;
    if (got >= 64) {
      got -= 64;
      resolve();
    }
  });
  return {
    async once() {
      const t0 = nowNs();
      const done = new Promise<void>((r) => (resolve = r));
      a.write(msg);
      await done;
      return Number(nowNs() - t0) / 1000;
    },
    close() {
      a.destroy();
      b.destroy();
    },
  };
}

/** A 64-byte echo on channel `ch` of an MConnection pair (B answers on the same channel). */
function mconnProber(ends: Ends, ch: number): Prober {
  const msg = randomBytes(64);
  let resolve: () => void = () => {};
  const prevA = ends.onA;
  const prevB = ends.onB;
  ends.onB = (c, m) => (c === ch ? void ends.b.trySend(ch, m) : prevB(c, m));
  ends.onA = (c, m) => (c === ch ? resolve() : prevA(c, m));
  return {
    async once() {
      const t0 = nowNs();
      const done = new Promise<void>((r) => (resolve = r));
      if (!ends.a.trySend(ch, msg)) throw new Error('trySend failed');
      await done;
      return Number(nowNs() - t0) / 1000;
    },
    close() {
      ends.onA = prevA;
      ends.onB = prevB;
    },
  };
}

const sleepMs = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Latency: raw TCP and MConnection round trips alternate, so both see the same moments of a
 * noisy host (a shared 2-vCPU machine stalls processes for milliseconds now and then).
 */
async function latency(server: Server, port: number, n: number, warmup: number): Promise<{ raw: number[]; ours: number[] }> {
  const raw = await rawProber(server, port);
  const ends = await mconnPair(server, port, [{ id: 0x01, priority: 5 }], {}, nodePool);
  const ours = mconnProber(ends, 0x01);
  const out = { raw: [] as number[], ours: [] as number[] };
  for (let i = 0; i < n + warmup; i++) {
    const r = await raw.once();
    const o = await ours.once();
    if (i >= warmup) {
      out.raw.push(r);
      out.ours.push(o);
    }
  }
  raw.close();
  ours.close();
  ends.a.stop();
  ends.b.stop();
  return out;
}

/**
 * Priority: probes on the priority-10 channel, one per millisecond, in alternating blocks
 * without and with a priority-1 flood that keeps the (default) send rate saturated.
 */
async function priority(server: Server, port: number): Promise<{ unloaded: number[]; loaded: number[]; floodRate: number }> {
  const ends = await mconnPair(
    server,
    port,
    [
      { id: 0x01, priority: 1, sendQueueCapacity: 8 },
      { id: 0x02, priority: 10, sendQueueCapacity: 8 },
    ],
    {},
    nodePool,
  );
  const probe = mconnProber(ends, 0x02);
  const flood = randomBytes(64 * 1024);
  const out = { unloaded: [] as number[], loaded: [] as number[], floodRate: 0 };
  const BLOCKS = 6;
  const PROBES = 150;
  let floodBytes = 0;
  let floodMs = 0;
  for (let block = 0; block < BLOCKS; block++) {
    for (let i = 0; i < PROBES; i++) {
      const t = await probe.once();
      if (block > 0) out.unloaded.push(t);
      await sleepMs(1);
    }
    let flooding = true;
    const pump = (async () => {
      while (flooding) if (!(await ends.a.send(0x01, flood))) break;
    })();
    await sleepMs(150); // the first burst drains and the backlog settles at the rate
    const s0 = ends.a.status().sendMonitor;
    for (let i = 0; i < PROBES; i++) {
      const t = await probe.once();
      if (block > 0) out.loaded.push(t);
      await sleepMs(1);
    }
    const s1 = ends.a.status().sendMonitor;
    floodBytes += s1.bytes - s0.bytes;
    floodMs += s1.durationMs - s0.durationMs;
    flooding = false;
    await pump;
    // Let the queued backlog go out before the next unloaded block.
    for (let i = 0; i < 400 && ends.a.status().channels[0].sendQueueSize > 0; i++) await sleepMs(5);
    await sleepMs(20);
  }
  out.floodRate = (floodBytes * 1000) / floodMs;
  probe.close();
  ends.a.stop();
  ends.b.stop();
  return out;
}

export async function run(): Promise<void> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  try {
    for (const [name, pool] of [['mconnection_goodput', nodePool], ['mconnection_goodput_one_thread', undefined]] as const) {
      const { goodput, ceiling, secretOnly } = await goodputVsCeiling(server, port, name, pool);
      process.stderr.write(
        `${name}: AEAD ceiling ${ceiling.toFixed(1)} MB/s, SecretConnection alone ${secretOnly.toFixed(1)} MB/s, MConnection ${goodput.toFixed(1)} MB/s\n`,
      );
      report(name, goodput, 'MB/s', ceiling);
    }

    // Three passes; each figure is the median over passes (the host stalls now and then, and a
    // single stall-heavy pass would otherwise decide a p99).
    const passes = [];
    for (let i = 0; i < 3; i++) passes.push(await latency(server, port, 3000, 300));
    for (const p of [50, 99]) {
      const raw = passes.map((l) => percentile(l.raw, p));
      const over = passes.map((l) => percentile(l.ours, p) - percentile(l.raw, p));
      process.stderr.write(`mconnection_latency_p${p}: per pass raw ${raw.map((x) => x.toFixed(1)).join(' / ')} us, ours minus raw ${over.map((x) => x.toFixed(1)).join(' / ')} us\n`);
      report(`mconnection_latency_p${p}_us`, median(over), 'us', median(raw));
    }

    const prio = await priority(server, port);
    const [u50, u99, l50, l99] = [
      percentile(prio.unloaded, 50),
      percentile(prio.unloaded, 99),
      percentile(prio.loaded, 50),
      percentile(prio.loaded, 99),
    ];
    process.stderr.write(
      `mconnection_priority: p99 unloaded ${u99.toFixed(1)} us, loaded ${l99.toFixed(1)} us; p50 ${u50.toFixed(1)} / ${l50.toFixed(1)} us; ` +
        `flood rate while probing ${(prio.floodRate / 1e6).toFixed(2)} MB/s\n`,
    );
    report('mconnection_priority_p99_ratio', l99 / u99, 'x', 1);
  } finally {
    server.close();
    await nodePool.close();
  }
}
