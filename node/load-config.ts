/**
 * Loads `<home>/config/config.toml`, applies CLI override flags, and validates everything
 * strictly: an unknown key, a wrong type, a negative number, a malformed duration or peer
 * address each throw one error naming the key (or flag) and the accepted form. Loading never
 * writes anything.
 */
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
import { parse as parseToml, TomlError } from 'smol-toml';
import { CONFIG_KEYS, OVERRIDE_FLAGS, SECTION_ORDER, dottedKey, type ConfigKeyDef, type ConfigKind } from './config-schema.js';
import { DURATION_FORM, parseDurationMs } from './duration.js';
import { ErrConfigInvalid, ErrConfigUnknownKey, ErrConfigUnreadable } from './errors.js';
import { networkNameProblem, readGenesisChainId } from './genesis.js';
import { LOG_LEVEL_FORM, parseLogLevel, type LogLevels } from './log-level.js';
import {
  HOST_PORT_FORM,
  LISTEN_ADDRESS_FORM,
  PEER_ADDRESS_FORM,
  parseListenAddress,
  peerAddressProblem,
  splitList,
  stripScheme,
  splitHostPort,
  type HostPort,
} from './address-syntax.js';
import { nodeIdProblem } from '../p2p/node-id.js';

export interface P2pConfig {
  /** As written, e.g. "tcp://0.0.0.0:26656". */
  laddr: string;
  listen: HostPort;
  /** "" when not set. */
  externalAddress: string;
  seeds: string[];
  persistentPeers: string[];
  /** Absolute path. */
  addrBookFile: string;
  addrBookStrict: boolean;
  maxNumInboundPeers: number;
  maxNumOutboundPeers: number;
  unconditionalPeerIds: string[];
  persistentPeersMaxDialPeriodMs: number;
  flushThrottleTimeoutMs: number;
  maxPacketMsgPayloadSize: number;
  sendRate: number;
  recvRate: number;
  /** Frame crypto worker threads: 'auto' or 0–64. */
  cryptoThreads: number | 'auto';
  pex: boolean;
  seedMode: boolean;
  privatePeerIds: string[];
  allowDuplicateIp: boolean;
  handshakeTimeoutMs: number;
  dialTimeoutMs: number;
}

export interface NodeConfig {
  home: string;
  configFile: string;
  /** Whether config.toml existed (false: every value is a default or a flag). */
  configFileFound: boolean;
  moniker: string;
  network: string;
  /** Where the network name came from. */
  networkSource: 'genesis' | 'flag' | 'config';
  logLevel: LogLevels;
  logFormat: 'plain' | 'json';
  nodeKeyFile: string;
  genesisFile: string;
  p2p: P2pConfig;
  pex: {
    ensurePeersPeriodMs: number;
    banTimeMs: number;
    maxDialAttempts: number;
    crawlPeriodMs: number;
    minTimeBetweenCrawlsMs: number;
    seedDisconnectWaitPeriodMs: number;
    maxConcurrentCrawlDials: number;
    addrBookSavePeriodMs: number;
  };
  rpc: { laddr: string; listen: HostPort | undefined; unsafe: boolean; maxOpenConnections: number; maxBodyBytes: number };
  /** No indexer runs; `indexer` only decides NodeInfo `other.tx_index` ("off" for "null", else "on"). */
  txIndex: { indexer: TxIndexer };
  instrumentation: { prometheus: boolean; prometheusListenAddr: string; prometheusListen: HostPort; maxOpenConnections: number; namespace: string };
}

/** CometBFT's `[tx_index] indexer` values. */
export const TX_INDEXERS = ['null', 'kv', 'psql'] as const;
export type TxIndexer = (typeof TX_INDEXERS)[number];

/** Override flags by name without "--" (`'p2p.seeds'`); strings as typed on the command line. */
export type ConfigFlags = Readonly<Record<string, string | boolean | undefined>>;

export function configFilePath(home: string): string {
  return join(home, 'config', 'config.toml');
}

