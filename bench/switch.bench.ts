/**
 * Switch benchmarks on 127.0.0.1 (real TCP, real crypto, system clock):
 *
 * - switch_upgrades_per_s (higher is better): complete inbound upgrades per second into one
 *   Switch: TCP accept, SecretConnection handshake, NodeInfo exchange, checks, peer added on every
 *   reactor. The dialing side (plain transport + upgrade pipeline, 32 dials in flight) runs in
 *   a worker thread of the same process, so both ends' crypto is paid, as in the baseline:
 *   complete handshake pairs (both ends) per second over in-memory pipes, i.e. the crypto alone.
 *   Half-second upgrade phases alternate with 0.3 s baseline phases; medians of the 5 phases of
 *   each least disturbed by other processes (bench/run-queue-wait.ts).
 * - peer_idle_heap_kib / peer_idle_rss_kib (lower is better): memory per idle connected peer
 *   endpoint (Peer + MConnection with 6 channels and its ping timer + SecretConnection + socket),
 *   1 000 connections = 2 000 endpoints in this process. JS heap plus external (Buffer) memory,
 *   and resident set size. Baseline: the same figure for an idle raw TCP socket end (1 000 socket
 *   pairs, reading), measured in the same run.
 */
import net from 'node:net';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import v8 from 'node:v8';
import vm from 'node:vm';
import { median, report } from './harness.js';
import { isClean, leastDisturbed, runQueueWaitNs, timedPass, type PassResult } from './run-queue-wait.js';
import { systemClock } from '../p2p/clock.js';
import { createDuplexPair } from '../p2p/conn/duplex-pair.js';
import { SecretConnection } from '../p2p/conn/secret-connection.js';
import type { ChannelDescriptor } from '../p2p/conn/channel.js';
import { buildNodeInfo } from '../p2p/node-info.js';
import { NodeKey } from '../p2p/node-key.js';
import { Peer } from '../p2p/peer.js';
import { BaseReactor } from '../p2p/reactor.js';
import { Switch } from '../p2p/switch.js';
import { TcpTransport } from '../p2p/transport/tcp-transport.js';
import type { TransportAddress } from '../p2p/transport/transport.js';
import { upgradeConnection } from '../p2p/upgrade.js';

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

const CHANNELS: ChannelDescriptor[] = [0x00, 0x20, 0x21, 0x22, 0x30, 0x40].map((id) => ({ id, priority: 1 }));
/** Upgrade phases and crypto-baseline phases alternate (see upgradesVsCrypto). */
const UPGRADE_PHASE_SECONDS = 0.5;
const CRYPTO_PHASE_SECONDS = 0.3;
const UPGRADE_CLEAN_PHASES = 5;
const UPGRADE_MAX_ROUNDS = 10;
const IDLE_CONNECTIONS = 1000;

class IdleReactor extends BaseReactor {
  constructor() {
    super(CHANNELS);
  }
}

async function settleMemory(): Promise<{ heap: number; rss: number }> {
  for (let i = 0; i < 4; i++) {
    gc();
    await new Promise((r) => setImmediate(r));
  }
  const m = process.memoryUsage();
  return { heap: m.heapUsed + m.external, rss: m.rss };
}

async function startHub(maxInboundPeers: number): Promise<{ sw: Switch; addr: TransportAddress }> {
  const transport = new TcpTransport({}, { host: '127.0.0.1', port: 0 });
  const sw = new Switch(
    { transport, nodeKey: NodeKey.generate() },
    { nodeInfo: { network: 'bench', moniker: 'hub' }, maxInboundPeers, allowDuplicateIp: true },
  );
  sw.addReactor('idle', new IdleReactor());
  await sw.start();
  return { sw, addr: transport.listenAddress()! };
}

/** One dialer-side upgrade into the hub; returns the upgraded stream. */
async function dialIn(client: TcpTransport, hub: TransportAddress, key: NodeKey, hubId: string) {
  const raw = await client.dial(hub, { timeoutMs: 10_000 });
  const info = buildNodeInfo({ nodeId: key.id, listenAddr: 'tcp://127.0.0.1:1', network: 'bench', version: '1', moniker: 'c', channels: CHANNELS.map((c) => c.id) });
  return upgradeConnection({ clock: systemClock }, { raw, identity: key, ourNodeInfo: info, dialedId: hubId, handshakeTimeoutMs: 10_000 });
}

