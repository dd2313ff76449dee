/**
 * pex_seed_fast_dial_ms: real-clock time from a seed's PexAddrs reaching the PEX reactor to the
 * first dial of one of its addresses starting, with a real seed and node on 127.0.0.1 (TCP,
 * SecretConnection, MConnection). Lower is better; target <= 10 ms.
 * Baseline: one empty event-loop turn (a setImmediate round trip), measured in the same run.
 */
import { createHash } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { AddrBook } from '../addrbook/addr-book.js';
import { SystemClock } from '../p2p/clock.js';
import { NetAddress } from '../p2p/net-address.js';
import { NodeKey } from '../p2p/node-key.js';
import type { Peer } from '../p2p/peer.js';
import { SeededRng } from '../p2p/rng.js';
import { Switch } from '../p2p/switch.js';
import { TcpTransport } from '../p2p/transport/tcp-transport.js';
import { PexReactor } from '../pex/pex-reactor.js';
import { median, report } from './harness.js';

const ROUNDS = 30;
/** First rounds warm the JIT up and are not counted. */
const WARMUP_ROUNDS = 3;
const ADDRS_FROM_SEED = 40;

const keyFor = (label: string): NodeKey => NodeKey.fromSeed(createHash('sha256').update(`pex-bench:${label}`).digest());

interface BenchNode {
  sw: Switch;
  book: AddrBook;
  pex: PexReactor<Peer>;
  addr: NetAddress;
}

async function node(label: string, clock: SystemClock, rng: SeededRng, pex: ConstructorParameters<typeof PexReactor>[1], onDial?: () => void): Promise<BenchNode> {
  const key = keyFor(label);
  const transport = new TcpTransport({ clock }, { host: '127.0.0.1', port: 0 });
  const book = new AddrBook({ clock, rng: rng.fork() }, { routabilityStrict: false });
  book.start();
  const sw = new Switch({ transport, nodeKey: key, clock, rng: rng.fork(), addrBook: book }, { nodeInfo: { network: 'pex-bench', moniker: label }, allowDuplicateIp: true });
  const reactor = new PexReactor<Peer>(
    { clock, rng: rng.fork(), book, observer: { dialStarted: (_a, reason) => reason === 'ensure' && onDial?.() } },
    { routabilityStrict: false, ...pex },
  );
  sw.addReactor('pex', reactor);
  await sw.start();
  const bound = transport.listenAddress()!;
  return { sw, book, pex: reactor, addr: new NetAddress(key.id, '127.0.0.1', bound.port) };
}

async function emptyTurnMs(): Promise<number> {
  const samples: number[] = [];
  for (let i = 0; i < 200; i++) {
    const t0 = performance.now();
    await new Promise<void>((r) => setImmediate(r));
    samples.push(performance.now() - t0);
  }
  return median(samples);
}

export async function run(): Promise<void> {
  const clock = new SystemClock();
  const rng = new SeededRng('pex-bench');
  const seed = await node('seed', clock, rng, { seedMode: true, crawlPeriodMs: 3_600_000 });
  // Addresses nobody listens on: the dial only has to start, not succeed.
  for (let i = 0; i < ADDRS_FROM_SEED; i++) seed.book.addAddress(new NetAddress(keyFor(`ghost${i}`).id, '127.0.0.1', 1 + i), seed.addr);
  const samples: number[] = [];
  try {
    for (let round = 0; round < WARMUP_ROUNDS + ROUNDS; round++) {
      let receivedAt: number | undefined;
      let dialAt: number | undefined;
      const n = await node(`n${round}`, clock, rng, { seeds: [seed.addr.toString()] }, () => {
        dialAt ??= performance.now();
      });
      const receive = n.pex.receive.bind(n.pex);
      n.pex.receive = (env) => {
        if (env.peer.id === seed.addr.id && env.message[0] === 0x12) receivedAt ??= performance.now();
        receive(env);
      };
      const end = Date.now() + 5_000;
      while (dialAt === undefined && Date.now() < end) await new Promise((r) => setTimeout(r, 1));
      await n.sw.stop();
      n.book.stop();
      if (receivedAt === undefined || dialAt === undefined) throw new Error(`round ${round}: no fast dial observed`);
      if (round >= WARMUP_ROUNDS) samples.push(dialAt - receivedAt);
    }
  } finally {
    await seed.sw.stop();
    seed.book.stop();
  }
  report('pex_seed_fast_dial_ms', median(samples), 'ms', await emptyTurnMs());
}