/** CometBFT's default moniker is the host name; keep it to printable ASCII so peers accept it. */
export function defaultMoniker(): string {
  const name = hostname().replace(/[^\x21-\x7e]/g, '');
  return name.length > 0 ? name : 'switchyard';
}

const KIND_FORM: Record<ConfigKind, string> = {
  string: 'a string',
  path: 'a non-empty file path',
  bool: 'true or false',
  uint: 'a non-negative integer',
  'positive-int': 'a positive integer',
  duration: DURATION_FORM,
  'positive-duration': DURATION_FORM.replace('not negative', 'more than zero'),
  'peer-list': PEER_ADDRESS_FORM,
  'id-list': 'a comma-separated list of node IDs (40 hex characters each)',
  'listen-addr': LISTEN_ADDRESS_FORM,
  'listen-addr-or-empty': `${LISTEN_ADDRESS_FORM}, or "" to disable`,
  'host-port-or-empty': HOST_PORT_FORM,
  moniker: 'a non-empty name of printable ASCII characters',
  network: 'a network name of 1-50 printable ASCII characters without spaces',
  'log-level': LOG_LEVEL_FORM,
  'log-format': '"plain" or "json"',
  'tx-indexer': '"null", "kv" or "psql"',
  'metric-namespace': 'a Prometheus name: letters, digits and "_", not starting with a digit',
  'thread-count': '"auto" or a number of threads from 0 to 64',
};

/** TOML type the file must use for each kind. */
function tomlTypeOf(kind: ConfigKind): 'string' | 'boolean' | 'integer' | 'string or integer' {
  if (kind === 'bool') return 'boolean';
  if (kind === 'thread-count') return 'string or integer';
  if (kind === 'uint' || kind === 'positive-int') return 'integer';
  return 'string';
}

type Parsed = string | number | boolean | string[] | HostPort | LogLevels | undefined;

class ValueError extends Error {
  constructor(readonly detail?: string) {
    super(detail);
  }
}

/** Parses one value of `kind`; throws ValueError with an optional detail when it is unusable. */
function parseValue(kind: ConfigKind, value: string | number | boolean): Parsed {
  switch (kind) {
    case 'bool':
    case 'uint':
    case 'positive-int': {
      if (typeof value === 'boolean' || kind === 'bool') {
        if (typeof value !== 'boolean') throw new ValueError();
        return value;
      }
      if (typeof value !== 'number' || !Number.isSafeInteger(value)) throw new ValueError();
      if (value < 0) throw new ValueError('negative');
      if (kind === 'positive-int' && value === 0) throw new ValueError('zero');
      return value;
    }
    case 'thread-count': {
      if (value === 'auto') return value;
      const n = typeof value === 'string' && /^\d+$/.test(value.trim()) ? Number(value.trim()) : value;
      if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0 || n > 64) throw new ValueError();
      return n;
    }
    default:
      break;
  }
  if (typeof value !== 'string') throw new ValueError();
  switch (kind) {
    case 'string':
      return value;
    case 'path':
      if (value.trim() === '') throw new ValueError('empty');
      return value;
    case 'duration':
    case 'positive-duration': {
      const r = parseDurationMs(value);
      if ('problem' in r) throw new ValueError(r.problem);
      if (kind === 'positive-duration' && r.ms <= 0) throw new ValueError('zero');
      return r.ms;
    }
    case 'peer-list': {
      const list = splitList(value);
      for (const entry of list) {
        const problem = peerAddressProblem(entry);
        if (problem) throw new ValueError(problem);
      }
      return list;
    }
    case 'id-list': {
      const list = splitList(value);
      for (const id of list) {
        const problem = nodeIdProblem(id);
        if (problem) throw new ValueError(`"${id}": ${problem}`);
      }
      return list.map((id) => id.toLowerCase());
    }
    case 'listen-addr':
    case 'listen-addr-or-empty': {
      if (kind === 'listen-addr-or-empty' && value.trim() === '') return undefined;
      const hp = parseListenAddress(value);
      if (!hp) throw new ValueError();
      return hp;
    }
    case 'host-port-or-empty': {
      if (value.trim() === '') return '';
      const { scheme, rest } = stripScheme(value.trim());
      const hp = splitHostPort(rest);
      if ((scheme !== undefined && scheme !== 'tcp') || !hp || hp.host === '') throw new ValueError();
      return value.trim();
    }
    case 'moniker':
      if (value.length === 0 || !/^[\x20-\x7e]+$/.test(value) || value.trim() === '') throw new ValueError();
      return value;
    case 'network': {
      const problem = networkNameProblem(value);
      if (problem) throw new ValueError();
      return value;
    }
    case 'log-level': {
      const r = parseLogLevel(value);
      if ('problem' in r) throw new ValueError(r.problem);
      return r;
    }
    case 'log-format':
      if (value !== 'plain' && value !== 'json') throw new ValueError();
      return value;
    case 'tx-indexer':
      if (!(TX_INDEXERS as readonly string[]).includes(value)) throw new ValueError();
      return value;
    case 'metric-namespace':
      if (!/^[a-zA-Z_][a-zA-Z0-9_]*$/.test(value)) throw new ValueError();
      return value;
    default:
      throw new ValueError();
  }
}