async function handshakePairsPerSecond(seconds: number): Promise<number> {
  const a = NodeKey.generate();
  const b = NodeKey.generate();
  const end = performance.now() + seconds * 1000;
  let n = 0;
  const start = performance.now();
  while (performance.now() < end) {
    const batch = await Promise.all(
      Array.from({ length: 8 }, async () => {
        const [x, y] = createDuplexPair();
        const [sx, sy] = await Promise.all([SecretConnection.handshake({ clock: systemClock }, x, a), SecretConnection.handshake({ clock: systemClock }, y, b)]);
        sx.destroy();
        sy.destroy();
      }),
    );
    n += batch.length;
  }
  return n / ((performance.now() - start) / 1000);
}

interface DialerJob {
  role: 'switch-bench-dialer';
  hub: TransportAddress;
  hubId: string;
  keys: number;
  concurrency: number;
}

/** One dialing phase's outcome, as the worker reports it. */
interface PhaseResult {
  failed: number;
  used: number;
  /** Share of the phase the worker thread waited for a CPU (see run-queue-wait.ts). */
  waitFraction: number;
}

/**
 * Worker side: on each message `{ seconds }` from the main thread, dials into the hub with fresh
 * keys (`concurrency` upgrades in flight) until the time is up, waits for the dials in flight and
 * reports a PhaseResult. The main thread terminates it at the end.
 */
async function dialerMain(job: DialerJob): Promise<void> {
  const client = new TcpTransport({}, { host: '127.0.0.1', port: 0 });
  const keys = Array.from({ length: job.keys }, () => NodeKey.generate());
  let next = 0;
  parentPort!.postMessage('ready');
  parentPort!.on('message', (msg: { seconds: number }) => {
    void (async () => {
      const end = performance.now() + msg.seconds * 1000;
      let failed = 0;
      const used0 = next;
      const w0 = runQueueWaitNs();
      const t0 = performance.now();
      const worker = async (): Promise<void> => {
        while (performance.now() < end && next < keys.length) {
          try {
            const up = await dialIn(client, job.hub, keys[next++], job.hubId);
            up.conn.destroy();
          } catch {
            failed++;
          }
        }
      };
      await Promise.all(Array.from({ length: job.concurrency }, worker));
      const w1 = runQueueWaitNs();
      const wallNs = (performance.now() - t0) * 1e6;
      const result: PhaseResult = { failed, used: next - used0, waitFraction: w0 === undefined || w1 === undefined ? 0 : (w1 - w0) / wallNs };
      parentPort!.postMessage(result);
    })();
  });
}

if (!isMainThread && (workerData as DialerJob | undefined)?.role === 'switch-bench-dialer') {
  void dialerMain(workerData as DialerJob);
}

/**
 * The hub runs on this thread; the dialers run in a worker thread (their crypto on the other
 * core), so the figure is the hub's own capacity, as with remote dialers. Upgrade phases
 * alternate with the crypto baseline so that both see the same moments of a noisy host; phases
 * during which another process held either thread's CPU are dropped (run-queue-wait.ts) and the
 * medians of the least-disturbed ones are returned.
 */
