import { copyFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { NodeKey } from '../../p2p/node-key.js';
import { BaseReactor } from '../../p2p/reactor.js';
import type { Envelope } from '../../p2p/reactor.js';
import { initHome } from '../../node/home.js';
import { loadConfig, type ConfigFlags } from '../../node/load-config.js';
import { Node } from '../../node/node.js';
import { ErrConfigInvalid } from '../../node/errors.js';
import { TcpTransport } from '../../p2p/transport/tcp-transport.js';
import { NetAddress } from '../../p2p/net-address.js';

const homes: string[] = [];
const nodes: Node[] = [];
afterEach(async () => {
  await Promise.all(nodes.splice(0).map((n) => n.stop()));
  for (const h of homes.splice(0)) rmSync(h, { recursive: true, force: true });
});

function makeNode(
  flags: ConfigFlags,
  extra: { reactors?: ConstructorParameters<typeof Node>[1]['reactors']; values?: Record<string, string | number | boolean>; lookup?: (host: string) => Promise<string> } = {},
): Node {
  const home = mkdtempSync(join(tmpdir(), 'sy-node-'));
  homes.push(home);
  initHome(home, { 'p2p.addr_book_strict': false, 'p2p.allow_duplicate_ip': true, 'rpc.unsafe': true, ...extra.values });
  const config = loadConfig(home, { 'p2p.laddr': 'tcp://127.0.0.1:0', 'rpc.laddr': 'tcp://127.0.0.1:0', ...flags });
  const node = new Node({ lookup: extra.lookup }, {
    config,
    nodeKey: NodeKey.load(config.nodeKeyFile),
    reactors: extra.reactors,
    tuning: { switch: { dialJitterMaxMs: 1 } },
  });
  nodes.push(node);
  return node;
}

function rpc(node: Node, method: string, params: unknown = {}): Promise<any> {
  const port = node.rpcAddress()!.port;
  const body = JSON.stringify({ jsonrpc: '2.0', id: 1, method, params });
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method: 'POST', path: '/' }, (res) => {
      let text = '';
      res.on('data', (c: Buffer) => (text += c.toString()));
      res.on('end', () => resolve(JSON.parse(text)));
    });
    req.on('error', reject);
    req.end(body);
  });
}

function httpGet(port: number, path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    request({ host: '127.0.0.1', port, path }, (res) => {
      let text = '';
      res.on('data', (c: Buffer) => (text += c.toString()));
      res.on('end', () => resolve(text));
    })
      .on('error', reject)
      .end();
  });
}

