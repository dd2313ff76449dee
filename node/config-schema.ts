/**
 * Every key config.toml may hold: CometBFT's `[p2p]` keys with CometBFT's defaults, the top-level
 * and `[rpc]` / `[instrumentation]` keys a p2p node needs, and Switchyard's own extension keys
 * (marked `origin: 'switchyard'`). One table drives the template, the loader, the CLI flags and
 * the spec, so they cannot drift apart.
 */

export type ConfigSection = '' | 'p2p' | 'pex' | 'rpc' | 'tx_index' | 'instrumentation';

/** Value kinds; each has one parser and one "accepted form" text in load-config.ts. */
export type ConfigKind =
  | 'string'
  | 'path'
  | 'bool'
  | 'uint'
  | 'positive-int'
  | 'duration'
  | 'positive-duration'
  | 'peer-list'
  | 'id-list'
  | 'listen-addr'
  | 'listen-addr-or-empty'
  | 'host-port-or-empty'
  | 'moniker'
  | 'network'
  | 'log-level'
  | 'log-format'
  | 'tx-indexer'
  | 'metric-namespace'
  | 'thread-count';

export interface ConfigKeyDef {
  section: ConfigSection;
  name: string;
  kind: ConfigKind;
  /** Default as written into config.toml (durations as strings, lists as comma-separated strings). */
  default: string | number | boolean;
  /** Comment written above the key in the template; one entry per line. */
  doc: readonly string[];
  /** Whether `switchyard start` accepts an override flag named like the dotted key (`--p2p.seeds`). */
  flag: boolean;
  origin: 'cometbft' | 'switchyard';
}

/** `p2p.laddr`, or `moniker` for top-level keys: the name used in errors and as the flag name. */
export function dottedKey(def: Pick<ConfigKeyDef, 'section' | 'name'>): string {
  return def.section === '' ? def.name : `${def.section}.${def.name}`;
}

const k = (
  section: ConfigSection,
  name: string,
  kind: ConfigKind,
  def: string | number | boolean,
  doc: readonly string[],
  extra: { flag?: boolean; origin?: 'cometbft' | 'switchyard' } = {},
): ConfigKeyDef => ({ section, name, kind, default: def, doc, flag: extra.flag ?? false, origin: extra.origin ?? 'cometbft' });

