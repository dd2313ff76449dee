/**
 * Serves a registry's text exposition on GET /metrics (and GET /, like CometBFT's handler).
 * Bounded: at most `maxOpenConnections` sockets at once, anything else gets 404 or 405.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { boundAddress, closeHttp, listenHttp } from './http-server-lifecycle.js';
import type { PrometheusRegistry } from './metrics.js';

export interface MetricsServerOptions {
  host: string;
  port: number;
  /** Maximum simultaneous connections; 0 = unlimited. Default 3 (CometBFT's). */
  maxOpenConnections?: number;
}

export class MetricsServer {
  private readonly server: Server;

  constructor(private readonly registry: PrometheusRegistry, private readonly options: MetricsServerOptions) {
    this.server = createServer((req, res) => {
      const path = (req.url ?? '/').split('?')[0];
      if (path !== '/metrics' && path !== '/') {
        res.writeHead(404, { 'content-type': 'text/plain' }).end('not found; metrics are at /metrics\n');
        return;
      }
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.writeHead(405, { 'content-type': 'text/plain', allow: 'GET, HEAD' }).end('use GET\n');
        return;
      }
      const body = this.registry.expose();
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8', 'content-length': Buffer.byteLength(body) });
      res.end(req.method === 'HEAD' ? undefined : body);
    });
    const max = options.maxOpenConnections ?? 3;
    if (max > 0) this.server.maxConnections = max;
    this.server.requestTimeout = 10_000;
    this.server.headersTimeout = 10_000;
  }

  /** Starts listening; rejects when the address cannot be bound (for example, in use). */
  listen(): Promise<AddressInfo> {
    return listenHttp(this.server, this.options.host, this.options.port);
  }

  address(): AddressInfo | undefined {
    return boundAddress(this.server);
  }

  /** Stops listening and closes open client connections. */
  close(): Promise<void> {
    return closeHttp(this.server);
  }
}