async function waitFor(pred: () => boolean | Promise<boolean>, what: string, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await pred()) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe('Node on 127.0.0.1', () => {
  it('two nodes connected through persistent_peers see each other in /net_info; stop saves the book', async () => {
    const a = makeNode({ moniker: 'node-a' });
    await a.start();
    const b = makeNode({ moniker: 'node-b', 'p2p.persistent_peers': a.sw.netAddress().toString() });
    await b.start();
    await waitFor(async () => (await rpc(a, 'net_info')).result.n_peers === '1' && (await rpc(b, 'net_info')).result.n_peers === '1', 'peers');
    const netA = (await rpc(a, 'net_info')).result;
    const netB = (await rpc(b, 'net_info')).result;
    expect(netA.peers[0].node_info.id).toBe(b.id);
    expect(netA.peers[0].is_outbound).toBe(false);
    expect(netB.peers[0].node_info.id).toBe(a.id);
    expect(netB.peers[0].node_info.moniker).toBe('node-a');
    expect(netB.peers[0].is_outbound).toBe(true);
    expect(netB.peers[0].remote_ip).toBe('127.0.0.1');
    expect(netB.peers[0].connection_status.Channels.map((c: { ID: number }) => c.ID)).toEqual([0]);
    const status = (await rpc(a, 'status')).result;
    expect(status.node_info.id).toBe(a.id);
    expect(status.node_info.listen_addr).toBe(`tcp://127.0.0.1:${a.sw.netAddress().port}`);
    expect(status.node_info.channels).toBe('00');
    expect(status.node_info.network).toBe('switchyard-local');

    await b.stop();
    const book = JSON.parse(readFileSync(b.config.p2p.addrBookFile, 'utf8')) as { addrs: Array<{ addr: { id: string } }> };
    expect(book.addrs.map((e) => e.addr.id)).toContain(a.id);
  });

  it('operator calls: set rates, ban (disconnects and refuses), unban, disconnect', async () => {
    const a = makeNode({ moniker: 'node-a' });
    await a.start();
    const b = makeNode({ moniker: 'node-b' });
    await b.start();
    const bAddr = b.sw.netAddress().toString();
    expect((await rpc(a, 'dial_peers', { peers: [bAddr] })).result.Log).toMatch(/Dialing peers/);
    await waitFor(() => a.sw.peers.size === 1 && b.sw.peers.size === 1, 'dial');

    expect((await rpc(a, 'set_peer_rates', { peer_id: b.id, send_rate: 1000, recv_rate: 2000 })).result).toEqual({});
    expect(a.sw.peers.get(b.id)!.status()).toMatchObject({ sendRate: 1000, recvRate: 2000 });
    expect((await rpc(a, 'set_peer_rates', { peer_id: 'f'.repeat(40), send_rate: 1 })).error.data).toMatch(/not connected/);

    const ban = await rpc(a, 'ban_address', { address: bAddr, duration: '1h' });
    expect(ban.result.address).toBe(bAddr);
    await waitFor(() => a.sw.peers.size === 0 && b.sw.peers.size === 0, 'ban disconnect');
    // b dialing a is refused by a while the ban lasts (b may see the handshake finish, then the close).
    const refusals: string[] = [];
    a.sw.on('accept:error', (_remote, err) => refusals.push(String((err as Error).message)));
    await b.sw.dialPeerWithAddress(a.sw.netAddress()).catch(() => undefined);
    await waitFor(() => refusals.length > 0 && b.sw.peers.size === 0, 'refusal');
    expect(refusals[0]).toMatch(/is banned until .*connection refused/);
    expect(a.sw.peers.size).toBe(0);
    expect((await rpc(a, 'unban_address', { address: bAddr })).result).toEqual({});
    await b.sw.dialPeerWithAddress(a.sw.netAddress());
    await waitFor(() => a.sw.peers.size === 1, 'reconnect after unban');
    expect((await rpc(a, 'disconnect_peer', { peer_id: b.id })).result).toEqual({});
    await waitFor(() => a.sw.peers.size === 0 && b.sw.peers.size === 0, 'disconnect');
  });

  it('serves metrics with CometBFT names under the namespace', async () => {
    const a = makeNode({ moniker: 'node-a' }, { values: { 'instrumentation.prometheus': true, 'instrumentation.prometheus_listen_addr': '127.0.0.1:0', 'instrumentation.namespace': 'sy' } });
    await a.start();
    const b = makeNode({ moniker: 'node-b', 'p2p.persistent_peers': a.sw.netAddress().toString() });
    await b.start();
    await waitFor(() => a.sw.peers.size === 1, 'peer');
    const text = await httpGet(a.metricsAddress()!.port, '/metrics');
    expect(text).toContain('# TYPE sy_p2p_peers gauge\nsy_p2p_peers 1\n');
    expect(text).toMatch(new RegExp(`sy_p2p_peer_receive_bytes_total\\{peer_id="${b.id}",chID="0x0"\\} \\d+`));
    expect(text).toMatch(new RegExp(`sy_p2p_peer_send_bytes_total\\{peer_id="${b.id}",chID="0x0"\\} \\d+`));
    expect(text).toMatch(new RegExp(`sy_p2p_peer_pending_send_bytes\\{peer_id="${b.id}"\\} \\d+`));
    expect(text).toMatch(/sy_p2p_message_receive_bytes_total\{message_type="pex_0x0"\} \d+/);
    expect(text).toMatch(/sy_p2p_addrbook_size\{table="new"\} \d+/);
    expect(text).toContain('sy_p2p_pex_requests_sent_total');
    expect(text).toContain('sy_p2p_dials_total');
  });

  it('runs a custom reactor next to PEX', async () => {
    const received: string[] = [];
    class Echo extends BaseReactor {
      constructor() {
        super([{ id: 0x70, priority: 5 }]);
      }
      override addPeer(peer: Parameters<BaseReactor['addPeer']>[0]): void {
        void peer.send(0x70, new TextEncoder().encode(`hello from ${this.sw!.nodeInfo().moniker}`));
      }
      override receive(env: Envelope): void {
        received.push(new TextDecoder().decode(env.message));
      }
    }
    const a = makeNode({ moniker: 'echo-a' }, { reactors: [{ name: 'echo', reactor: new Echo() }] });
    await a.start();
    const b = makeNode({ moniker: 'echo-b', 'p2p.persistent_peers': a.sw.netAddress().toString() }, { reactors: [{ name: 'echo', reactor: new Echo() }] });
    await b.start();
    await waitFor(() => received.length === 2, 'echo messages');
    expect(received.sort()).toEqual(['hello from echo-a', 'hello from echo-b']);
    // User reactors first, PEX last, as CometBFT advertises them.
    expect((await rpc(a, 'status')).result.node_info.channels).toBe('7000');
  });

  for (const threads of [1, 0]) {
    it(`moves 4 MiB messages both ways intact with p2p.crypto_threads = ${threads}`, async () => {
      const MIB = 1024 * 1024;
      const payload = (seed: number): Uint8Array => Uint8Array.from({ length: 4 * MIB }, (_, i) => (i * 31 + seed) & 0xff);
      const received: Uint8Array[] = [];
      class Bulk extends BaseReactor {
        constructor(private readonly seed: number) {
          super([{ id: 0x71, priority: 1, recvMessageCapacity: 8 * MIB }]);
        }
        override addPeer(peer: Parameters<BaseReactor['addPeer']>[0]): void {
          void peer.send(0x71, payload(this.seed));
        }
        override receive(env: Envelope): void {
          received.push(env.message);
        }
      }
      const flags = { 'p2p.crypto_threads': String(threads) };
      const values = { 'p2p.send_rate': 0, 'p2p.recv_rate': 0 };
      const a = makeNode({ moniker: 'bulk-a', ...flags }, { values, reactors: [{ name: 'bulk', reactor: new Bulk(1) }] });
      await a.start();
      const b = makeNode({ moniker: 'bulk-b', 'p2p.persistent_peers': a.sw.netAddress().toString(), ...flags }, { values, reactors: [{ name: 'bulk', reactor: new Bulk(2) }] });
      await b.start();
      await waitFor(() => received.length === 2, 'both 4 MiB messages');
      const got = received.map((m) => Buffer.from(m)).sort((x, y) => x[0] - y[0]);
      expect(got[0].equals(payload(1))).toBe(true);
      expect(got[1].equals(payload(2))).toBe(true);
      // With a thread, the bulk frames went through the pool; with none, nothing did.
      for (const node of [a, b]) {
        const stats = node.cryptoPool!.stats();
        expect(stats.threads).toBe(threads);
        if (threads > 0) expect(Math.min(stats.sealedFrames, stats.openedFrames)).toBeGreaterThan(3000);
        else expect(stats.sealedFrames + stats.openedFrames + stats.workersStarted).toBe(0);
      }
      const text = a.metrics.expose();
      const sealed = /^cometbft_p2p_crypto_offloaded_frames_total\{op="seal"\} (\d+)$/m.exec(text);
      expect(Number(sealed?.[1])).toBe(a.cryptoPool!.stats().sealedFrames);
      expect(text).toContain(`cometbft_p2p_crypto_threads{state="configured"} ${threads}`);
    });
  }

  it('a port in use fails start naming the key, and writes no address book', async () => {
    const a = makeNode({});
    await a.start();
    const port = a.sw.netAddress().port;
    const b = makeNode({ 'p2p.laddr': `tcp://127.0.0.1:${port}` });
    const err = await b.start().then(
      () => undefined,
      (e: Error) => e,
    );
    expect(err).toBeInstanceOf(ErrConfigInvalid);
    expect(err!.message).toMatch(new RegExp(`p2p\\.laddr = "tcp://127\\.0\\.0\\.1:${port}" is invalid: expected an address this node can listen on \\(address already in use\\)`));
    expect(existsSync(b.config.p2p.addrBookFile)).toBe(false);
    expect(b.rpcAddress()).toBeUndefined();
    const rpcPort = a.rpcAddress()!.port;
    const c = makeNode({ 'rpc.laddr': `tcp://127.0.0.1:${rpcPort}` });
    await expect(c.start()).rejects.toThrow(/rpc\.laddr = .*address already in use/);
  });

  it.each([
    ['a CometBFT address book', (path: string) => copyFileSync('../shared/vectors/cometbft/go-generated-addrbook-with-old.json', path)],
    ['a corrupt address book', (path: string) => writeFileSync(path, '{"key": "01')],
    ['no address book', (_path: string) => undefined],
  ])('a start that fails after loading %s (p2p port taken) leaves the home byte-identical', async (_name, prepare) => {
    const a = makeNode({});
    await a.start();
    const port = a.sw.netAddress().port;
    const home = mkdtempSync(join(tmpdir(), 'sy-node-'));
    homes.push(home);
    initHome(home, { 'p2p.addr_book_strict': false });
    const config = loadConfig(home, { 'p2p.laddr': `tcp://127.0.0.1:${port}`, 'rpc.laddr': 'tcp://127.0.0.1:0' });
    prepare(config.p2p.addrBookFile);
    const before = snapshotTree(home);
    // A transport of our own skips the Node's early port probe: the failure comes from the Switch's
    // listen, after the address book was loaded.
    const node = new Node({ transport: new TcpTransport({}, { host: '127.0.0.1', port }) }, { config, nodeKey: NodeKey.load(config.nodeKeyFile) });
    await expect(node.start()).rejects.toThrow(/p2p\.laddr = .*address already in use/);
    expect(node.isRunning).toBe(false);
    expect(snapshotTree(home)).toEqual(before);
    await node.stop();
    expect(snapshotTree(home)).toEqual(before);
  });

  it('ban_address then unban_address over RPC: the operator refusal and the book ban are both lifted, and saved', async () => {
    const a = makeNode({ moniker: 'node-a' });
    await a.start();
    const target = new NetAddress('c'.repeat(40), '127.0.0.1', 40001);
    const ban = await rpc(a, 'ban_address', { address: target.toString(), duration: '24h' });
    expect(ban.result.address).toBe(target.toString());
    expect(a.bans.isBanned(target.id)).toBe(true);
    expect(a.addrBook.isBanned(target)).toBe(true);
    expect(() => a.addrBook.addAddress(target, target)).toThrow(/banned/);

    expect((await rpc(a, 'unban_address', { address: target.toString() })).result).toEqual({});
    expect(a.bans.isBanned(target.id)).toBe(false);
    expect(a.addrBook.isBanned(target)).toBe(false);
    // Back in a new bucket right away, not after the 24 h ban would have run out.
    expect(a.addrBook.hasAddress(target)).toBe(true);
    expect(a.addrBook.isGood(target)).toBe(false);
    // Unbanning what is not banned is harmless.
    expect((await rpc(a, 'unban_address', { address: target.toString() })).result).toEqual({});

    await a.stop();
    const saved = JSON.parse(readFileSync(a.config.p2p.addrBookFile, 'utf8')) as { addrs: Array<{ addr: { id: string } }>; banned?: unknown[] };
    expect(saved.banned).toBeUndefined();
    expect(saved.addrs.map((e) => e.addr.id)).toContain(target.id);
  });

  it('unresolvable seeds with an empty book fail start and leave no address book file', async () => {
    const a = makeNode(
      { 'p2p.seeds': `${'a'.repeat(40)}@seed.invalid:26656` },
      { lookup: () => Promise.reject(new Error('no such host')) },
    );
    await expect(a.start()).rejects.toThrow(/none of the 1 seeds could be resolved/);
    expect(existsSync(a.config.p2p.addrBookFile)).toBe(false);
    expect(a.isRunning).toBe(false);
    await a.stop();
  });
});

/** Every file under `dir` (relative path -> bytes as latin1) and every directory, for byte-identical checks. */
function snapshotTree(dir: string, prefix = ''): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of readdirSync(join(dir, prefix)).sort()) {
    const rel = prefix === '' ? name : `${prefix}/${name}`;
    if (statSync(join(dir, rel)).isDirectory()) {
      out[`${rel}/`] = '';
      Object.assign(out, snapshotTree(dir, rel));
    } else out[rel] = readFileSync(join(dir, rel), 'latin1');
  }
  return out;
}
