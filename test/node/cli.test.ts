/**
 * The `switchyard` CLI end to end, as child processes on 127.0.0.1. Runs the compiled CLI
 * (dist/node/cli/main.js): `npm ci` and `npm run build` produce it.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { renderConfigToml, type ConfigValues } from '../../node/config-template.js';

const CLI = join(process.cwd(), 'dist', 'node', 'cli', 'main.js');

beforeAll(() => {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run "npm run build" first (npm ci does it)`);
});

const homes: string[] = [];
const children: ChildProcess[] = [];
afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  for (const h of homes.splice(0)) rmSync(h, { recursive: true, force: true });
});

function tempHome(): string {
  const h = mkdtempSync(join(tmpdir(), 'sy-cli-'));
  homes.push(h);
  return join(h, 'home');
}

function writeHomeConfig(home: string, values: ConfigValues): void {
  mkdirSync(join(home, 'config'), { recursive: true });
  writeFileSync(join(home, 'config', 'config.toml'), renderConfigToml({ moniker: 'test', ...values }));
}

function writeRawConfig(home: string, text: string): void {
  mkdirSync(join(home, 'config'), { recursive: true });
  writeFileSync(join(home, 'config', 'config.toml'), text);
}

function run(args: string[], env: NodeJS.ProcessEnv = {}): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', env: { ...process.env, ...env }, timeout: 20_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

interface Running {
  proc: ChildProcess;
  id: string;
  p2p: string;
  rpcPort: number;
  lines: Array<Record<string, unknown>>;
  exited: Promise<number | null>;
}

/** Starts `switchyard start` with JSON logs; resolves once the node logged that it started. */
function startNode(home: string, flags: string[] = []): Promise<Running> {
  const proc = spawn(
    process.execPath,
    [CLI, 'start', '--home', home, '--log_format', 'json', '--p2p.laddr', 'tcp://127.0.0.1:0', '--rpc.laddr', 'tcp://127.0.0.1:0', ...flags],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  children.push(proc);
  const lines: Array<Record<string, unknown>> = [];
  let stderr = '';
  const exited = new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    let buf = '';
    const timer = setTimeout(() => reject(new Error(`node did not start in time; stderr: ${stderr}`)), 20_000);
    proc.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
    proc.stdout!.on('data', (c: Buffer) => {
      buf += c.toString();
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        let entry: Record<string, unknown>;
        try {
          entry = JSON.parse(line) as Record<string, unknown>;
        } catch {
          continue;
        }
        lines.push(entry);
        if (entry.msg === 'node started') {
          clearTimeout(timer);
          resolve({ proc, id: entry.id as string, p2p: entry.p2p as string, rpcPort: Number(String(entry.rpc).split(':').pop()), lines, exited });
        }
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`node exited with ${code} before starting; stderr: ${stderr}`));
    });
  });
}

function rpcGet(port: number, path: string): Promise<any> {
  return new Promise((resolve, reject) => {
    request({ host: '127.0.0.1', port, path }, (res) => {
      let text = '';
      res.on('data', (c: Buffer) => (text += c.toString()));
      res.on('end', () => resolve(JSON.parse(text)));
    })
      .on('error', reject)
      .end();
  });
}

async function waitFor(pred: () => Promise<boolean>, what: string, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await pred()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}

const peerIds = async (n: Running): Promise<string[]> => (await rpcGet(n.rpcPort, '/net_info')).result.peers.map((p: any) => p.node_info.id);

/** Every file under `dir` with its size, mtime and content hash: "nothing on disk changed" checks. */
function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  if (!existsSync(dir)) return out;
  const walk = (d: string): void => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      const st = statSync(p);
      if (st.isDirectory()) {
        out[p] = 'dir';
        walk(p);
      } else out[p] = `${st.size}:${st.mtimeMs}:${readFileSync(p).toString('base64')}`;
    }
  };
  walk(dir);
  return out;
}

