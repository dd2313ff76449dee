import { request } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import type { ConnectionStatus } from '../../p2p/conn/connection-status.js';
import type { NodeInfo } from '../../p2p/node-info.js';
import type { DialPeersOptions, PeerRates, RpcBackend, RpcPeer } from '../../node/rpc/backend.js';
import { RpcServer } from '../../node/rpc/server.js';

const OUR_ID = 'b93270b358a72a2db30089f3856475bb1f918d6d';
const PEER_ID = '5576458aef205977e18fd50b274e9b5d9014525a';

function info(id: string, moniker: string): NodeInfo {
  return {
    protocolVersion: { p2p: 8, block: 11, app: 0 },
    id,
    listenAddr: 'tcp://0.0.0.0:26656',
    network: 'test-chain',
    version: '0.1.0',
    channels: Uint8Array.from([0x00, 0x40]),
    moniker,
    other: { txIndex: 'off', rpcAddress: 'tcp://127.0.0.1:26657' },
  };
}

const rate = { startMs: Date.UTC(2026, 0, 1), durationMs: 2000, idleMs: 5, bytes: 1234, samples: 20, instRate: 10, curRate: 11, avgRate: 12, peakRate: 13 };
const status: ConnectionStatus = {
  durationMs: 2000,
  sendRate: 5120000,
  recvRate: 5120000,
  sendMonitor: rate,
  recvMonitor: rate,
  channels: [{ id: 0, priority: 1, sendQueueCapacity: 10, sendQueueSize: 0, recentlySent: 7, bytesSent: 1, bytesReceived: 2, messagesSent: 1, messagesReceived: 1 }],
};

class FakeBackend implements RpcBackend {
  calls: Array<[string, unknown[]]> = [];
  peerList: RpcPeer[] = [{ nodeInfo: info(PEER_ID, 'peer-one'), isOutbound: true, status, remoteIp: '95.179.155.35' }];
  nodeInfo(): NodeInfo {
    return info(OUR_ID, 'ours');
  }
  publicKey(): Uint8Array {
    return new Uint8Array(32).fill(7);
  }
  isListening(): boolean {
    return true;
  }
  listeners(): string[] {
    return ['Listener(@tcp://0.0.0.0:26656)'];
  }
  peers(): RpcPeer[] {
    return this.peerList;
  }
  dialSeeds(addresses: string[]): void {
    this.calls.push(['dialSeeds', [addresses]]);
  }
  dialPeers(addresses: string[], options: DialPeersOptions): void {
    this.calls.push(['dialPeers', [addresses, options]]);
  }
  disconnectPeer(peerId: string): void {
    this.calls.push(['disconnectPeer', [peerId]]);
    if (peerId !== PEER_ID) throw new Error(`peer ${peerId} is not connected`);
  }
  async banAddress(address: string, durationMs: number): Promise<{ untilMs: number }> {
    this.calls.push(['banAddress', [address, durationMs]]);
    return { untilMs: Date.UTC(2026, 0, 1) + durationMs };
  }
  unbanAddress(address: string): void {
    this.calls.push(['unbanAddress', [address]]);
  }
  setPeerRates(peerId: string, rates: PeerRates): void {
    this.calls.push(['setPeerRates', [peerId, rates]]);
  }
}

let servers: RpcServer[] = [];
afterEach(async () => {
  await Promise.all(servers.map((s) => s.close()));
  servers = [];
});

async function start(unsafe: boolean, extra: { maxBodyBytes?: number } = {}): Promise<{ backend: FakeBackend; port: number; server: RpcServer }> {
  const backend = new FakeBackend();
  const server = new RpcServer({ backend }, { host: '127.0.0.1', port: 0, unsafe, ...extra });
  servers.push(server);
  const { port } = await server.listen();
  return { backend, port, server };
}

