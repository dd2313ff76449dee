import { mkdtempSync, mkdirSync, readdirSync, rmSync, writeFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse as parseToml } from 'smol-toml';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CONFIG_KEYS, dottedKey } from '../../node/config-schema.js';
import { renderConfigToml } from '../../node/config-template.js';
import { ErrConfigInvalid, ErrConfigUnknownKey, ErrConfigUnreadable } from '../../node/errors.js';
import { configFilePath, loadConfig, type ConfigFlags } from '../../node/load-config.js';

const ID = 'a'.repeat(40);
const ID2 = '0123456789abcdef0123456789abcdef01234567';

let home: string;
beforeEach(() => {
  home = mkdtempSync(join(tmpdir(), 'sy-config-'));
  mkdirSync(join(home, 'config'));
});
afterEach(() => rmSync(home, { recursive: true, force: true }));

function writeConfig(text: string): void {
  writeFileSync(configFilePath(home), text);
}

/** Runs loadConfig and returns the error it throws (failing the test if it does not). */
function loadError(flags: ConfigFlags = {}): Error {
  try {
    loadConfig(home, flags);
  } catch (err) {
    return err as Error;
  }
  throw new Error('loadConfig accepted a bad configuration');
}

describe('template and defaults', () => {
  it('contains every [p2p] key CometBFT has (v0.37+), with CometBFT defaults', () => {
    const doc = parseToml(renderConfigToml(), { integersAsBigInt: false }) as Record<string, Record<string, unknown>>;
    expect(doc.p2p).toEqual({
      laddr: 'tcp://0.0.0.0:26656',
      external_address: '',
      seeds: '',
      persistent_peers: '',
      addr_book_file: 'config/addrbook.json',
      addr_book_strict: true,
      max_num_inbound_peers: 40,
      max_num_outbound_peers: 10,
      unconditional_peer_ids: '',
      persistent_peers_max_dial_period: '0s',
      flush_throttle_timeout: '100ms',
      max_packet_msg_payload_size: 1024,
      send_rate: 5120000,
      recv_rate: 5120000,
      pex: true,
      seed_mode: false,
      private_peer_ids: '',
      allow_duplicate_ip: false,
      crypto_threads: 'auto', // Switchyard's own key
      handshake_timeout: '20s',
      dial_timeout: '3s',
    });
    expect(doc.rpc).toEqual({ laddr: 'tcp://127.0.0.1:26657', unsafe: false, max_open_connections: 900, max_body_bytes: 1000000 });
    expect(doc.instrumentation).toEqual({ prometheus: false, prometheus_listen_addr: ':26660', max_open_connections: 3, namespace: 'cometbft' });
  });

  it('comments every key', () => {
    const text = renderConfigToml();
    for (const def of CONFIG_KEYS) {
      const line = text.split('\n').findIndex((l) => l.startsWith(`${def.name} = `));
      expect(line, def.name).toBeGreaterThan(0);
      expect(text.split('\n')[line - 1].startsWith('# '), def.name).toBe(true);
    }
  });

  it('loads defaults when there is no config file, and the rendered template gives the same', () => {
    const a = loadConfig(home);
    expect(a.configFileFound).toBe(false);
    writeConfig(renderConfigToml({ moniker: a.moniker }));
    const b = loadConfig(home);
    expect(b.configFileFound).toBe(true);
    expect({ ...b, configFileFound: false }).toEqual(a);
    expect(a.p2p.listen).toEqual({ host: '0.0.0.0', port: 26656 });
    expect(a.p2p.flushThrottleTimeoutMs).toBe(100);
    expect(a.p2p.handshakeTimeoutMs).toBe(20_000);
    expect(a.p2p.addrBookFile).toBe(join(home, 'config', 'addrbook.json'));
    expect(a.nodeKeyFile).toBe(join(home, 'config', 'node_key.json'));
    expect(a.rpc.listen).toEqual({ host: '127.0.0.1', port: 26657 });
    expect(a.instrumentation.prometheusListen).toEqual({ host: '', port: 26660 });
    expect(a.pex).toEqual({
      ensurePeersPeriodMs: 30_000,
      banTimeMs: 86_400_000,
      maxDialAttempts: 16,
      crawlPeriodMs: 30_000,
      minTimeBetweenCrawlsMs: 120_000,
      seedDisconnectWaitPeriodMs: 28 * 3_600_000,
      maxConcurrentCrawlDials: 16,
      addrBookSavePeriodMs: 120_000,
    });
    expect(a.network).toBe('switchyard-local');
    expect(a.networkSource).toBe('config');
    expect(a.logFormat).toBe('plain');
    expect(a.logLevel.defaultLevel).toBe('info');
    expect(a.moniker.length).toBeGreaterThan(0);
  });

  it('round-trips custom values through the template', () => {
    writeConfig(
      renderConfigToml({
        moniker: 'my "node"',
        'p2p.seeds': `${ID}@1.2.3.4:26656, ${ID2}@seed.example.com:26656`,
        'p2p.persistent_peers': `tcp://${ID}@[::1]:26656`,
        'p2p.send_rate': 0,
        'p2p.persistent_peers_max_dial_period': '1h30m',
        'p2p.unconditional_peer_ids': ID2.toUpperCase(),
        'rpc.laddr': '',
        log_level: 'p2p:debug,*:error',
      }),
    );
    const c = loadConfig(home);
    expect(c.moniker).toBe('my "node"');
    expect(c.p2p.seeds).toEqual([`${ID}@1.2.3.4:26656`, `${ID2}@seed.example.com:26656`]);
    expect(c.p2p.persistentPeers).toEqual([`tcp://${ID}@[::1]:26656`]);
    expect(c.p2p.sendRate).toBe(0);
    expect(c.p2p.persistentPeersMaxDialPeriodMs).toBe(5_400_000);
    expect(c.p2p.unconditionalPeerIds).toEqual([ID2]);
    expect(c.rpc.listen).toBeUndefined();
    expect(c.rpc.laddr).toBe('');
    expect(c.logLevel.defaultLevel).toBe('error');
    expect(c.logLevel.modules.get('p2p')).toBe('debug');
  });

  it('refuses to render a key that is not in the schema', () => {
    expect(() => renderConfigToml({ 'p2p.nope': 1 })).toThrow(/unknown key p2p.nope/);
  });
});