describe('switchyard CLI', () => {
  it('version and help', () => {
    const v = run(['version']);
    expect(v.code).toBe(0);
    expect(v.stdout.trim()).toBe(JSON.parse(readFileSync('package.json', 'utf8')).version);
    const h = run(['help', 'start']);
    expect(h.code).toBe(0);
    expect(h.stdout).toContain('--p2p.persistent_peers');
    expect(run([]).stdout).toContain('Commands:');
  });

  it('init writes config.toml and node_key.json once, never overwriting; show-node-id reads the key', () => {
    const home = tempHome();
    const first = run(['init', '--home', home, '--moniker', 'alpha']);
    expect(first.code).toBe(0);
    const key = readFileSync(join(home, 'config', 'node_key.json'), 'utf8');
    expect(key).toMatch(/^\{"priv_key":\{"type":"tendermint\/PrivKeyEd25519","value":"[A-Za-z0-9+/]{86}=="\}\}$/);
    expect(statSync(join(home, 'config', 'node_key.json')).mode & 0o777).toBe(0o600);
    expect(readFileSync(join(home, 'config', 'config.toml'), 'utf8')).toContain('moniker = "alpha"');
    const before = snapshot(home);
    const second = run(['init', '--home', home, '--moniker', 'beta']);
    expect(second.code).toBe(0);
    expect(second.stdout).toContain('kept existing');
    expect(snapshot(home)).toEqual(before);
    const id = run(['show-node-id', '--home', home]);
    expect(id.code).toBe(0);
    expect(id.stdout.trim()).toMatch(/^[0-9a-f]{40}$/);
    expect(first.stdout).toContain(id.stdout.trim());
  });

  it('uses SWITCHYARD_HOME when --home is not given', () => {
    const home = tempHome();
    expect(run(['init'], { SWITCHYARD_HOME: home }).code).toBe(0);
    expect(existsSync(join(home, 'config', 'node_key.json'))).toBe(true);
  });

  it('start initialises a missing home; two nodes connect via persistent_peers; SIGTERM saves the book and exits 0', async () => {
    const homeA = tempHome();
    const a = await startNode(homeA, ['--moniker', 'cli-a']);
    expect(existsSync(join(homeA, 'config', 'config.toml'))).toBe(true);
    const homeB = tempHome();
    writeHomeConfig(homeB, { moniker: 'cli-b', 'p2p.addr_book_strict': false });
    const b = await startNode(homeB, ['--p2p.persistent_peers', a.p2p]);
    await waitFor(async () => (await peerIds(a)).includes(b.id) && (await peerIds(b)).includes(a.id), 'a and b connected');
    const status = await rpcGet(b.rpcPort, '/status');
    expect(status.result.node_info.id).toBe(b.id);
    expect(status.result.node_info.moniker).toBe('cli-b');

    b.proc.kill('SIGTERM');
    expect(await b.exited).toBe(0);
    const book = JSON.parse(readFileSync(join(homeB, 'config', 'addrbook.json'), 'utf8'));
    expect(book.addrs.map((e: any) => e.addr.id)).toContain(a.id);
    a.proc.kill('SIGINT');
    expect(await a.exited).toBe(0);
  });

  it('a seed-mode node serves addresses: two nodes that only know the seed find each other', async () => {
    const pexValues: ConfigValues = { 'p2p.addr_book_strict': false, 'p2p.allow_duplicate_ip': true, 'pex.ensure_peers_period': '1s' };
    const homeS = tempHome();
    writeHomeConfig(homeS, { ...pexValues, moniker: 'seed', 'p2p.seed_mode': true });
    const seed = await startNode(homeS);
    const homeA = tempHome();
    writeHomeConfig(homeA, { ...pexValues, moniker: 'a', 'p2p.seeds': seed.p2p });
    const a = await startNode(homeA);
    const homeB = tempHome();
    writeHomeConfig(homeB, { ...pexValues, moniker: 'b', 'p2p.seeds': seed.p2p });
    const b = await startNode(homeB);
    await waitFor(async () => (await peerIds(a)).includes(b.id) || (await peerIds(b)).includes(a.id), 'a and b found each other through the seed', 25_000);
    for (const n of [a, b, seed]) n.proc.kill('SIGTERM');
    for (const n of [a, b, seed]) expect(await n.exited).toBe(0);
    const seedBook = JSON.parse(readFileSync(join(homeS, 'config', 'addrbook.json'), 'utf8'));
    expect(seedBook.addrs.map((e: any) => e.addr.id).sort()).toEqual([a.id, b.id].sort());
  });
});

describe('npm run demo (dist/node/demo.js)', () => {
  it('a seed and nodes on 127.0.0.1 fill in the peer graph and exit 0', () => {
    const r = spawnSync(process.execPath, [join(process.cwd(), 'dist', 'node', 'demo.js'), '--nodes', '4', '--target', '2', '--timeout', '30'], { encoding: 'utf8', timeout: 40_000 });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/started 4 nodes that know only the seed/);
    expect(r.stdout).toMatch(/every node has at least 2 peers/);
  });

  it('rejects a bad option with exit 2', () => {
    const r = spawnSync(process.execPath, [join(process.cwd(), 'dist', 'node', 'demo.js'), '--nodes', '1'], { encoding: 'utf8' });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/--nodes must be an integer from 2 to 50/);
  });
});

