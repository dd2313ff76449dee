/**
 * The composition root: config → NodeKey → Transport → Switch + AddrBook + user reactors +
 * PexReactor (registered last, as CometBFT does, so channel 0x00 ends NodeInfo's channel list),
 * plus the RPC server and the metrics server. The Switch refuses banned peers through a ban list
 * that joins the operator's bans and the address book's running bans.
 *
 * start(): binds the RPC and metrics servers and checks the p2p port first (so a port in use
 * fails before anything is read or written), loads the address book, starts the Switch (reactors,
 * then the listener), then dials the persistent peers.
 * stop(): closes the servers, stops the Switch (peers closed, reactors stopped), then stops the
 * address book, which saves it. A failed start undoes what it did and changes nothing on disk (the
 * book is stopped without saving).
 */
import { FrameCryptoPool } from '../p2p/conn/frame-crypto-pool.js';
import { createServer } from 'node:net';
import { AddrBook, type AddrBookOptions } from '../addrbook/addr-book.js';
import { systemClock, type Clock } from '../p2p/clock.js';
import { silentLogger, type Logger } from '../p2p/logger.js';
import type { NodeKey } from '../p2p/node-key.js';
import type { Reactor } from '../p2p/reactor.js';
import { cryptoRng, type Rng } from '../p2p/rng.js';
import { Switch, type SwitchOptions } from '../p2p/switch.js';
import { ErrDuplicateChannel, ErrDuplicateReactor, ErrSwitchStarted } from '../p2p/switch-errors.js';
import { TcpTransport } from '../p2p/transport/tcp-transport.js';
import type { Transport } from '../p2p/transport/transport.js';
import type { HostLookup } from '../p2p/net-address.js';
import { PexReactor, type PexReactorOptions } from '../pex/pex-reactor.js';
import { ErrConfigInvalid } from './errors.js';
import type { NodeConfig } from './load-config.js';
import { PrometheusRegistry } from './metrics.js';
import { MetricsServer } from './metrics-server.js';
import { NodeRpcBackend } from './node-rpc-backend.js';
import { OperatorBans } from './operator-bans.js';
import { registerP2pMetrics } from './p2p-metrics.js';
import { RpcServer } from './rpc/server.js';
import { packageVersion } from './version.js';
import type { AddressInfo } from 'node:net';
import type { HostPort } from './address-syntax.js';

export interface NodeDeps {
  /** Default: the system clock. */
  clock?: Clock;
  /** Default: crypto-seeded. */
  rng?: Rng;
  /** Root logger; components take children named by module. Default: silent. */
  logger?: Logger;
  /** Default: a TcpTransport on p2p.laddr. */
  transport?: Transport;
  /** Host-name resolver for seeds (tests). */
  lookup?: HostLookup;
  /**
   * Worker threads for peers' bulk frame crypto; the caller keeps ownership. Default: with the
   * default transport, a pool of p2p.crypto_threads threads that the node closes on stop; with
   * an injected transport (tests, simulations), none, so everything stays on one thread.
   */
  cryptoPool?: FrameCryptoPool;
}

export interface NodeOptions {
  config: NodeConfig;
  nodeKey: NodeKey;
  /**
   * User reactors, registered in this order. More can be added with addReactor before start. PEX
   * is registered after all of them, at start, so its channel 0x00 comes last in NodeInfo as in
   * CometBFT's (`40 20 21 22 23 30 38 60 61 00`).
   */
  reactors?: ReadonlyArray<{ name: string; reactor: Reactor }>;
  /** Software version in NodeInfo. Default: the package version. */
  version?: string;
  /**
   * Overrides for tests, simulations and the demo (shorter periods, no dial jitter). Values here
   * win over the config. Not for production use.
   */
  tuning?: {
    switch?: Partial<Omit<SwitchOptions, 'nodeInfo'>>;
    /** NodeInfo fields over the ones taken from the config (e.g. tx_index 'on' to stand in for a CometBFT node in a replay). */
    nodeInfo?: Partial<SwitchOptions['nodeInfo']>;
    pex?: Partial<PexReactorOptions>;
    addrBook?: Partial<AddrBookOptions>;
  };
}

type NodeState = 'new' | 'starting' | 'running' | 'stopping' | 'stopped';

/** The name PEX is registered under in the Switch. */
const PEX_REACTOR_NAME = 'pex';

