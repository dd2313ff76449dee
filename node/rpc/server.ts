/**
 * HTTP JSON-RPC 2.0 server in CometBFT's style, on node:http:
 *  - POST / with a request object or a batch array;
 *  - GET /<method>?name=value (URI style; values may be JSON: seeds=["id@1.2.3.4:26656"]), id -1;
 *  - GET / lists the available methods.
 * A malformed or disabled call gets a JSON-RPC error; nothing a client sends can throw out of here.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { boundAddress, closeHttp, listenHttp } from '../http-server-lifecycle.js';
import type { Logger } from '../../p2p/logger.js';
import { silentLogger } from '../../p2p/logger.js';
import type { RpcBackend } from './backend.js';
import {
  JSON_RPC_INTERNAL_ERROR,
  JSON_RPC_INVALID_REQUEST,
  JSON_RPC_METHOD_NOT_FOUND,
  JSON_RPC_PARSE_ERROR,
  RpcError,
  checkRequest,
  failure,
  success,
  type JsonRpcId,
  type JsonRpcResponse,
} from './json-rpc.js';
import { METHODS, bindParams, type MethodDef, type ParamSpec } from './methods.js';

export interface RpcServerOptions {
  /** Host to bind; "" means every interface. */
  host: string;
  port: number;
  /** Enables the operator methods (`[rpc] unsafe`). Default false. */
  unsafe?: boolean;
  /** Largest request body accepted (CometBFT's default, 1 000 000 bytes). */
  maxBodyBytes?: number;
  /** Most requests in one batch. Default 100. */
  maxBatchSize?: number;
  /** Simultaneous connections; 0 = unlimited. Default 900 (CometBFT's). */
  maxOpenConnections?: number;
  /** Time a client has to send a whole request (ms). Default 10 000 (CometBFT's read timeout). */
  requestTimeoutMs?: number;
}

export const DEFAULT_MAX_BODY_BYTES = 1_000_000;

export class RpcServer {
  private readonly backend: RpcBackend;
  private readonly logger: Logger;
  private readonly unsafe: boolean;
  private readonly maxBodyBytes: number;
  private readonly maxBatchSize: number;
  private readonly server: Server;

  constructor(deps: { backend: RpcBackend; logger?: Logger }, private readonly options: RpcServerOptions) {
    this.backend = deps.backend;
    this.logger = deps.logger ?? silentLogger;
    this.unsafe = options.unsafe ?? false;
    this.maxBodyBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
    this.maxBatchSize = options.maxBatchSize ?? 100;
    this.server = createServer((req, res) => {
      this.handle(req, res).catch((err: unknown) => {
        // Only reachable through a bug in this file; the client still gets an answer.
        this.logger.error({ err }, 'rpc request failed');
        if (!res.headersSent) send(res, 500, failure(null, JSON_RPC_INTERNAL_ERROR, 'internal error'));
        else res.destroy();
      });
    });
    const maxConnections = options.maxOpenConnections ?? 900;
    if (maxConnections > 0) this.server.maxConnections = maxConnections;
    // A slow or idle client cannot hold a connection open for long.
    this.server.requestTimeout = options.requestTimeoutMs ?? 10_000;
    this.server.headersTimeout = Math.min(this.server.requestTimeout, 10_000);
  }

  /** The methods callable on this server (unsafe ones only when enabled). */
  methods(): MethodDef[] {
    return METHODS.filter((m) => this.unsafe || !m.unsafe);
  }