async function upgradesVsCrypto(): Promise<{ upgrades: number; crypto: number; detail: string }> {
  const { sw, addr } = await startHub(1_000_000);
  const job: DialerJob = { role: 'switch-bench-dialer', hub: addr, hubId: sw.nodeInfo().id, keys: 6000, concurrency: 32 };
  const worker = new Worker(new URL(import.meta.url), { workerData: job });
  await new Promise<void>((r) => worker.once('message', () => r()));
  let added = 0;
  sw.on('peer:add', (p) => {
    added++;
    // Keep the hub small: each counted peer leaves again at once.
    sw.stopPeerForError(p, new Error('bench: next'));
  });
  let keysUsed = 0;
  const phase = async (seconds: number): Promise<PassResult> => {
    const a0 = added;
    const w0 = runQueueWaitNs();
    const start = performance.now();
    worker.postMessage({ seconds });
    const result = await new Promise<PhaseResult>((r) => worker.once('message', r));
    const elapsed = (performance.now() - start) / 1000;
    const w1 = runQueueWaitNs();
    keysUsed += result.used;
    const ownWait = w0 === undefined || w1 === undefined ? 0 : (w1 - w0) / (elapsed * 1e9);
    return { value: (added - a0) / elapsed, waitFraction: Math.max(ownWait, result.waitFraction) };
  };
  await phase(0.3); // warm-up
  const ups: PassResult[] = [];
  const cryptos: PassResult[] = [];
  for (let round = 0; round < UPGRADE_MAX_ROUNDS; round++) {
    ups.push(await phase(UPGRADE_PHASE_SECONDS));
    cryptos.push(await timedPass(() => handshakePairsPerSecond(CRYPTO_PHASE_SECONDS)));
    if (ups.filter(isClean).length >= UPGRADE_CLEAN_PHASES && cryptos.filter(isClean).length >= UPGRADE_CLEAN_PHASES) break;
    if (keysUsed + 3000 > job.keys) break; // keep keys for a full phase in reserve
  }
  await worker.terminate();
  await sw.stop();
  const u = leastDisturbed(ups, UPGRADE_CLEAN_PHASES);
  const c = leastDisturbed(cryptos, UPGRADE_CLEAN_PHASES);
  const detail =
    `switch_upgrades_per_s: ${u.length} least-disturbed of ${ups.length} phases (${ups.filter((r) => !isClean(r)).length} disturbed), ` +
    `upgrades ${u.map((x) => x.toFixed(0)).join(' / ')} /s, crypto ${c.map((x) => x.toFixed(0)).join(' / ')} /s\n`;
  return { upgrades: median(u), crypto: median(c), detail };
}

async function rawSocketEndBytes(count: number): Promise<{ heap: number; rss: number }> {
  const server = net.createServer((s) => s.resume());
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as net.AddressInfo).port;
  const before = await settleMemory();
  const clients: net.Socket[] = [];
  for (let i = 0; i < count; i++) {
    const s = net.connect({ host: '127.0.0.1', port });
    s.resume();
    await new Promise<void>((r) => s.once('connect', () => r()));
    clients.push(s);
  }
  const after = await settleMemory();
  for (const s of clients) s.destroy();
  await new Promise<void>((r) => server.close(() => r()));
  return { heap: (after.heap - before.heap) / (2 * count), rss: (after.rss - before.rss) / (2 * count) };
}

async function idlePeerEndBytes(count: number): Promise<{ heap: number; rss: number }> {
  const { sw, addr } = await startHub(count + 10);
  const hubId = sw.nodeInfo().id;
  const client = new TcpTransport({}, { host: '127.0.0.1', port: 0 });
  const keys = Array.from({ length: count }, () => NodeKey.generate());
  const before = await settleMemory();
  const clientPeers: Peer[] = [];
  for (let i = 0; i < count; i += 50) {
    const ups = await Promise.all(keys.slice(i, i + 50).map((k) => dialIn(client, addr, k, hubId)));
    for (const up of ups) {
      const p = new Peer(
        { clock: systemClock },
        {
          conn: up.conn,
          nodeInfo: up.nodeInfo,
          outbound: true,
          persistent: false,
          socketAddr: sw.netAddress(),
          channels: CHANNELS,
          onReceive: () => undefined,
          onError: () => undefined,
        },
      );
      p.start();
      clientPeers.push(p);
    }
  }
  while (sw.peers.size < count) await new Promise((r) => setImmediate(r));
  const after = await settleMemory();
  for (const p of clientPeers) p.stop();
  await sw.stop();
  await client.close();
  return { heap: (after.heap - before.heap) / (2 * count), rss: (after.rss - before.rss) / (2 * count) };
}

export async function run(): Promise<void> {
  // Memory first, while the process is fresh: RSS shrinking after earlier work would otherwise
  // leak into the deltas (and can make the small raw-socket baseline negative).
  const raw = await rawSocketEndBytes(IDLE_CONNECTIONS);
  const peer = await idlePeerEndBytes(IDLE_CONNECTIONS);
  const { upgrades, crypto, detail } = await upgradesVsCrypto();
  process.stderr.write(detail);
  report('switch_upgrades_per_s', upgrades, 'upgrades/s', crypto);
  report('peer_idle_heap_kib', peer.heap / 1024, 'KiB', raw.heap / 1024);
  report('peer_idle_rss_kib', peer.rss / 1024, 'KiB', raw.rss / 1024);
}