export class Node {
  readonly config: NodeConfig;
  readonly nodeKey: NodeKey;
  readonly sw: Switch;
  readonly addrBook: AddrBook;
  readonly pex: PexReactor | undefined;
  readonly metrics: PrometheusRegistry;
  readonly bans: OperatorBans;
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly usesDefaultTransport: boolean;
  /** The frame crypto pool this node created (and so closes), if any. */
  private readonly ownCryptoPool: FrameCryptoPool | undefined;
  /** The pool its connections use (given in deps, or ours), if any. */
  readonly cryptoPool: FrameCryptoPool | undefined;
  private readonly channelOwners = new Map<number, string>();
  private rpcServer: RpcServer | undefined;
  private metricsServer: MetricsServer | undefined;
  private state: NodeState = 'new';

  constructor(deps: NodeDeps, options: NodeOptions) {
    const config = options.config;
    this.config = config;
    this.nodeKey = options.nodeKey;
    this.clock = deps.clock ?? systemClock;
    const rng = deps.rng ?? cryptoRng;
    this.logger = deps.logger ?? silentLogger;
    const nodeLogger = this.logger.child({ module: 'node' });
    this.bans = new OperatorBans(this.clock);

    this.usesDefaultTransport = deps.transport === undefined;
    const transport =
      deps.transport ??
      new TcpTransport(
        { clock: this.clock, logger: this.logger.child({ module: 'p2p' }) },
        { host: config.p2p.listen.host === '' ? '0.0.0.0' : config.p2p.listen.host, port: config.p2p.listen.port },
      );

    this.addrBook = new AddrBook(
      { clock: this.clock, rng, logger: this.logger },
      {
        filePath: config.p2p.addrBookFile,
        routabilityStrict: config.p2p.addrBookStrict,
        saveIntervalMs: config.pex.addrBookSavePeriodMs,
        ...options.tuning?.addrBook,
      },
    );
    if (config.p2p.privatePeerIds.length > 0) this.addrBook.addPrivateIDs(config.p2p.privatePeerIds);

    const threads = config.p2p.cryptoThreads;
    if (!deps.cryptoPool && this.usesDefaultTransport) {
      this.ownCryptoPool = new FrameCryptoPool({ threads: threads === 'auto' ? undefined : threads });
    }
    this.cryptoPool = deps.cryptoPool ?? this.ownCryptoPool;

    this.sw = new Switch(
      {
        transport,
        cryptoPool: this.cryptoPool,
        nodeKey: this.nodeKey,
        clock: this.clock,
        rng,
        logger: this.logger.child({ module: 'p2p' }),
        addrBook: this.addrBook,
        // Banned IDs (operator or address book) are neither let in nor dialed while the ban runs.
        bans: { bannedUntil: (id) => this.bannedUntil(id) },
      },
      {
        nodeInfo: {
          network: config.network,
          moniker: config.moniker,
          version: options.version ?? packageVersion(),
          listenAddr: advertisedListenAddr(config),
          // CometBFT advertises "on" whenever an indexer is configured; ours only reports the setting.
          txIndex: config.txIndex.indexer === 'null' ? 'off' : 'on',
          rpcAddress: config.rpc.laddr,
          ...options.tuning?.nodeInfo,
        },
        maxInboundPeers: config.p2p.maxNumInboundPeers,
        maxOutboundPeers: config.p2p.maxNumOutboundPeers,
        persistentPeers: config.p2p.persistentPeers,
        unconditionalPeerIds: config.p2p.unconditionalPeerIds,
        privatePeerIds: config.p2p.privatePeerIds,
        allowDuplicateIp: config.p2p.allowDuplicateIp,
        persistentPeersMaxDialPeriodMs: config.p2p.persistentPeersMaxDialPeriodMs,
        mconnection: {
          sendRate: config.p2p.sendRate,
          recvRate: config.p2p.recvRate,
          maxPacketMsgPayloadSize: config.p2p.maxPacketMsgPayloadSize,
          flushThrottleMs: config.p2p.flushThrottleTimeoutMs,
        },
        ...options.tuning?.switch,
      },
    );

    if (config.p2p.pex) {
      this.pex = new PexReactor(
        { clock: this.clock, rng, logger: this.logger, book: this.addrBook, lookup: deps.lookup },
        {
          seeds: config.p2p.seeds,
          seedMode: config.p2p.seedMode,
          ensurePeersPeriodMs: config.pex.ensurePeersPeriodMs,
          persistentPeersMaxDialPeriodMs: config.p2p.persistentPeersMaxDialPeriodMs,
          routabilityStrict: config.p2p.addrBookStrict,
          banTimeMs: config.pex.banTimeMs,
          maxDialAttempts: config.pex.maxDialAttempts,
          crawlPeriodMs: config.pex.crawlPeriodMs,
          minTimeBetweenCrawlsMs: config.pex.minTimeBetweenCrawlsMs,
          seedDisconnectWaitPeriodMs: config.pex.seedDisconnectWaitPeriodMs,
          maxConcurrentCrawlDials: config.pex.maxConcurrentCrawlDials,
          ...options.tuning?.pex,
        },
      );
      // Registered with the Switch at start, after every user reactor (see addReactor); its
      // channel is reserved now so a clash is reported when the user reactor is added.
      for (const ch of this.pex.getChannels()) this.channelOwners.set(ch.id, PEX_REACTOR_NAME);
    }
    for (const { name, reactor } of options.reactors ?? []) this.addReactor(name, reactor);

    this.metrics = new PrometheusRegistry({
      namespace: config.instrumentation.namespace,
      onCollectError: (name, err) => nodeLogger.warn({ err, metric: name }, 'metric collector failed'),
    });
    const pex = this.pex;
    const cryptoPool = this.cryptoPool;
    registerP2pMetrics(this.metrics, {
      sw: this.sw,
      bookCounts: () => this.addrBook.counts(),
      pexStats: pex ? () => pex.stats : undefined,
      operatorBans: () => this.bans.size(),
      cryptoPoolStats: cryptoPool ? () => cryptoPool.stats() : undefined,
      reactorOfChannel: (id) => this.channelOwners.get(id),
    });
  }