  /** Runs one call and always resolves with a response envelope. */
  async call(method: string, params: unknown, id: JsonRpcId): Promise<JsonRpcResponse> {
    const def = METHODS.find((m) => m.name === method);
    if (!def) return failure(id, JSON_RPC_METHOD_NOT_FOUND, `no method "${method}"`);
    if (def.unsafe && !this.unsafe) {
      return failure(id, JSON_RPC_METHOD_NOT_FOUND, `${method} is an operator method, disabled; enable it with [rpc] unsafe = true`);
    }
    try {
      const args = bindParams(def, params);
      return success(id, await def.run(this.backend, args));
    } catch (err) {
      if (err instanceof RpcError) return failure(id, err.code, err.data);
      this.logger.debug({ err, method }, 'rpc method failed');
      return failure(id, JSON_RPC_INTERNAL_ERROR, err instanceof Error ? err.message : String(err));
    }
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

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://rpc.invalid');
    if (req.method === 'POST') return this.handlePost(req, res);
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      send(res, 405, failure(null, JSON_RPC_INVALID_REQUEST, 'use GET or POST'), { allow: 'GET, HEAD, POST' });
      return;
    }
    const name = decodeURIComponent(url.pathname.slice(1));
    if (name === '') {
      res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' });
      res.end(this.methods().map((m) => `/${m.name}${m.params.length ? `?${m.params.map((s) => `${s.name}=_`).join('&')}` : ''}  ${m.summary}`).join('\n') + '\n');
      return;
    }
    const def = METHODS.find((m) => m.name === name);
    const params: Record<string, unknown> = {};
    for (const [key, raw] of url.searchParams) {
      const spec = def?.params.find((s) => s.name === key);
      params[key] = spec ? uriValue(spec, raw) : raw;
    }
    const response = await this.call(name, params, -1);
    const notFound = 'error' in response && response.error.code === JSON_RPC_METHOD_NOT_FOUND;
    send(res, notFound ? 404 : 200, response);
  }

  private async handlePost(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = await readBody(req, this.maxBodyBytes);
    if (body === undefined) {
      send(res, 413, failure(null, JSON_RPC_INVALID_REQUEST, `request body over ${this.maxBodyBytes} bytes`), { connection: 'close' });
      return;
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(body);
    } catch (err) {
      send(res, 400, failure(null, JSON_RPC_PARSE_ERROR, (err as Error).message));
      return;
    }
    if (Array.isArray(parsed)) {
      if (parsed.length === 0) return send(res, 400, failure(null, JSON_RPC_INVALID_REQUEST, 'empty batch'));
      if (parsed.length > this.maxBatchSize) {
        return send(res, 400, failure(null, JSON_RPC_INVALID_REQUEST, `batch of ${parsed.length} requests, at most ${this.maxBatchSize}`));
      }
      const out: JsonRpcResponse[] = [];
      for (const item of parsed) out.push(await this.callChecked(item));
      send(res, 200, out);
      return;
    }
    send(res, 200, await this.callChecked(parsed));
  }

  private async callChecked(item: unknown): Promise<JsonRpcResponse> {
    const r = checkRequest(item);
    if ('error' in r) return r;
    return this.call(r.method, r.params, r.id);
  }
}

/** A URI query value: JSON when it parses as the param's type, else the raw text. */
function uriValue(spec: ParamSpec, raw: string): unknown {
  const json = tryJson(raw);
  switch (spec.type) {
    case 'bool':
    case 'uint':
      return json.ok ? json.value : raw;
    case 'address-list':
      if (json.ok && Array.isArray(json.value)) return json.value;
      if (json.ok && typeof json.value === 'string') return json.value.split(',').map((s) => s.trim()).filter(Boolean);
      return raw.split(',').map((s) => s.trim()).filter(Boolean);
    default:
      // Strings may come quoted ("abc") or bare (abc); a bare all-digit ID must stay a string.
      return json.ok && typeof json.value === 'string' ? json.value : raw;
  }
}

function tryJson(raw: string): { ok: true; value: unknown } | { ok: false } {
  try {
    return { ok: true, value: JSON.parse(raw) };
  } catch {
    return { ok: false };
  }
}

/** The body as text, or undefined when it is larger than `limit` (the rest is not read). */
function readBody(req: IncomingMessage, limit: number): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    req.on('data', (chunk: Buffer) => {
      if (done) return;
      size += chunk.length;
      if (size > limit) {
        done = true;
        resolve(undefined);
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => {
      if (!done) resolve(Buffer.concat(chunks).toString('utf8'));
    });
    req.on('error', (err) => {
      if (!done) reject(err);
    });
  });
}

function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body, null, 2);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}
