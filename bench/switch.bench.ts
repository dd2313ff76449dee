/**
 * Switch benchmarks on 127.0.0.1 (real TCP, real crypto, system clock):
 *
 * - switch_upgrades_per_s (higher is better): complete inbound upgrades per second into one
 *   Switch: TCP accept, SecretConnection handshake, NodeInfo exchange, checks, peer added on every
 *   reactor. The dialing side (plain transport + upgrade pipeline, 32 dials in flight) runs in
 *   the same process, so both ends' crypto is paid, as in the baseline: complete handshake pairs
 *   (both ends) per second over in-memory pipes, i.e. the crypto alone.
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
import { report } from './harness.js';
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
const UPGRADE_SECONDS = 3;
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
  seconds: number;
}

/** Worker side: dials into the hub with fresh keys until the time is up, then reports. */
async function dialerMain(job: DialerJob): Promise<void> {
  const client = new TcpTransport({}, { host: '127.0.0.1', port: 0 });
  const keys = Array.from({ length: job.keys }, () => NodeKey.generate());
  parentPort!.postMessage('ready');
  await new Promise<void>((r) => parentPort!.once('message', () => r()));
  const end = performance.now() + job.seconds * 1000;
  let next = 0;
  let failed = 0;
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
  await client.close();
  parentPort!.postMessage({ failed, used: next });
}

if (!isMainThread && (workerData as DialerJob | undefined)?.role === 'switch-bench-dialer') {
  void dialerMain(workerData as DialerJob);
}

/**
 * The hub runs on this thread; the dialers run in a worker thread (their crypto on the other
 * core), so the figure is the hub's own capacity, as with remote dialers.
 */
async function upgradesPerSecond(seconds: number): Promise<number> {
  const { sw, addr } = await startHub(1_000_000);
  const job: DialerJob = { role: 'switch-bench-dialer', hub: addr, hubId: sw.nodeInfo().id, keys: 6000, concurrency: 32, seconds };
  const worker = new Worker(new URL(import.meta.url), { workerData: job });
  await new Promise<void>((r) => worker.once('message', () => r()));
  let added = 0;
  sw.on('peer:add', (p) => {
    added++;
    // Keep the hub small: each counted peer leaves again at once.
    sw.stopPeerForError(p, new Error('bench: next'));
  });
  const start = performance.now();
  worker.postMessage('go');
  const result = await new Promise<{ failed: number; used: number }>((r) => worker.once('message', r));
  const elapsed = (performance.now() - start) / 1000;
  await worker.terminate();
  await sw.stop();
  if (result.used >= job.keys) process.stderr.write('switch bench: dialer ran out of keys; raise DialerJob.keys\n');
  return added / elapsed;
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
  const crypto = await handshakePairsPerSecond(2);
  const upgrades = await upgradesPerSecond(UPGRADE_SECONDS);
  report('switch_upgrades_per_s', upgrades, 'upgrades/s', crypto);
  report('peer_idle_heap_kib', peer.heap / 1024, 'KiB', raw.heap / 1024);
  report('peer_idle_rss_kib', peer.rss / 1024, 'KiB', raw.rss / 1024);
}