  /** Registers a reactor (before start). */
  addReactor(name: string, reactor: Reactor): void {
    if (this.state !== 'new') throw new ErrSwitchStarted('addReactor');
    if (this.pex) {
      // PEX joins the Switch only at start: report clashes with it now, as the Switch would.
      if (name === PEX_REACTOR_NAME) throw new ErrDuplicateReactor(name);
      for (const ch of reactor.getChannels()) {
        if (this.channelOwners.get(ch.id) === PEX_REACTOR_NAME) throw new ErrDuplicateChannel(ch.id, name, PEX_REACTOR_NAME);
      }
    }
    this.sw.addReactor(name, reactor);
    for (const ch of reactor.getChannels()) this.channelOwners.set(ch.id, name);
  }

  get id(): string {
    return this.nodeKey.id;
  }

  /**
   * When the ban on `id` ends (Clock ms), or undefined when it may connect now: the later of the
   * operator's ban (RPC ban_address) and the address book's running ban (PEX's bans: unsolicited
   * addresses, request floods, invalid entries, too many failed dials; and ban_address's own). A
   * book ban counts only while its time runs (the book keeps an expired one listed until it is
   * reinstated). Persistent peers are exempt from book bans: the operator asked for them to be
   * kept connected (PEX never bans them, but the book may hold an older ban from before they were
   * made persistent). The operator's own bans hold for every peer.
   */
  bannedUntil(id: string): number | undefined {
    const operatorUntil = this.bans.bannedUntil(id);
    const bookUntil = this.sw.isPeerPersistent({ id }) ? undefined : this.addrBook.bannedUntil(id);
    if (operatorUntil === undefined) return bookUntil;
    return bookUntil === undefined ? operatorUntil : Math.max(operatorUntil, bookUntil);
  }

  get isRunning(): boolean {
    return this.state === 'running';
  }

  /** Where the RPC server listens, once started (undefined when disabled). */
  rpcAddress(): AddressInfo | undefined {
    return this.rpcServer?.address();
  }

  metricsAddress(): AddressInfo | undefined {
    return this.metricsServer?.address();
  }