describe('bad configuration files: one error naming the key and the accepted form', () => {
  const cases: Array<[string, string, RegExp]> = [
    ['unknown top-level key', 'monicker = "x"\n', /unknown key monicker/],
    ['unknown [p2p] key', '[p2p]\nladdr = "tcp://0.0.0.0:1"\nmax_peers = 3\n', /unknown key p2p\.max_peers: expected one of p2p\.laddr/],
    ['unknown section', '[consensus]\ntimeout_commit = "1s"\n', /unknown key consensus/],
    ['section written as a value', 'p2p = 3\n', /p2p = 3 is invalid: expected a \[p2p\] table/],
    ['string for an integer', '[p2p]\nsend_rate = "5120000"\n', /p2p\.send_rate = "5120000" is invalid: expected a non-negative integer \(a TOML integer\)/],
    ['float for an integer', '[p2p]\nmax_num_inbound_peers = 40.0\n', /p2p\.max_num_inbound_peers = 40 is invalid: expected a non-negative integer/],
    ['negative rate', '[p2p]\nrecv_rate = -1\n', /p2p\.recv_rate = -1 is invalid: expected a non-negative integer \(negative\)/],
    ['negative peer maximum', '[p2p]\nmax_num_outbound_peers = -5\n', /p2p\.max_num_outbound_peers = -5 is invalid/],
    ['zero payload size', '[p2p]\nmax_packet_msg_payload_size = 0\n', /p2p\.max_packet_msg_payload_size = 0 is invalid: expected a positive integer/],
    ['integer for a bool', '[p2p]\npex = 1\n', /p2p\.pex = 1 is invalid: expected true or false/],
    ['string for a bool', '[rpc]\nunsafe = "true"\n', /rpc\.unsafe = "true" is invalid: expected true or false/],
    ['integer for a string', 'moniker = 5\n', /moniker = 5 is invalid/],
    ['huge integer', '[p2p]\nsend_rate = 9223372036854775807\n', /p2p\.send_rate = 9223372036854775807 is invalid/],
    ['duration without unit', '[p2p]\nflush_throttle_timeout = "100"\n', /p2p\.flush_throttle_timeout = "100" is invalid: expected a duration such as "100ms".*missing unit/],
    ['negative duration', '[p2p]\npersistent_peers_max_dial_period = "-1s"\n', /persistent_peers_max_dial_period = "-1s" is invalid: .*negative/],
    ['garbage duration', '[pex]\nensure_peers_period = "soon"\n', /pex\.ensure_peers_period = "soon" is invalid/],
    ['duration as integer', '[p2p]\ndial_timeout = 3\n', /p2p\.dial_timeout = 3 is invalid: expected a duration.*\(a TOML string\)/],
    ['peer without id', '[p2p]\nseeds = "1.2.3.4:26656"\n', /p2p\.seeds = "1\.2\.3\.4:26656" is invalid: expected a comma-separated list of id@host:port.*exactly one "@"/],
    ['peer with short id', '[p2p]\npersistent_peers = "abcd@1.2.3.4:26656"\n', /p2p\.persistent_peers = .* is invalid: .*20 bytes/],
    ['peer with a bad port', `[p2p]\npersistent_peers = "${ID}@1.2.3.4:70000"\n`, /p2p\.persistent_peers = .* is invalid: .*is not host:port/],
    ['peer without port', `[p2p]\nseeds = "${ID}@1.2.3.4"\n`, /p2p\.seeds = .* is invalid/],
    ['second peer bad', `[p2p]\nseeds = "${ID}@1.2.3.4:1,${ID}@:2"\n`, /p2p\.seeds = .* is invalid: .*empty host/],
    ['bad id list', '[p2p]\nprivate_peer_ids = "xyz"\n', /p2p\.private_peer_ids = "xyz" is invalid: expected a comma-separated list of node IDs/],
    ['bad listen address', '[p2p]\nladdr = "0.0.0.0"\n', /p2p\.laddr = "0\.0\.0\.0" is invalid: expected an address such as "tcp:\/\/0\.0\.0\.0:26656"/],
    ['udp listen address', '[p2p]\nladdr = "udp://0.0.0.0:1"\n', /p2p\.laddr = .* is invalid/],
    ['bad external address', '[p2p]\nexternal_address = "myhost"\n', /p2p\.external_address = "myhost" is invalid: expected host:port/],
    ['empty moniker', 'moniker = ""\n', /moniker = "" is invalid: expected a non-empty name/],
    ['non-ASCII moniker', 'moniker = "nœud"\n', /moniker = "nœud" is invalid/],
    ['bad log level', 'log_level = "loud"\n', /log_level = "loud" is invalid: expected a level \(trace, debug, info, warn, error, none\).*unknown level "loud"/],
    ['bad module log level', 'log_level = "p2p:verbose,*:info"\n', /log_level = .* is invalid: .*unknown level "verbose" for module "p2p"/],
    ['bad log format', 'log_format = "xml"\n', /log_format = "xml" is invalid: expected "plain" or "json"/],
    ['bad namespace', '[instrumentation]\nnamespace = "my-app"\n', /instrumentation\.namespace = "my-app" is invalid: expected a Prometheus name/],
    ['network with spaces', 'network = "my net"\n', /network = "my net" is invalid/],
    ['empty path', 'node_key_file = ""\n', /node_key_file = "" is invalid: expected a non-empty file path/],
    ['zero period', '[pex]\nensure_peers_period = "0s"\n', /pex\.ensure_peers_period = "0s" is invalid: expected a duration .*more than zero.*\(zero\)/],
    ['zero dial attempts', '[pex]\nmax_dial_attempts = 0\n', /pex\.max_dial_attempts = 0 is invalid: expected a positive integer/],
    ['seed mode without pex', '[p2p]\npex = false\nseed_mode = true\n', /p2p\.seed_mode = true is invalid: expected seed mode only with p2p\.pex = true/],
    ['too many crypto threads', '[p2p]\ncrypto_threads = 65\n', /p2p\.crypto_threads = 65 is invalid: expected "auto" or a number of threads from 0 to 64/],
    ['negative crypto threads', '[p2p]\ncrypto_threads = -1\n', /p2p\.crypto_threads = -1 is invalid/],
    ['crypto threads as a word', '[p2p]\ncrypto_threads = "many"\n', /p2p\.crypto_threads = "many" is invalid: expected "auto" or a number/],
    ['crypto threads as a bool', '[p2p]\ncrypto_threads = true\n', /p2p\.crypto_threads = true is invalid: .*\(a TOML string or integer\)/],
  ];
  for (const [name, text, message] of cases) {
    it(name, () => {
      writeConfig(text);
      const err = loadError();
      expect(err).toBeInstanceOf(err instanceof ErrConfigUnknownKey ? ErrConfigUnknownKey : ErrConfigInvalid);
      expect(err.message).toMatch(message);
      expect(err.message).toContain(configFilePath(home).split('/').pop()!);
      expect(err.message.split('\n')).toHaveLength(1);
    });
  }

  it('p2p.crypto_threads takes "auto", an integer or a numeric string, from the file or a flag', () => {
    writeConfig('');
    expect(loadConfig(home, {}).p2p.cryptoThreads).toBe('auto');
    writeConfig('[p2p]\ncrypto_threads = 2\n');
    expect(loadConfig(home, {}).p2p.cryptoThreads).toBe(2);
    writeConfig('[p2p]\ncrypto_threads = "0"\n');
    expect(loadConfig(home, {}).p2p.cryptoThreads).toBe(0);
    expect(loadConfig(home, { 'p2p.crypto_threads': '3' }).p2p.cryptoThreads).toBe(3);
    expect(() => loadConfig(home, { 'p2p.crypto_threads': '1.5' })).toThrow(/--p2p\.crypto_threads = "1\.5" is invalid/);
  });

  it('reports a TOML syntax error with file and line', () => {
    writeConfig('moniker = "a"\n[p2p\nladdr = 1\n');
    const err = loadError();
    expect(err).toBeInstanceOf(ErrConfigUnreadable);
    expect((err as ErrConfigUnreadable).line).toBe(2);
    expect(err.message).toMatch(/config\.toml:2: not valid TOML/);
  });

  it('reports an unreadable config file', () => {
    mkdirSync(configFilePath(home)); // a directory where the file should be
    expect(loadError()).toBeInstanceOf(ErrConfigUnreadable);
  });

  it('changes nothing on disk, valid or not', () => {
    writeConfig('[p2p]\nsend_rate = -1\n');
    const before = readdirSync(join(home, 'config')).map((f) => [f, statSync(join(home, 'config', f)).mtimeMs]);
    loadError();
    expect(() => loadConfig(join(home, 'nowhere'))).not.toThrow();
    expect(readdirSync(join(home, 'config')).map((f) => [f, statSync(join(home, 'config', f)).mtimeMs])).toEqual(before);
    expect(readdirSync(home)).toEqual(['config']);
  });

  it('schema covers every key exactly once', () => {
    const keys = CONFIG_KEYS.map(dottedKey);
    expect(new Set(keys).size).toBe(keys.length);
  });
});