/** Flags arrive as text: turn them into the value type the kind takes from TOML. */
function flagValue(kind: ConfigKind, raw: string | boolean): string | number | boolean {
  if (kind === 'bool') {
    if (typeof raw === 'boolean') return raw;
    if (raw === 'true') return true;
    if (raw === 'false') return false;
    return raw;
  }
  if (kind === 'uint' || kind === 'positive-int') {
    if (typeof raw === 'string' && /^-?\d+$/.test(raw.trim())) return Number(raw.trim());
    return String(raw);
  }
  return typeof raw === 'string' ? raw : String(raw);
}

function display(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'bigint' || typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (value instanceof Date) return value.toISOString();
  try {
    return JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? Number(v) : v));
  } catch {
    return String(value);
  }
}

/** Out-of-range integers become NaN, which the integer kinds then reject as not an integer. */
function bigintToNumber(v: bigint): number {
  return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : Number.NaN;
}

function isTable(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Date);
}

function readToml(file: string): Record<string, unknown> | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new ErrConfigUnreadable(file, `cannot read: ${(err as Error).message}`, undefined, { cause: err });
  }
  return parseTomlText(text, file);
}

function parseTomlText(text: string, file: string): Record<string, unknown> {
  try {
    // Integers as bigint so that a float (40.0) is told apart from an integer (40).
    return parseToml(text, { integersAsBigInt: true }) as Record<string, unknown>;
  } catch (err) {
    if (err instanceof TomlError) {
      throw new ErrConfigUnreadable(file, `not valid TOML: ${err.message.split('\n')[0]}`, err.line, { cause: err });
    }
    throw new ErrConfigUnreadable(file, `not valid TOML: ${(err as Error).message}`, undefined, { cause: err });
  }
}

/** Values from the file by dotted key, after rejecting unknown keys and sections. */
function flattenFile(doc: Record<string, unknown>, file: string): Map<string, unknown> {
  const out = new Map<string, unknown>();
  const sections = SECTION_ORDER.filter((s) => s !== '');
  const topKeys = CONFIG_KEYS.filter((d) => d.section === '').map((d) => d.name);
  for (const [name, value] of Object.entries(doc)) {
    if ((sections as string[]).includes(name)) {
      if (!isTable(value)) throw new ErrConfigInvalid(name, `a [${name}] table`, display(value), { file });
      const known = CONFIG_KEYS.filter((d) => d.section === name).map((d) => d.name);
      for (const [key, v] of Object.entries(value)) {
        if (!known.includes(key)) throw new ErrConfigUnknownKey(`${name}.${key}`, known.map((kn) => `${name}.${kn}`), file);
        out.set(`${name}.${key}`, v);
      }
    } else if (topKeys.includes(name)) {
      out.set(name, value);
    } else {
      throw new ErrConfigUnknownKey(name, [...topKeys, ...sections.map((s) => `[${s}]`)], file);
    }
  }
  return out;
}