  async start(): Promise<void> {
    if (this.state !== 'new') throw new Error(`Node.start: node is ${this.state}`);
    this.state = 'starting';
    const log = this.logger.child({ module: 'node' });
    let bookStarted = false;
    try {
      const { rpc, instrumentation, p2p } = this.config;
      if (rpc.listen) {
        const server = new RpcServer({ backend: this.rpcBackend(), logger: this.logger.child({ module: 'rpc' }) }, {
            host: rpc.listen.host,
            port: rpc.listen.port,
            unsafe: rpc.unsafe,
            maxOpenConnections: rpc.maxOpenConnections,
            maxBodyBytes: rpc.maxBodyBytes,
          });
        await listenOrConfigError(() => server.listen(), 'rpc.laddr', rpc.laddr);
        this.rpcServer = server;
      }
      if (instrumentation.prometheus) {
        const server = new MetricsServer(this.metrics, {
          host: instrumentation.prometheusListen.host,
          port: instrumentation.prometheusListen.port,
          maxOpenConnections: instrumentation.maxOpenConnections,
        });
        await listenOrConfigError(() => server.listen(), 'instrumentation.prometheus_listen_addr', instrumentation.prometheusListenAddr);
        this.metricsServer = server;
      }
      if (this.usesDefaultTransport) await listenOrConfigError(() => probePort(p2p.listen), 'p2p.laddr', p2p.laddr);

      // Last, so PEX's channel is the last one advertised and PEX is called after the user reactors.
      if (this.pex) this.sw.addReactor(PEX_REACTOR_NAME, this.pex as unknown as Reactor);
      const report = this.addrBook.start();
      bookStarted = true;
      if (report) log.info({ file: this.config.p2p.addrBookFile, ...report }, 'address book loaded');
      await listenOrConfigError(() => this.sw.start(), 'p2p.laddr', p2p.laddr);
      this.addrBook.addOurAddress(this.sw.netAddress());
      if (p2p.persistentPeers.length > 0) await this.sw.dialPeersAsync(p2p.persistentPeers);
      this.state = 'running';
      log.info(
        {
          id: this.id,
          network: this.config.network,
          p2p: this.sw.netAddress().toString(),
          rpc: hostPortText(this.rpcAddress()),
          metrics: hostPortText(this.metricsAddress()),
          seedMode: this.config.p2p.seedMode,
        },
        'node started',
      );
    } catch (err) {
      await this.sw.stop().catch(() => undefined);
      // A failed start leaves the book's file exactly as it found it: no save, no move aside.
      if (bookStarted) this.addrBook.stop({ save: false });
      await this.rpcServer?.close();
      await this.metricsServer?.close();
      await this.ownCryptoPool?.close();
      this.state = 'stopped';
      throw err;
    }
  }

  /** Graceful stop: servers, then peers and reactors, then the address book (saved). Idempotent. */
  async stop(): Promise<void> {
    if (this.state === 'new') {
      this.state = 'stopped';
      await this.ownCryptoPool?.close();
      return;
    }
    if (this.state !== 'running') return;
    this.state = 'stopping';
    await this.rpcServer?.close();
    await this.metricsServer?.close();
    await this.sw.stop();
    await this.ownCryptoPool?.close();
    this.addrBook.stop();
    this.state = 'stopped';
    this.logger.child({ module: 'node' }).info({ id: this.id }, 'node stopped; address book saved');
  }

  private rpcBackend(): NodeRpcBackend {
    return new NodeRpcBackend({
      sw: this.sw,
      book: this.addrBook,
      bans: this.bans,
      clock: this.clock,
      logger: this.logger.child({ module: 'rpc' }),
      publicKey: this.nodeKey.publicKey,
    });
  }
}

/**
 * What NodeInfo advertises: external_address when set; else laddr as written (CometBFT's
 * choice, e.g. "tcp://0.0.0.0:26656"); but when laddr asks for any port (0) or names no host,
 * the Switch advertises the address actually bound.
 */
export function advertisedListenAddr(config: NodeConfig): string | undefined {
  const ext = config.p2p.externalAddress;
  if (ext !== '') return ext.includes('://') ? ext : `tcp://${ext}`;
  if (config.p2p.listen.port === 0 || config.p2p.listen.host === '') return undefined;
  return config.p2p.laddr.includes('://') ? config.p2p.laddr : `tcp://${config.p2p.laddr}`;
}

function hostPortText(a: AddressInfo | undefined): string | undefined {
  if (!a) return undefined;
  return a.family === 'IPv6' ? `[${a.address}]:${a.port}` : `${a.address}:${a.port}`;
}

/** Fails like a real listen would when the p2p address cannot be bound, before the book is touched. */
function probePort(hp: HostPort): Promise<void> {
  if (hp.port === 0) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(hp.port, hp.host === '' ? undefined : hp.host, () => server.close(() => resolve()));
  });
}

async function listenOrConfigError<T>(fn: () => Promise<T>, key: string, value: string): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? ((err as { cause?: NodeJS.ErrnoException }).cause?.code);
    if (code === 'EADDRINUSE' || code === 'EACCES' || code === 'EADDRNOTAVAIL') {
      const why = code === 'EADDRINUSE' ? 'address already in use' : code === 'EACCES' ? 'permission denied' : 'address not available on this machine';
      throw new ErrConfigInvalid(key, `an address this node can listen on (${why})`, JSON.stringify(value), { cause: err });
    }
    throw err;
  }
}