describe('switchyard CLI: bad configuration exits non-zero with one message and changes nothing', () => {
  const ID = 'a'.repeat(40);
  const cases: Array<{ name: string; setup: (home: string) => void; flags?: string[]; message: RegExp }> = [
    { name: 'unknown key', setup: (h) => writeRawConfig(h, '[p2p]\nmax_peers = 3\n'), message: /unknown key p2p\.max_peers: expected one of p2p\.laddr/ },
    { name: 'wrong type', setup: (h) => writeHomeConfig(h, { 'p2p.max_num_inbound_peers': 'forty' as unknown as number }), message: /p2p\.max_num_inbound_peers = "forty" is invalid: expected a non-negative integer/ },
    { name: 'negative rate', setup: (h) => writeHomeConfig(h, { 'p2p.send_rate': -1 }), message: /p2p\.send_rate = -1 is invalid: expected a non-negative integer/ },
    { name: 'unparsable peer address in the file', setup: (h) => writeHomeConfig(h, { 'p2p.persistent_peers': 'nobody@somewhere' }), message: /p2p\.persistent_peers = "nobody@somewhere" is invalid: expected a comma-separated list of id@host:port/ },
    { name: 'unparsable peer address in a flag', setup: (h) => writeHomeConfig(h, {}), flags: ['--p2p.seeds', `${ID}@1.2.3.4`], message: /--p2p\.seeds = .* is invalid/ },
    { name: 'bad duration', setup: (h) => writeHomeConfig(h, { 'p2p.flush_throttle_timeout': '100' }), message: /p2p\.flush_throttle_timeout = "100" is invalid: expected a duration/ },
    { name: 'bad log format flag', setup: (h) => writeHomeConfig(h, {}), flags: ['--log_format', 'xml'], message: /--log_format = "xml" is invalid: expected "plain" or "json"/ },
    { name: 'malformed key file', setup: (h) => { writeHomeConfig(h, {}); writeFileSync(join(h, 'config', 'node_key.json'), '{"priv_key":{}}'); }, message: /node key file .*node_key\.json is malformed/ },
    { name: 'unreadable key file', setup: (h) => { writeHomeConfig(h, {}); mkdirSync(join(h, 'config', 'node_key.json')); }, message: /cannot read node key file .*node_key\.json/ },
    { name: 'TOML syntax error', setup: (h) => writeRawConfig(h, '[p2p\n'), message: /config\.toml:1: not valid TOML/ },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const home = tempHome();
      c.setup(home);
      const before = snapshot(home);
      const r = run(['start', '--home', home, ...(c.flags ?? [])]);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(c.message);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stdout).toBe('');
      expect(snapshot(home)).toEqual(before);
    });
  }

  it('a bad flag on a missing home creates nothing', () => {
    const home = tempHome();
    const r = run(['start', '--home', home, '--p2p.pex=maybe']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/--p2p\.pex = "maybe" is invalid: expected true or false/);
    expect(existsSync(home)).toBe(false);
  });

  it('an unknown flag is a usage error (exit 2)', () => {
    const r = run(['start', '--home', tempHome(), '--p2p.sedes', 'x']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^switchyard: start: unknown flag --p2p\.sedes\. Flags: --home, /);
  });

  it('a port in use exits 1 naming the key, and leaves the home as it was', async () => {
    const server: Server = createServer();
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const port = (server.address() as { port: number }).port;
    try {
      const home = tempHome();
      writeHomeConfig(home, {});
      const initRun = run(['init', '--home', home]);
      expect(initRun.code, initRun.stderr).toBe(0);
      const before = snapshot(home);
      const r = run(['start', '--home', home, '--p2p.laddr', `tcp://127.0.0.1:${port}`, '--rpc.laddr', '']);
      expect(r.code, r.stderr).toBe(1);
      expect(r.stderr).toMatch(new RegExp(`p2p\\.laddr = "tcp://127\\.0\\.0\\.1:${port}" is invalid: expected an address this node can listen on \\(address already in use\\)`));
      expect(Object.keys(snapshot(home))).toEqual(Object.keys(before));
      expect(snapshot(home)).toEqual(before);
      const r2 = run(['start', '--home', home, '--rpc.laddr', `tcp://127.0.0.1:${port}`, '--p2p.laddr', 'tcp://127.0.0.1:0']);
      expect(r2.code, r2.stderr).toBe(1);
      expect(r2.stderr).toMatch(/rpc\.laddr = .*address already in use/);
      expect(Object.keys(snapshot(home))).toEqual(Object.keys(before));
      expect(snapshot(home)).toEqual(before);
    } finally {
      server.close();
    }
  });
});