describe('override flags', () => {
  it('override the file', () => {
    writeConfig(renderConfigToml({ moniker: 'file', 'p2p.pex': true, 'p2p.laddr': 'tcp://0.0.0.0:1' }));
    const c = loadConfig(home, {
      moniker: 'flag',
      'p2p.laddr': 'tcp://127.0.0.1:0',
      'p2p.pex': 'false',
      'p2p.seeds': `${ID}@127.0.0.1:5`,
      'p2p.seed_mode': false,
      'rpc.laddr': 'tcp://127.0.0.1:0',
      'rpc.unsafe': true,
      log_format: 'json',
      log_level: 'pex:debug',
    });
    expect(c.moniker).toBe('flag');
    expect(c.p2p.laddr).toBe('tcp://127.0.0.1:0');
    expect(c.p2p.listen).toEqual({ host: '127.0.0.1', port: 0 });
    expect(c.p2p.pex).toBe(false);
    expect(c.p2p.seeds).toEqual([`${ID}@127.0.0.1:5`]);
    expect(c.rpc.unsafe).toBe(true);
    expect(c.logFormat).toBe('json');
    expect(c.logLevel.modules.get('pex')).toBe('debug');
  });

  const bad: Array<[ConfigFlags, RegExp]> = [
    [{ 'p2p.seeds': 'nope' }, /^--p2p\.seeds = "nope" is invalid: expected a comma-separated list of id@host:port/],
    [{ 'p2p.persistent_peers': `${ID}@1.2.3.4:99999` }, /^--p2p\.persistent_peers = .* is invalid/],
    [{ 'p2p.pex': 'yes' }, /^--p2p\.pex = "yes" is invalid: expected true or false/],
    [{ 'p2p.seed_mode': 'maybe' }, /^--p2p\.seed_mode = "maybe" is invalid/],
    [{ 'p2p.laddr': 'localhost' }, /^--p2p\.laddr = "localhost" is invalid/],
    [{ 'p2p.external_address': 'x' }, /^--p2p\.external_address = "x" is invalid/],
    [{ 'p2p.private_peer_ids': 'zz' }, /^--p2p\.private_peer_ids = "zz" is invalid/],
    [{ 'p2p.unconditional_peer_ids': `${ID},1` }, /^--p2p\.unconditional_peer_ids = .* is invalid/],
    [{ 'rpc.laddr': 'tcp://1.2.3.4' }, /^--rpc\.laddr = .* is invalid/],
    [{ log_format: 'yaml' }, /^--log_format = "yaml" is invalid: expected "plain" or "json"/],
    [{ log_level: 'p2p' }, /^--log_level = "p2p" is invalid/],
    [{ moniker: '' }, /^--moniker = "" is invalid/],
    [{ network: '' }, /^--network = "" is invalid/],
    [{ 'p2p.pex': 'false', 'p2p.seed_mode': 'true' }, /^--p2p\.seed_mode = true is invalid: expected seed mode only with p2p\.pex = true/],
    [{ 'p2p.send_rate': '5' }, /^unknown key --p2p\.send_rate: expected one of --moniker/],
  ];
  for (const [flags, message] of bad) {
    it(`rejects ${JSON.stringify(flags)}`, () => {
      expect(loadError(flags).message).toMatch(message);
    });
  }

  it('checks flags before the file, and without a file', () => {
    writeConfig('[p2p]\nsend_rate = -1\n');
    expect(loadError({ bogus: 'x' })).toBeInstanceOf(ErrConfigUnknownKey);
    rmSync(configFilePath(home));
    expect(loadError({ 'p2p.seeds': 'bad' })).toBeInstanceOf(ErrConfigInvalid);
  });
});