export const CONFIG_KEYS: readonly ConfigKeyDef[] = [
  // ---- top level ----
  k('', 'moniker', 'moniker', '', [
    'A human-readable name for this node, sent to peers in NodeInfo.',
    'Printable ASCII, not empty. `switchyard init` writes the host name here.',
  ], { flag: true }),
  k('', 'network', 'network', 'switchyard-local', [
    'Switchyard extension. The network (chain ID) this node joins; peers on another network',
    'are refused. Ignored when genesis_file exists: its chain_id is used instead, so a node',
    'or seed for a real chain only needs that chain\'s genesis.json.',
  ], { flag: true, origin: 'switchyard' }),
  k('', 'log_level', 'log-level', 'info', [
    'Log level for all modules ("info"), or per module: "p2p:debug,pex:info,*:error".',
    'Levels: trace, debug, info, warn, error, none.',
  ], { flag: true }),
  k('', 'log_format', 'log-format', 'plain', [
    'Log output: "plain" (human-readable; colours on a terminal) or "json" (one object per line).',
  ], { flag: true }),
  k('', 'node_key_file', 'path', 'config/node_key.json', [
    'Path to the node key (Ed25519) that gives this node its ID. Relative paths are',
    'relative to the home directory. Created by `switchyard init`, never overwritten.',
  ]),
  k('', 'genesis_file', 'path', 'config/genesis.json', [
    'Path to a genesis file. Only its chain_id is read (the network name). Optional.',
  ]),

  // ---- [p2p] ----
  k('p2p', 'laddr', 'listen-addr', 'tcp://0.0.0.0:26656', [
    'Address to listen on for incoming peer connections.',
  ], { flag: true }),
  k('p2p', 'external_address', 'host-port-or-empty', '', [
    'Address (ip:port) advertised to peers as where to reach this node. When empty, laddr',
    'is advertised; set this when the node is behind NAT or listens on 0.0.0.0.',
  ], { flag: true }),
  k('p2p', 'seeds', 'peer-list', '', [
    'Comma-separated id@host:port of seed nodes, asked for addresses when the book runs low.',
  ], { flag: true }),
  k('p2p', 'persistent_peers', 'peer-list', '', [
    'Comma-separated id@host:port of peers to stay connected to; redialed when they drop.',
  ], { flag: true }),
  k('p2p', 'addr_book_file', 'path', 'config/addrbook.json', [
    'Path to the address book file, relative to the home directory unless absolute.',
  ]),
  k('p2p', 'addr_book_strict', 'bool', true, [
    'Keep only routable (public) addresses in the book. Set false for private or local',
    'networks, for example a test network on 127.0.0.1.',
  ]),
  k('p2p', 'max_num_inbound_peers', 'uint', 40, [
    'Maximum number of inbound peers (unconditional peers are not counted).',
  ]),
  k('p2p', 'max_num_outbound_peers', 'uint', 10, [
    'Target and maximum number of outbound peers PEX dials (unconditional peers not counted).',
  ]),
  k('p2p', 'unconditional_peer_ids', 'id-list', '', [
    'Comma-separated node IDs exempt from the inbound and outbound limits.',
  ], { flag: true }),
  k('p2p', 'persistent_peers_max_dial_period', 'duration', '0s', [
    'Upper bound on the wait between redials of a persistent peer. "0s" means the default',
    'schedule (exponential backoff; Switchyard then keeps redialing every 10 minutes forever).',
  ]),
  k('p2p', 'flush_throttle_timeout', 'duration', '100ms', [
    'Longest time written messages may wait to be coalesced into one socket write under load.',
  ]),
  k('p2p', 'max_packet_msg_payload_size', 'positive-int', 1024, [
    'Largest payload of one packet, in bytes; longer messages are split.',
  ]),
  k('p2p', 'send_rate', 'uint', 5120000, [
    'Per-connection send limit in bytes per second (0 = unlimited).',
  ]),
  k('p2p', 'recv_rate', 'uint', 5120000, [
    'Per-connection receive limit in bytes per second (0 = unlimited).',
  ]),
  k('p2p', 'pex', 'bool', true, [
    'Run the peer-exchange (PEX) reactor: learn addresses from peers and dial them.',
  ], { flag: true }),
  k('p2p', 'seed_mode', 'bool', false, [
    'Seed mode: crawl the network, answer address requests, then disconnect the asker.',
    'Needs pex = true.',
  ], { flag: true }),
  k('p2p', 'private_peer_ids', 'id-list', '', [
    'Comma-separated node IDs never gossiped to other peers.',
  ], { flag: true }),
  k('p2p', 'allow_duplicate_ip', 'bool', false, [
    'Allow several peers from the same IP address.',
  ]),
  k('p2p', 'crypto_threads', 'thread-count', 'auto', [
    'Worker threads that encrypt and decrypt bulk transfers (large messages, block parts) off',
    'the main thread: "auto" (one fewer than the CPUs, at most 4; none on one CPU) or a number',
    'from 0 (everything on the main thread) to 64. Small messages never wait for a worker.',
  ], { flag: true, origin: 'switchyard' }),
  k('p2p', 'handshake_timeout', 'duration', '20s', [
    'Accepted for compatibility with CometBFT config files. Like CometBFT, the transport',
    'uses a fixed 3 s limit for each handshake step.',
  ]),
  k('p2p', 'dial_timeout', 'duration', '3s', [
    'Accepted for compatibility with CometBFT config files. Like CometBFT, the transport',
    'uses a fixed 1 s limit for the TCP dial.',
  ]),

  // ---- [pex] (Switchyard extension) ----
  k('pex', 'ensure_peers_period', 'positive-duration', '30s', [
    'How often PEX checks the outbound count and dials more peers. Peers may ask us for',
    'addresses at most once per a third of this period.',
  ], { origin: 'switchyard' }),
  k('pex', 'ban_time', 'positive-duration', '24h', [
    'How long PEX bans an abusive peer, or an address whose dials kept failing.',
  ], { origin: 'switchyard' }),
  k('pex', 'max_dial_attempts', 'positive-int', 16, [
    'Failed dials in a row after which a (non-persistent) address is banned for ban_time.',
  ], { origin: 'switchyard' }),
  k('pex', 'crawl_period', 'positive-duration', '30s', [
    'Seed mode: how often the crawler dials addresses to ask them for more.',
  ], { origin: 'switchyard' }),
  k('pex', 'min_time_between_crawls', 'duration', '2m', [
    'Seed mode: an address is crawled again only after this long.',
  ], { origin: 'switchyard' }),
  k('pex', 'seed_disconnect_wait_period', 'positive-duration', '28h', [
    'Seed mode: peers (other than persistent ones) connected this long are dropped.',
  ], { origin: 'switchyard' }),
  k('pex', 'max_concurrent_crawl_dials', 'positive-int', 16, [
    'Seed mode: crawl dials in flight at once, so crawling cannot exhaust file descriptors.',
  ], { origin: 'switchyard' }),
  k('pex', 'addr_book_save_period', 'positive-duration', '2m', [
    'How often the address book is written to addr_book_file when it changed (also on stop).',
  ], { origin: 'switchyard' }),

  // ---- [rpc] ----
  k('rpc', 'laddr', 'listen-addr-or-empty', 'tcp://127.0.0.1:26657', [
    'Address of the HTTP JSON-RPC server (/status, /net_info). Empty disables it.',
  ], { flag: true }),
  k('rpc', 'unsafe', 'bool', false, [
    'Enable the operator calls: dial_seeds, dial_peers, disconnect_peer, ban_address,',
    'unban_address, set_peer_rates. Only on an address you control.',
  ], { flag: true }),
  k('rpc', 'max_open_connections', 'uint', 900, [
    'Maximum simultaneous connections to the RPC server (0 = unlimited).',
  ]),
  k('rpc', 'max_body_bytes', 'positive-int', 1000000, [
    'Largest request body the RPC server accepts, in bytes.',
  ]),

  // ---- [tx_index] ----
  k('tx_index', 'indexer', 'tx-indexer', 'null', [
    'Transaction indexer: "null" (none), "kv" or "psql", as in CometBFT. Switchyard indexes',
    'nothing, so the default is "null" (CometBFT\'s is "kv"); the value only decides what',
    'NodeInfo advertises to peers: other.tx_index = "off" for "null", "on" otherwise.',
  ]),

  // ---- [instrumentation] ----
  k('instrumentation', 'prometheus', 'bool', false, [
    'Serve Prometheus metrics on prometheus_listen_addr.',
  ]),
  k('instrumentation', 'prometheus_listen_addr', 'listen-addr', ':26660', [
    'Address of the metrics server (GET /metrics).',
  ]),
  k('instrumentation', 'max_open_connections', 'uint', 3, [
    'Maximum simultaneous connections to the metrics server (0 = unlimited).',
  ]),
  k('instrumentation', 'namespace', 'metric-namespace', 'cometbft', [
    'Prefix of every metric name, e.g. cometbft_p2p_peers.',
  ]),
];

export const SECTION_TITLES: Record<ConfigSection, string> = {
  '': 'Main options',
  p2p: 'Peer-to-peer options (CometBFT keys and defaults)',
  pex: 'Peer exchange and address book options (Switchyard extension)',
  rpc: 'RPC server options',
  tx_index: 'Transaction indexer options',
  instrumentation: 'Metrics options',
};

export const SECTION_ORDER: readonly ConfigSection[] = ['', 'p2p', 'pex', 'rpc', 'tx_index', 'instrumentation'];

/** The key definition for a dotted name, or undefined. */
export function findConfigKey(dotted: string): ConfigKeyDef | undefined {
  return CONFIG_KEYS.find((d) => dottedKey(d) === dotted);
}

/** Names of the override flags `switchyard start` accepts, without the leading "--". */
export const OVERRIDE_FLAGS: readonly string[] = CONFIG_KEYS.filter((d) => d.flag).map(dottedKey);
