/**
 * Raw TCP connections: listen on one address, dial with a timeout on the injected Clock. Every
 * socket made or accepted is tracked until it closes, so `close()` leaves nothing behind.
 */
import net from 'node:net';
import type { Clock } from '../clock.js';
import { systemClock } from '../clock.js';
import type { Logger } from '../logger.js';
import { silentLogger } from '../logger.js';
import {
  ErrConnectionRefused,
  ErrDialAborted,
  ErrDialFailed,
  ErrDialTimeout,
  ErrListenFailed,
  ErrTransportClosed,
  ErrTransportListening,
} from './transport-errors.js';
import { OpenStreams } from './open-streams.js';
import {
  DEFAULT_DIAL_TIMEOUT_MS,
  type ConnectionHandler,
  type DialOptions,
  type RawConnection,
  type Transport,
  type TransportAddress,
} from './transport.js';

export interface TcpTransportOptions {
  /** Interface to bind. Default '0.0.0.0'. */
  host?: string;
  /** Port to bind; 0 picks a free one. Default 26656. */
  port?: number;
  /** Default dial timeout. Default 1000 ms (CometBFT's fixed value). */
  dialTimeoutMs?: number;
}

/** Strips the IPv4-mapped prefix Node reports on dual-stack sockets. */
function canonicalIp(ip: string | undefined): string {
  if (!ip) return '';
  return ip.startsWith('::ffff:') && ip.includes('.') ? ip.slice(7) : ip;
}

export class TcpTransport implements Transport {
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly host: string;
  private readonly port: number;
  private readonly dialTimeoutMs: number;
  private server: net.Server | undefined;
  private bound: TransportAddress | undefined;
  private readonly open = new OpenStreams<net.Socket>();
  private closed = false;

  constructor(deps: { clock?: Clock; logger?: Logger } = {}, options: TcpTransportOptions = {}) {
    this.clock = deps.clock ?? systemClock;
    this.logger = (deps.logger ?? silentLogger).child({ module: 'tcp-transport' });
    this.host = options.host ?? '0.0.0.0';
    this.port = options.port ?? 26656;
    this.dialTimeoutMs = options.dialTimeoutMs ?? DEFAULT_DIAL_TIMEOUT_MS;
    if (!Number.isInteger(this.port) || this.port < 0 || this.port > 65535) {
      throw new RangeError(`TcpTransport option 'port' must be an integer in 0..65535, got ${options.port}`);
    }
  }

  async listen(onConnection: ConnectionHandler): Promise<TransportAddress> {
    if (this.closed) throw new ErrTransportClosed('listen');
    if (this.server) throw new ErrTransportListening();
    const server = net.createServer({ noDelay: true, allowHalfOpen: false });
    this.server = server;
    server.on('connection', (socket) => {
      if (this.closed) {
        socket.destroy();
        return;
      }
      this.open.add(socket);
      const conn: RawConnection = {
        stream: socket,
        remote: { ip: canonicalIp(socket.remoteAddress), port: socket.remotePort ?? 0 },
        local: { ip: canonicalIp(socket.localAddress), port: socket.localPort ?? 0 },
      };
      try {
        onConnection(conn);
      } catch (err) {
        this.logger.error({ err }, 'connection handler threw; closing the connection');
        socket.destroy();
      }
    });
    server.on('error', (err) => this.logger.error({ err }, 'listener error'));
    await new Promise<void>((resolve, reject) => {
      const onError = (err: Error): void => {
        this.server = undefined;
        reject(new ErrListenFailed(this.host, this.port, err));
      };
      server.once('error', onError);
      server.listen(this.port, this.host, () => {
        server.off('error', onError);
        resolve();
      });
    });
    const addr = server.address() as net.AddressInfo;
    this.bound = { ip: canonicalIp(addr.address), port: addr.port };
    return this.bound;
  }

  dial(remote: TransportAddress, options: DialOptions = {}): Promise<RawConnection> {
    const { ip, port } = remote;
    if (this.closed) return Promise.reject(new ErrTransportClosed('dial'));
    if (options.signal?.aborted) return Promise.reject(new ErrDialAborted(ip, port));
    const timeoutMs = options.timeoutMs ?? this.dialTimeoutMs;
    return new Promise<RawConnection>((resolve, reject) => {
      const socket = net.connect({ host: ip, port, noDelay: true });
      this.open.add(socket);
      let settled = false;
      const finish = (err: Error | undefined): void => {
        if (settled) return;
        settled = true;
        this.clock.clearTimeout(timer);
        options.signal?.removeEventListener('abort', onAbort);
        socket.off('connect', onConnect);
        socket.off('error', onError);
        if (err) {
          socket.destroy();
          reject(err);
          return;
        }
        resolve({
          stream: socket,
          remote: { ip: canonicalIp(socket.remoteAddress) || ip, port: socket.remotePort ?? port },
          local: { ip: canonicalIp(socket.localAddress), port: socket.localPort ?? 0 },
        });
      };
      const onConnect = (): void => finish(undefined);
      const onError = (err: NodeJS.ErrnoException): void =>
        finish(err.code === 'ECONNREFUSED' ? new ErrConnectionRefused(ip, port) : new ErrDialFailed(ip, port, err));
      const onAbort = (): void => finish(new ErrDialAborted(ip, port));
      const timer = this.clock.setTimeout(() => finish(new ErrDialTimeout(ip, port, timeoutMs)), timeoutMs);
      socket.once('connect', onConnect);
      socket.once('error', onError);
      options.signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const server = this.server;
    this.server = undefined;
    this.bound = undefined;
    const closing = this.open.list().map((s) => new Promise<void>((resolve) => {
      if (s.closed) resolve();
      else s.once('close', () => resolve());
      s.destroy();
    }));
    if (server) closing.push(new Promise<void>((resolve) => server.close(() => resolve())));
    await Promise.all(closing);
  }

  listenAddress(): TransportAddress | undefined {
    return this.bound;
  }

  openConnections(): number {
    return this.open.count();
  }
}