describe('network name', () => {
  it('comes from genesis.json chain_id when it exists', () => {
    writeFileSync(join(home, 'config', 'genesis.json'), JSON.stringify({ chain_id: 'cosmoshub-4', genesis_time: 'x' }));
    const c = loadConfig(home);
    expect(c.network).toBe('cosmoshub-4');
    expect(c.networkSource).toBe('genesis');
    expect(loadConfig(home, { network: 'cosmoshub-4' }).network).toBe('cosmoshub-4');
  });

  it('a --network flag that contradicts genesis is an error', () => {
    writeFileSync(join(home, 'config', 'genesis.json'), JSON.stringify({ chain_id: 'cosmoshub-4' }));
    expect(loadError({ network: 'osmosis-1' }).message).toMatch(/--network = "osmosis-1" is invalid: expected the chain_id of .*genesis\.json \("cosmoshub-4"\)/);
  });

  it('comes from the flag, then the config key, without genesis', () => {
    writeConfig('network = "from-file"\n');
    expect(loadConfig(home).network).toBe('from-file');
    const c = loadConfig(home, { network: 'from-flag' });
    expect(c.network).toBe('from-flag');
    expect(c.networkSource).toBe('flag');
  });

  it('honours genesis_file', () => {
    writeFileSync(join(home, 'g.json'), JSON.stringify({ chain_id: 'other-1' }));
    writeConfig('genesis_file = "g.json"\n');
    expect(loadConfig(home).network).toBe('other-1');
  });

  const badGenesis: Array<[string, string, RegExp]> = [
    ['not JSON', '{chain_id:', /genesis\.json: genesis_file = .* is invalid: expected a JSON document with a "chain_id" string/],
    ['no chain_id', '{"app_state":{}}', /genesis\.json: chain_id is invalid: expected a "chain_id" string/],
    ['numeric chain_id', '{"chain_id":5}', /chain_id = 5 is invalid/],
    ['too long chain_id', JSON.stringify({ chain_id: 'x'.repeat(51) }), /chain_id = .* is invalid: expected a network name of 1-50/],
  ];
  for (const [name, text, message] of badGenesis) {
    it(`rejects a genesis file with ${name}`, () => {
      writeFileSync(join(home, 'config', 'genesis.json'), text);
      expect(loadError().message).toMatch(message);
    });
  }
});
