/**
 * An in-memory network of named hosts (each host name is an IP literal, so NetAddresses work
 * unchanged). Hosts listen, dial, refuse or swallow connections, and every connection is a pair
 * from createDuplexPair, or from createLatencyPair on a link with latency. Delays (per-link latency
 * of connects and data, dial timeouts) run on the injected Clock, so whole networks run
 * deterministically on a VirtualClock.
 */
import type { Duplex } from 'node:stream';
import { createDuplexPair } from '../conn/duplex-pair.js';
import { createLatencyPair } from './latency-pipe.js';
import { OpenStreams } from './open-streams.js';
import type { Clock, TimerHandle } from '../clock.js';
import { ErrConnectionRefused, ErrDialAborted, ErrDialTimeout, ErrTransportClosed, ErrTransportListening } from './transport-errors.js';
import {
  DEFAULT_DIAL_TIMEOUT_MS,
  type ConnectionHandler,
  type DialOptions,
  type RawConnection,
  type Transport,
  type TransportAddress,
} from './transport.js';

export interface MemoryNetworkOptions {
  /**
   * One-way latency of every link without its own setting, in ms: a connect completes after it,
   * and every chunk of data arrives after it (clock timers). Default 0: no timers at all.
   */
  latencyMs?: number;
  /** First source port handed to dialers. Default 40000. */
  firstEphemeralPort?: number;
  /** Buffer size of each pipe end in bytes. Default 64 KiB. */
  highWaterMark?: number;
}

export interface MemoryTransportOptions {
  /** Port to listen on. Default 26656. */
  port?: number;
  /** Default dial timeout. Default 1000 ms. */
  dialTimeoutMs?: number;
}

const linkKey = (a: string, b: string): string => (a < b ? `${a}|${b}` : `${b}|${a}`);

export class MemoryNetwork {
  readonly clock: Clock;
  private readonly defaultLatencyMs: number;
  private readonly highWaterMark: number;
  private nextPort: number;
  private readonly listeners = new Map<string, MemoryTransport>();
  private readonly refusing = new Set<string>();
  private readonly blackholed = new Set<string>();
  private readonly latencies = new Map<string, number>();
  private readonly connections = new Set<{ hosts: [string, string]; ends: [Duplex, Duplex] }>();

  constructor(deps: { clock: Clock }, options: MemoryNetworkOptions = {}) {
    this.clock = deps.clock;
    this.defaultLatencyMs = options.latencyMs ?? 0;
    this.nextPort = options.firstEphemeralPort ?? 40000;
    this.highWaterMark = options.highWaterMark ?? 64 * 1024;
  }

  /** A transport for host `ip` (an IP literal). Several transports may share a host on different ports. */
  transport(ip: string, options: MemoryTransportOptions = {}): MemoryTransport {
    return new MemoryTransport(this, ip, options);
  }

  /** While set, connections to `ip` fail at once with ErrConnectionRefused (like a RST). */
  refuse(ip: string, refusing = true): void {
    if (refusing) this.refusing.add(ip);
    else this.refusing.delete(ip);
  }

  /** While set, connections to `ip` never complete: dialers run into their timeout. */
  blackhole(ip: string, on = true): void {
    if (on) this.blackholed.add(ip);
    else this.blackholed.delete(ip);
  }

  /** One-way latency between two hosts in ms (both directions; connects and data). New connections only. */
  setLatency(a: string, b: string, ms: number): void {
    this.latencies.set(linkKey(a, b), ms);
  }

  /** Destroys the open connections of host `ip` (only those to `other` when given); returns how many. */
  disconnect(ip: string, other?: string): number {
    let n = 0;
    for (const c of [...this.connections]) {
      const [x, y] = c.hosts;
      const match = other === undefined ? x === ip || y === ip : (x === ip && y === other) || (x === other && y === ip);
      if (match) {
        c.ends[0].destroy();
        c.ends[1].destroy();
        n++;
      }
    }
    return n;
  }

  /** Connections currently open anywhere in the network (leak checks). */
  openConnections(): number {
    return this.connections.size;
  }

  /** Number of listening transports. */
  listening(): number {
    return this.listeners.size;
  }

  /** @internal */
  latency(a: string, b: string): number {
    return this.latencies.get(linkKey(a, b)) ?? this.defaultLatencyMs;
  }

  /** @internal */
  register(ip: string, port: number, t: MemoryTransport): void {
    const key = `${ip}:${port}`;
    if (this.listeners.has(key)) throw new ErrTransportListening();
    this.listeners.set(key, t);
  }

  /** @internal */
  unregister(ip: string, port: number, t: MemoryTransport): void {
    const key = `${ip}:${port}`;
    if (this.listeners.get(key) === t) this.listeners.delete(key);
  }