function resolvePath(home: string, p: string): string {
  return isAbsolute(p) ? p : resolve(home, p);
}

/**
 * Loads and validates the configuration of the node at `home`. A missing config.toml means all
 * defaults. Throws ErrConfigUnreadable, ErrConfigUnknownKey or ErrConfigInvalid.
 */
export function loadConfig(home: string, flags: ConfigFlags = {}): NodeConfig {
  const absHome = resolve(home);
  const file = configFilePath(absHome);

  // Flags first: they are checked even when the file is absent, before anything else happens.
  for (const [flag, v] of Object.entries(flags)) {
    if (v !== undefined && !OVERRIDE_FLAGS.includes(flag)) throw new ErrConfigUnknownKey(`--${flag}`, OVERRIDE_FLAGS.map((f) => `--${f}`));
  }

  return buildConfig(absHome, file, readToml(file), flags);
}

/**
 * Validates config.toml text as if it were the file of `home` (used by init before writing).
 * Throws like loadConfig.
 */
export function checkConfigText(home: string, text: string): NodeConfig {
  const absHome = resolve(home);
  const file = configFilePath(absHome);
  return buildConfig(absHome, file, parseTomlText(text, file), {});
}

function buildConfig(absHome: string, file: string, doc: Record<string, unknown> | undefined, flags: ConfigFlags): NodeConfig {
  const fromFile = doc ? flattenFile(doc, file) : new Map<string, unknown>();
  const values = new Map<string, Parsed>();

  for (const def of CONFIG_KEYS) {
    const key = dottedKey(def);
    const flag = def.flag ? flags[key] : undefined;
    if (flag !== undefined) {
      values.set(key, parseChecked(def, flagValue(def.kind, flag), `--${key}`, undefined));
    } else if (fromFile.has(key)) {
      const raw = fromFile.get(key);
      const want = tomlTypeOf(def.kind);
      const ok =
        want === 'integer' ? typeof raw === 'bigint' : want === 'string or integer' ? typeof raw === 'bigint' || typeof raw === 'string' : typeof raw === want;
      if (!ok) throw new ErrConfigInvalid(key, `${KIND_FORM[def.kind]} (a TOML ${want})`, display(raw), { file });
      const value = typeof raw === 'bigint' ? bigintToNumber(raw) : (raw as string | boolean);
      values.set(key, parseChecked(def, value, key, file, display(raw)));
    } else if (def.kind === 'moniker') {
      values.set(key, defaultMoniker());
    } else {
      values.set(key, parseChecked(def, def.default, key, undefined));
    }
  }

  const get = <T extends Parsed>(key: string): T => values.get(key) as T;

  if (get<boolean>('p2p.seed_mode') && !get<boolean>('p2p.pex')) {
    const viaFlag = flags['p2p.seed_mode'] !== undefined;
    throw new ErrConfigInvalid(viaFlag ? '--p2p.seed_mode' : 'p2p.seed_mode', 'seed mode only with p2p.pex = true (a seed answers and crawls through PEX)', 'true', viaFlag ? undefined : { file });
  }

  const genesisFile = resolvePath(absHome, get<string>('genesis_file'));
  const chainId = readGenesisChainId(genesisFile);
  let network = get<string>('network');
  let networkSource: NodeConfig['networkSource'] = flags.network !== undefined ? 'flag' : 'config';
  if (chainId !== undefined) {
    if (flags.network !== undefined && flags.network !== chainId) {
      throw new ErrConfigInvalid('--network', `the chain_id of ${genesisFile} ("${chainId}"), which decides the network, or no --network flag`, JSON.stringify(flags.network));
    }
    network = chainId;
    networkSource = 'genesis';
  }

  const rpcListen = get<HostPort | undefined>('rpc.laddr');
  return {
    home: absHome,
    configFile: file,
    configFileFound: doc !== undefined,
    moniker: get('moniker'),
    network,
    networkSource,
    logLevel: get('log_level'),
    logFormat: get('log_format'),
    nodeKeyFile: resolvePath(absHome, get<string>('node_key_file')),
    genesisFile,
    p2p: {
      laddr: rawText(def('p2p.laddr'), flags, fromFile),
      listen: get('p2p.laddr'),
      externalAddress: get('p2p.external_address'),
      seeds: get('p2p.seeds'),
      persistentPeers: get('p2p.persistent_peers'),
      addrBookFile: resolvePath(absHome, get<string>('p2p.addr_book_file')),
      addrBookStrict: get('p2p.addr_book_strict'),
      maxNumInboundPeers: get('p2p.max_num_inbound_peers'),
      maxNumOutboundPeers: get('p2p.max_num_outbound_peers'),
      unconditionalPeerIds: get('p2p.unconditional_peer_ids'),
      persistentPeersMaxDialPeriodMs: get('p2p.persistent_peers_max_dial_period'),
      flushThrottleTimeoutMs: get('p2p.flush_throttle_timeout'),
      maxPacketMsgPayloadSize: get('p2p.max_packet_msg_payload_size'),
      sendRate: get('p2p.send_rate'),
      recvRate: get('p2p.recv_rate'),
      pex: get('p2p.pex'),
      seedMode: get('p2p.seed_mode'),
      privatePeerIds: get('p2p.private_peer_ids'),
      allowDuplicateIp: get('p2p.allow_duplicate_ip'),
      handshakeTimeoutMs: get('p2p.handshake_timeout'),
      dialTimeoutMs: get('p2p.dial_timeout'),
      cryptoThreads: get('p2p.crypto_threads'),
    },
    pex: {
      ensurePeersPeriodMs: get('pex.ensure_peers_period'),
      banTimeMs: get('pex.ban_time'),
      maxDialAttempts: get('pex.max_dial_attempts'),
      crawlPeriodMs: get('pex.crawl_period'),
      minTimeBetweenCrawlsMs: get('pex.min_time_between_crawls'),
      seedDisconnectWaitPeriodMs: get('pex.seed_disconnect_wait_period'),
      maxConcurrentCrawlDials: get('pex.max_concurrent_crawl_dials'),
      addrBookSavePeriodMs: get('pex.addr_book_save_period'),
    },
    rpc: {
      laddr: rpcListen === undefined ? '' : rawText(def('rpc.laddr'), flags, fromFile),
      listen: rpcListen,
      unsafe: get('rpc.unsafe'),
      maxOpenConnections: get('rpc.max_open_connections'),
      maxBodyBytes: get('rpc.max_body_bytes'),
    },
    txIndex: { indexer: get<TxIndexer>('tx_index.indexer') },
    instrumentation: {
      prometheus: get('instrumentation.prometheus'),
      prometheusListenAddr: rawText(def('instrumentation.prometheus_listen_addr'), flags, fromFile),
      prometheusListen: get('instrumentation.prometheus_listen_addr'),
      maxOpenConnections: get('instrumentation.max_open_connections'),
      namespace: get('instrumentation.namespace'),
    },
  };
}

function def(key: string): ConfigKeyDef {
  const d = CONFIG_KEYS.find((c) => dottedKey(c) === key);
  if (!d) throw new RangeError(`no config key ${key}`);
  return d;
}

/** The text of a string-valued key as given (flag, file or default), trimmed. */
function rawText(d: ConfigKeyDef, flags: ConfigFlags, fromFile: Map<string, unknown>): string {
  const key = dottedKey(d);
  const flag = d.flag ? flags[key] : undefined;
  if (flag !== undefined) return String(flag).trim();
  if (fromFile.has(key)) return String(fromFile.get(key)).trim();
  return String(d.default);
}

function parseChecked(d: ConfigKeyDef, value: string | number | boolean, name: string, file: string | undefined, shown = display(value)): Parsed {
  try {
    return parseValue(d.kind, value);
  } catch (err) {
    if (!(err instanceof ValueError)) throw err;
    const expected = err.detail ? `${KIND_FORM[d.kind]} (${err.detail})` : KIND_FORM[d.kind];
    throw new ErrConfigInvalid(name, expected, shown, file ? { file } : undefined);
  }
}