function http(port: number, method: string, path: string, body?: string): Promise<{ status: number; json: any; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method, path, headers: body ? { 'content-type': 'application/json' } : {} }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => {
        let json: unknown;
        try {
          json = JSON.parse(text);
        } catch {
          json = undefined;
        }
        resolve({ status: res.statusCode ?? 0, json, text });
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

const post = (port: number, body: unknown) => http(port, 'POST', '/', typeof body === 'string' ? body : JSON.stringify(body));

describe('RPC: read-only routes in CometBFT shapes', () => {
  it('GET /status', async () => {
    const { port } = await start(false);
    const res = await http(port, 'GET', '/status');
    expect(res.status).toBe(200);
    expect(res.json).toEqual({
      jsonrpc: '2.0',
      id: -1,
      result: {
        node_info: {
          protocol_version: { p2p: '8', block: '11', app: '0' },
          id: OUR_ID,
          listen_addr: 'tcp://0.0.0.0:26656',
          network: 'test-chain',
          version: '0.1.0',
          channels: '0040',
          moniker: 'ours',
          other: { tx_index: 'off', rpc_address: 'tcp://127.0.0.1:26657' },
        },
        sync_info: expect.objectContaining({ latest_block_height: '0', catching_up: false }),
        validator_info: { address: OUR_ID.toUpperCase(), pub_key: { type: 'tendermint/PubKeyEd25519', value: Buffer.alloc(32, 7).toString('base64') }, voting_power: '0' },
      },
    });
  });

  it('GET /net_info', async () => {
    const { port } = await start(false);
    const res = await http(port, 'GET', '/net_info');
    expect(res.status).toBe(200);
    const r = res.json.result;
    expect(r.listening).toBe(true);
    expect(r.listeners).toEqual(['Listener(@tcp://0.0.0.0:26656)']);
    expect(r.n_peers).toBe('1');
    expect(r.peers[0].node_info.id).toBe(PEER_ID);
    expect(r.peers[0].is_outbound).toBe(true);
    expect(r.peers[0].remote_ip).toBe('95.179.155.35');
    expect(r.peers[0].connection_status.Duration).toBe('2000000000');
    expect(r.peers[0].connection_status.SendMonitor).toMatchObject({ Bytes: '1234', Start: '2026-01-01T00:00:00.000Z', Active: true });
    expect(r.peers[0].connection_status.Channels).toEqual([{ ID: 0, SendQueueCapacity: '10', SendQueueSize: '0', Priority: '1', RecentlySent: '7' }]);
  });

  it('answers the same methods as JSON-RPC POST, with the caller id', async () => {
    const { port } = await start(false);
    const res = await post(port, { jsonrpc: '2.0', id: 'abc', method: 'net_info' });
    expect(res.status).toBe(200);
    expect(res.json.id).toBe('abc');
    expect(res.json.result.n_peers).toBe('1');
    const health = await post(port, { jsonrpc: '2.0', id: 5, method: 'health', params: {} });
    expect(health.json).toEqual({ jsonrpc: '2.0', id: 5, result: {} });
  });

  it('handles batches', async () => {
    const { port } = await start(false);
    const res = await post(port, [
      { jsonrpc: '2.0', id: 1, method: 'health' },
      { jsonrpc: '2.0', id: 2, method: 'nope' },
      { jsonrpc: '1.0', id: 3, method: 'health' },
    ]);
    expect(res.json.map((r: any) => [r.id, r.error?.code ?? 'ok'])).toEqual([
      [1, 'ok'],
      [2, -32601],
      [3, -32600],
    ]);
  });

  it('lists methods at GET /, without the unsafe ones when disabled', async () => {
    const { port } = await start(false);
    const res = await http(port, 'GET', '/');
    expect(res.text).toContain('/net_info');
    expect(res.text).not.toContain('dial_seeds');
  });
});

describe('RPC: malformed requests get JSON-RPC errors, never a crash', () => {
  it('parse error, invalid requests, unknown methods, bad params, oversize bodies', async () => {
    const { port } = await start(true, { maxBodyBytes: 1000 });
    const parse = await post(port, '{"jsonrpc": "2.0", "method": ');
    expect(parse.status).toBe(400);
    expect(parse.json.error.code).toBe(-32700);
    for (const bad of [5, '"x"', null, { jsonrpc: '2.0' }, { jsonrpc: '2.0', id: {}, method: 'health' }, { jsonrpc: '2.0', method: '' }]) {
      const r = await post(port, bad);
      expect(r.json.error.code, JSON.stringify(bad)).toBe(-32600);
    }
    expect((await post(port, [])).json.error.code).toBe(-32600);
    const unknown = await post(port, { jsonrpc: '2.0', id: 1, method: 'broadcast_tx_sync' });
    expect(unknown.json.error).toEqual({ code: -32601, message: 'Method not found', data: 'no method "broadcast_tx_sync"' });
    const huge = await post(port, { jsonrpc: '2.0', id: 1, method: 'health', params: { pad: 'x'.repeat(2000) } });
    expect(huge.status).toBe(413);
    expect((await http(port, 'GET', '/no_such')).status).toBe(404);
    expect((await http(port, 'DELETE', '/status')).status).toBe(405);
    const badParams: Array<[string, unknown, RegExp]> = [
      ['health', 'x', /params must be an object or an array/],
      ['health', { x: 1 }, /unknown param x; health takes no params/],
      ['dial_seeds', {}, /seeds: expected a JSON array of id@host:port strings .*missing/],
      ['dial_seeds', { seeds: [] }, /no seeds provided/],
      ['dial_seeds', { seeds: 'a' }, /seeds: expected a JSON array/],
      ['dial_seeds', { seeds: ['1.2.3.4:26656'] }, /exactly one "@"/],
      ['dial_peers', { peers: [`${PEER_ID}@1.2.3.4:1`], persistent: 'yes' }, /persistent: expected true or false/],
      ['dial_peers', [[`${PEER_ID}@1.2.3.4:1`], true, false, false, 'extra'], /takes at most 4 params/],
      ['disconnect_peer', { peer_id: 'zz' }, /peer_id: expected a node ID of 40 hex characters/],
      ['ban_address', { address: `${PEER_ID}@1.2.3.4:1`, duration: '-1h' }, /duration: expected a duration .*negative/],
      ['ban_address', { address: `${PEER_ID}@1.2.3.4:1`, duration: 3600 }, /duration: expected a duration/],
      ['ban_address', { address: '1.2.3.4:1', duration: '1h' }, /address: expected an address id@host:port/],
      ['set_peer_rates', { peer_id: PEER_ID }, /give send_rate, recv_rate or both/],
      ['set_peer_rates', { peer_id: PEER_ID, send_rate: -1 }, /send_rate: expected a non-negative integer/],
      ['set_peer_rates', { peer_id: PEER_ID, recv_rate: 1.5 }, /recv_rate: expected a non-negative integer/],
    ];
    for (const [method, params, data] of badParams) {
      const r = await post(port, { jsonrpc: '2.0', id: 9, method, params });
      expect(r.status).toBe(200);
      expect(r.json.error?.code, `${method} ${JSON.stringify(params)}`).toBe(-32602);
      expect(r.json.error.data).toMatch(data);
    }
    // Still serving after all that.
    expect((await http(port, 'GET', '/health')).json.result).toEqual({});
  });

  it('a backend failure becomes an internal error with the reason', async () => {
    const { port } = await start(true);
    const r = await post(port, { jsonrpc: '2.0', id: 1, method: 'disconnect_peer', params: { peer_id: 'c'.repeat(40) } });
    expect(r.json.error).toEqual({ code: -32603, message: 'Internal error', data: `peer ${'c'.repeat(40)} is not connected` });
  });
});

describe('RPC: operator calls', () => {
  it('are refused unless [rpc] unsafe = true', async () => {
    const { port, backend } = await start(false);
    for (const method of ['dial_seeds', 'dial_peers', 'disconnect_peer', 'ban_address', 'unban_address', 'set_peer_rates']) {
      const r = await post(port, { jsonrpc: '2.0', id: 1, method, params: {} });
      expect(r.json.error.code).toBe(-32601);
      expect(r.json.error.data).toBe(`${method} is an operator method, disabled; enable it with [rpc] unsafe = true`);
      expect((await http(port, 'GET', `/${method}`)).status).toBe(404);
    }
    expect(backend.calls).toEqual([]);
  });

  it('reach the backend with converted params when enabled (POST and GET)', async () => {
    const { port, backend } = await start(true);
    const addr = `${PEER_ID}@1.2.3.4:26656`;
    const seeds = await post(port, { jsonrpc: '2.0', id: 1, method: 'dial_seeds', params: { seeds: [addr] } });
    expect(seeds.json.result).toEqual({ Log: 'Dialing seeds in progress. See /net_info for details' });
    await post(port, { jsonrpc: '2.0', id: 2, method: 'dial_peers', params: { peers: [addr], persistent: true } });
    await http(port, 'GET', `/dial_peers?peers=${encodeURIComponent(JSON.stringify([addr]))}&unconditional=true&private=false`);
    await post(port, { jsonrpc: '2.0', id: 3, method: 'disconnect_peer', params: [PEER_ID.toUpperCase()] });
    const ban = await http(port, 'GET', `/ban_address?address="${addr}"&duration="1h"`);
    expect(ban.json.result).toEqual({ address: addr, banned_until: '2026-01-01T01:00:00.000Z' });
    await http(port, 'GET', `/unban_address?address=${addr}`);
    await post(port, { jsonrpc: '2.0', id: 4, method: 'set_peer_rates', params: { peer_id: PEER_ID, send_rate: 1000 } });
    await http(port, 'GET', `/set_peer_rates?peer_id=${PEER_ID}&recv_rate=0`);
    expect(backend.calls).toEqual([
      ['dialSeeds', [[addr]]],
      ['dialPeers', [[addr], { persistent: true, unconditional: false, private: false }]],
      ['dialPeers', [[addr], { persistent: false, unconditional: true, private: false }]],
      ['disconnectPeer', [PEER_ID]],
      ['banAddress', [addr, 3_600_000]],
      ['unbanAddress', [addr]],
      ['setPeerRates', [PEER_ID, { sendRate: 1000, recvRate: undefined }]],
      ['setPeerRates', [PEER_ID, { sendRate: undefined, recvRate: 0 }]],
    ]);
  });

  it('keeps an all-digit node ID a string in URI calls', async () => {
    const { port, backend } = await start(true);
    const digits = '1'.repeat(40);
    await http(port, 'GET', `/disconnect_peer?peer_id=${digits}`);
    expect(backend.calls).toEqual([['disconnectPeer', [digits]]]);
  });

  it('fails to listen on a port in use', async () => {
    const { port } = await start(false);
    const other = new RpcServer({ backend: new FakeBackend() }, { host: '127.0.0.1', port });
    servers.push(other);
    await expect(other.listen()).rejects.toThrow(/EADDRINUSE/);
  });
});

describe('RPC: arbitrary input never escapes as an exception', () => {
  it('any method name and params give a well-formed envelope (property)', async () => {
    const fc = await import('fast-check');
    const server = new RpcServer({ backend: new FakeBackend() }, { host: '127.0.0.1', port: 0, unsafe: true });
    const names = fc.oneof(fc.constantFrom('status', 'net_info', 'health', 'dial_seeds', 'dial_peers', 'disconnect_peer', 'ban_address', 'unban_address', 'set_peer_rates'), fc.string());
    await fc.assert(
      fc.asyncProperty(names, fc.jsonValue(), fc.oneof(fc.string(), fc.integer(), fc.constant(null)), async (method, params, id) => {
        const r = await server.call(method, params, id);
        expect(r.jsonrpc).toBe('2.0');
        expect(r.id).toBe(id);
        if ('error' in r) {
          expect([-32601, -32602, -32603]).toContain(r.error.code);
          expect(typeof r.error.data).toBe('string');
        } else expect(r.result).toBeDefined();
      }),
      { numRuns: 500 },
    );
  });

  it('random POST bodies over HTTP always get a JSON answer', async () => {
    const fc = await import('fast-check');
    const { port } = await start(true);
    await fc.assert(
      fc.asyncProperty(fc.oneof(fc.string(), fc.json(), fc.jsonValue().map((v) => JSON.stringify(v))), async (body) => {
        const r = await http(port, 'POST', '/', body);
        expect([200, 400, 413]).toContain(r.status);
        expect(r.json).toBeDefined();
      }),
      { numRuns: 200 },
    );
    expect((await http(port, 'GET', '/health')).status).toBe(200);
  });
});
