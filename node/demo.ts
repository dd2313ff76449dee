/**
 * `npm run demo`: a local network on 127.0.0.1 — one seed node and several nodes that know only
 * the seed — using the real Node class, real TCP and short PEX periods. Prints the peer graph as
 * it fills in and exits 0 once every node has `target` peers besides the seed (each dials up to
 * `target` outbound), or 1 with a clear message when the time runs out.
 *
 *   node dist/node/demo.js [--nodes 8] [--target 3] [--timeout 60]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { NodeKey } from '../p2p/node-key.js';
import type { Peer } from '../p2p/peer.js';
import { initHome } from './home.js';
import { loadConfig } from './load-config.js';
import { Node } from './node.js';

interface DemoOptions {
  nodes: number;
  target: number;
  timeoutS: number;
}

function options(): DemoOptions {
  const { values } = parseArgs({
    options: { nodes: { type: 'string', default: '8' }, target: { type: 'string', default: '3' }, timeout: { type: 'string', default: '60' } },
    strict: true,
  });
  const int = (name: string, v: string | undefined, min: number, max: number): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min || n > max) {
      process.stderr.write(`demo: --${name} must be an integer from ${min} to ${max}, got ${v}\n`);
      process.exit(2);
    }
    return n;
  };
  const nodes = int('nodes', values.nodes, 2, 50);
  return { nodes, target: int('target', values.target, 1, nodes - 1), timeoutS: int('timeout', values.timeout, 5, 600) };
}

async function makeNode(root: string, name: string, flags: Record<string, string>, target: number): Promise<Node> {
  const home = join(root, name);
  initHome(home, {
    moniker: name,
    network: 'switchyard-demo',
    'p2p.addr_book_strict': false, // everything is on 127.0.0.1
    'p2p.allow_duplicate_ip': true,
    'p2p.max_num_outbound_peers': target,
    'pex.ensure_peers_period': '1s',
    'rpc.laddr': '',
  });
  const config = loadConfig(home, { 'p2p.laddr': 'tcp://127.0.0.1:0', ...flags });
  const node = new Node({}, { config, nodeKey: NodeKey.load(config.nodeKeyFile), tuning: { switch: { dialJitterMaxMs: 50 } } });
  await node.start();
  return node;
}

async function main(): Promise<number> {
  const opt = options();
  const root = mkdtempSync(join(tmpdir(), 'switchyard-demo-'));
  const started = Date.now();
  const t = (): string => `${((Date.now() - started) / 1000).toFixed(1).padStart(5)}s`;
  const names = new Map<string, string>();
  const nodes: Node[] = [];
  let seed: Node | undefined;
  try {
    seed = await makeNode(root, 'seed', { 'p2p.seed_mode': 'true' }, opt.target);
    names.set(seed.id, 'seed');
    process.stdout.write(`${t()} seed ${seed.sw.netAddress().toString()}\n`);
    for (let i = 1; i <= opt.nodes; i++) {
      const name = `node${i}`;
      const node = await makeNode(root, name, { 'p2p.seeds': seed.sw.netAddress().toString() }, opt.target);
      names.set(node.id, name);
      nodes.push(node);
    }
    process.stdout.write(`${t()} started ${opt.nodes} nodes that know only the seed; target: ${opt.target} peers each\n`);

    const seedId = seed.id;
    // The seed answers and hangs up: only connections between nodes count. A node's target is
    // reached when it has `target` of them either way (its own dials stop at `target` outbound;
    // inbound ones count too, or small networks could never finish: a node whose every
    // neighbour dialed it first has nobody left to dial).
    const peerCount = (n: Node): number => n.sw.peers.list().filter((p) => p.id !== seedId).length;
    let stopping = false;
    const summary = (): string => nodes.map((n) => `${names.get(n.id)}:${peerCount(n)}`).join(' ');
    const done = (): boolean => nodes.every((n) => peerCount(n) >= opt.target);
    let resolveDone: () => void = () => undefined;
    const reached = new Promise<void>((r) => (resolveDone = r));
    for (const n of [seed, ...nodes]) {
      const me = names.get(n.id)!;
      n.sw.on('peer:add', (peer: Peer) => {
        if (!peer.outbound) return;
        if (stopping) return;
        process.stdout.write(`${t()} ${me.padEnd(6)} → ${(names.get(peer.id) ?? peer.id.slice(0, 8)).padEnd(6)}  [${summary()}]\n`);
        if (done()) resolveDone();
      });
      n.sw.on('peer:remove', (peer: Peer) => {
        if (!stopping && peer.outbound && me !== 'seed' && names.get(peer.id) !== 'seed') {
          process.stdout.write(`${t()} ${me} ✕ ${names.get(peer.id) ?? peer.id.slice(0, 8)}\n`);
        }
      });
    }
    if (done()) resolveDone();
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>((r) => (timer = setTimeout(() => r('timeout'), opt.timeoutS * 1000)));
    const outcome = await Promise.race([reached.then(() => 'ok' as const), timedOut]);
    clearTimeout(timer);
    if (outcome === 'timeout') {
      const short = nodes.filter((n) => peerCount(n) < opt.target).map((n) => `${names.get(n.id)} has ${peerCount(n)}`);
      stopping = true;
      process.stderr.write(`demo: timed out after ${opt.timeoutS}s: ${short.join(', ')} (target ${opt.target})\n`);
      return 1;
    }
    const pairs = new Set<string>();
    for (const n of nodes) for (const p of n.sw.peers.list()) if (p.id !== seedId) pairs.add([n.id, p.id].sort().join('-'));
    const edges = pairs.size;
    stopping = true;
    process.stdout.write(`${t()} every node has at least ${opt.target} peers (${edges} connections between nodes); stopping\n`);
    return 0;
  } catch (err) {
    process.stderr.write(`demo: ${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  } finally {
    await Promise.all([...nodes, ...(seed ? [seed] : [])].map((n) => n.stop().catch(() => undefined)));
    rmSync(root, { recursive: true, force: true });
  }
}

main().then((code) => process.exit(code));