  /**
   * @internal Completes a connection attempt: 'refused', 'blackholed', or the dialer's end after
   * handing the other end to the listener.
   */
  connect(from: MemoryTransport, to: TransportAddress, track: (s: Duplex) => void): RawConnection | 'refused' | 'blackholed' {
    if (this.blackholed.has(to.ip)) return 'blackholed';
    const listener = this.listeners.get(`${to.ip}:${to.port}`);
    if (!listener || this.refusing.has(to.ip)) return 'refused';
    const latencyMs = this.latency(from.ip, to.ip);
    const [dialerEnd, listenerEnd] =
      latencyMs > 0 ? createLatencyPair(this.clock, latencyMs, this.highWaterMark) : createDuplexPair(this.highWaterMark);
    const sourcePort = this.nextPort;
    this.nextPort = this.nextPort >= 65535 ? 40000 : this.nextPort + 1;
    const entry = { hosts: [from.ip, to.ip] as [string, string], ends: [dialerEnd, listenerEnd] as [Duplex, Duplex] };
    this.connections.add(entry);
    let closedEnds = 0;
    const onClose = (): void => {
      if (++closedEnds === 2) this.connections.delete(entry);
    };
    dialerEnd.once('close', onClose);
    listenerEnd.once('close', onClose);
    track(dialerEnd);
    listener.accept({ stream: listenerEnd, remote: { ip: from.ip, port: sourcePort }, local: { ...to } });
    return { stream: dialerEnd, remote: { ...to }, local: { ip: from.ip, port: sourcePort } };
  }
}

export class MemoryTransport implements Transport {
  readonly ip: string;
  private readonly port: number;
  private readonly dialTimeoutMs: number;
  private handler: ConnectionHandler | undefined;
  private bound: TransportAddress | undefined;
  private readonly open = new OpenStreams();
  private closed = false;

  constructor(
    private readonly network: MemoryNetwork,
    ip: string,
    options: MemoryTransportOptions = {},
  ) {
    this.ip = ip;
    this.port = options.port ?? 26656;
    this.dialTimeoutMs = options.dialTimeoutMs ?? DEFAULT_DIAL_TIMEOUT_MS;
  }

  async listen(onConnection: ConnectionHandler): Promise<TransportAddress> {
    if (this.closed) throw new ErrTransportClosed('listen');
    if (this.handler) throw new ErrTransportListening();
    this.network.register(this.ip, this.port, this);
    this.handler = onConnection;
    this.bound = { ip: this.ip, port: this.port };
    return this.bound;
  }

  dial(remote: TransportAddress, options: DialOptions = {}): Promise<RawConnection> {
    const { ip, port } = remote;
    if (this.closed) return Promise.reject(new ErrTransportClosed('dial'));
    if (options.signal?.aborted) return Promise.reject(new ErrDialAborted(ip, port));
    const clock = this.network.clock;
    const timeoutMs = options.timeoutMs ?? this.dialTimeoutMs;
    const latencyMs = this.network.latency(this.ip, ip);
    return new Promise<RawConnection>((resolve, reject) => {
      let settled = false;
      let latencyTimer: TimerHandle | undefined;
      const finish = (result: RawConnection | Error): void => {
        if (settled) return;
        settled = true;
        clock.clearTimeout(timeoutTimer);
        clock.clearTimeout(latencyTimer);
        options.signal?.removeEventListener('abort', onAbort);
        if (result instanceof Error) reject(result);
        else resolve(result);
      };
      const onAbort = (): void => finish(new ErrDialAborted(ip, port));
      const attempt = (): void => {
        if (settled) return;
        if (this.closed) return finish(new ErrTransportClosed('dial'));
        const r = this.network.connect(this, remote, (s) => this.open.add(s));
        if (r === 'refused') finish(new ErrConnectionRefused(ip, port));
        else if (r !== 'blackholed') finish(r);
      };
      const timeoutTimer = clock.setTimeout(() => finish(new ErrDialTimeout(ip, port, timeoutMs)), timeoutMs);
      options.signal?.addEventListener('abort', onAbort, { once: true });
      // Zero latency completes on a microtask, so tests need not advance the clock for each dial.
      if (latencyMs > 0) latencyTimer = clock.setTimeout(attempt, latencyMs);
      else queueMicrotask(attempt);
    });
  }

  /** @internal Called by the network with the listener's end of a new connection. */
  accept(conn: RawConnection): void {
    this.open.add(conn.stream);
    const handler = this.handler;
    if (!handler) {
      conn.stream.destroy();
      return;
    }
    try {
      handler(conn);
    } catch {
      conn.stream.destroy();
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.bound) this.network.unregister(this.ip, this.port, this);
    this.handler = undefined;
    this.bound = undefined;
    for (const s of this.open.list()) s.destroy();
  }

  listenAddress(): TransportAddress | undefined {
    return this.bound;
  }

  openConnections(): number {
    return this.open.count();
  }
}
