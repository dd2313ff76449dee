/**
 * The RPC methods: CometBFT's `health`, `status`, `net_info`, `dial_seeds`, `dial_peers`, and
 * Switchyard's operator calls `disconnect_peer`, `ban_address`, `unban_address`,
 * `set_peer_rates`. Methods marked unsafe exist only when `[rpc] unsafe = true`.
 */
import { toCometConnectionStatus } from '../../p2p/conn/connection-status.js';
import { nodeInfoToJson } from '../../p2p/node-info.js';
import { nodeIdProblem } from '../../p2p/node-id.js';
import { peerAddressProblem, PEER_ADDRESS_FORM } from '../address-syntax.js';
import { DURATION_FORM, parseDurationMs } from '../duration.js';
import type { RpcBackend } from './backend.js';
import { JSON_RPC_INVALID_PARAMS, RpcError } from './json-rpc.js';

export type ParamType = 'string' | 'address-list' | 'bool' | 'uint' | 'duration' | 'peer-id' | 'peer-address';

export interface ParamSpec {
  name: string;
  type: ParamType;
  required: boolean;
}

export interface MethodDef {
  name: string;
  unsafe: boolean;
  params: readonly ParamSpec[];
  summary: string;
  run(backend: RpcBackend, args: Readonly<Record<string, unknown>>): Promise<unknown> | unknown;
}

const PARAM_FORM: Record<ParamType, string> = {
  string: 'a string',
  'address-list': `a JSON array of id@host:port strings (${PEER_ADDRESS_FORM})`,
  bool: 'true or false',
  uint: 'a non-negative integer',
  duration: DURATION_FORM,
  'peer-id': 'a node ID of 40 hex characters',
  'peer-address': 'an address id@host:port',
};

const p = (name: string, type: ParamType, required = true): ParamSpec => ({ name, type, required });

/** The status a p2p-only node reports where a full node reports its chain state. */
const EMPTY_SYNC_INFO = {
  latest_block_hash: '',
  latest_app_hash: '',
  latest_block_height: '0',
  latest_block_time: '0001-01-01T00:00:00Z',
  earliest_block_hash: '',
  earliest_app_hash: '',
  earliest_block_height: '0',
  earliest_block_time: '0001-01-01T00:00:00Z',
  catching_up: false,
};

export const METHODS: readonly MethodDef[] = [
  {
    name: 'health',
    unsafe: false,
    params: [],
    summary: 'Empty result while the node runs.',
    run: () => ({}),
  },
  {
    name: 'status',
    unsafe: false,
    params: [],
    summary: 'Node info (ID, listen address, network, channels), empty sync info, our public key.',
    run: (b) => {
      const info = b.nodeInfo();
      return {
        node_info: nodeInfoToJson(info),
        sync_info: { ...EMPTY_SYNC_INFO },
        validator_info: {
          // CometBFT's address of an Ed25519 key is the same truncated hash as the node ID.
          address: info.id.toUpperCase(),
          pub_key: { type: 'tendermint/PubKeyEd25519', value: Buffer.from(b.publicKey()).toString('base64') },
          voting_power: '0',
        },
      };
    },
  },
  {
    name: 'net_info',
    unsafe: false,
    params: [],
    summary: 'Listening state, listeners, peers with node info, direction, connection status and IP.',
    run: (b) => {
      const peers = b.peers();
      return {
        listening: b.isListening(),
        listeners: b.listeners(),
        n_peers: String(peers.length),
        peers: peers.map((peer) => ({
          node_info: nodeInfoToJson(peer.nodeInfo),
          is_outbound: peer.isOutbound,
          connection_status: toCometConnectionStatus(peer.status),
          remote_ip: peer.remoteIp,
        })),
      };
    },
  },
  {
    name: 'dial_seeds',
    unsafe: true,
    params: [p('seeds', 'address-list')],
    summary: 'Dials the given seeds (id@host:port), without waiting for the dials.',
    run: (b, a) => {
      b.dialSeeds(a.seeds as string[]);
      return { Log: 'Dialing seeds in progress. See /net_info for details' };
    },
  },
  {
    name: 'dial_peers',
    unsafe: true,
    params: [p('peers', 'address-list'), p('persistent', 'bool', false), p('unconditional', 'bool', false), p('private', 'bool', false)],
    summary: 'Dials the given peers; optionally marks them persistent, unconditional or private.',
    run: (b, a) => {
      b.dialPeers(a.peers as string[], {
        persistent: a.persistent === true,
        unconditional: a.unconditional === true,
        private: a.private === true,
      });
      return { Log: 'Dialing peers in progress. See /net_info for details' };
    },
  },
  {
    name: 'disconnect_peer',
    unsafe: true,
    params: [p('peer_id', 'peer-id')],
    summary: 'Disconnects a connected peer (it may reconnect; ban it to keep it away).',
    run: async (b, a) => {
      await b.disconnectPeer(a.peer_id as string);
      return {};
    },
  },
  {
    name: 'ban_address',
    unsafe: true,
    params: [p('address', 'peer-address'), p('duration', 'duration')],
    summary: 'Bans id@ip:port in the address book for a duration and disconnects it.',
    run: async (b, a) => {
      const { untilMs } = await b.banAddress(a.address as string, a.duration as number);
      return { address: a.address, banned_until: new Date(untilMs).toISOString() };
    },
  },
  {
    name: 'unban_address',
    unsafe: true,
    params: [p('address', 'peer-address')],
    summary: 'Lifts a ban at once.',
    run: async (b, a) => {
      await b.unbanAddress(a.address as string);
      return {};
    },
  },
  {
    name: 'set_peer_rates',
    unsafe: true,
    params: [p('peer_id', 'peer-id'), p('send_rate', 'uint', false), p('recv_rate', 'uint', false)],
    summary: "Changes one connected peer's send/receive limits in bytes per second (0 = unlimited).",
    run: async (b, a) => {
      if (a.send_rate === undefined && a.recv_rate === undefined) {
        throw new RpcError(JSON_RPC_INVALID_PARAMS, 'give send_rate, recv_rate or both');
      }
      await b.setPeerRates(a.peer_id as string, { sendRate: a.send_rate as number | undefined, recvRate: a.recv_rate as number | undefined });
      return {};
    },
  },
];

function invalid(param: ParamSpec, detail?: string): RpcError {
  return new RpcError(JSON_RPC_INVALID_PARAMS, `${param.name}: expected ${PARAM_FORM[param.type]}${detail ? ` (${detail})` : ''}`);
}

function convert(param: ParamSpec, value: unknown): unknown {
  switch (param.type) {
    case 'string':
      if (typeof value !== 'string') throw invalid(param);
      return value;
    case 'bool':
      if (typeof value !== 'boolean') throw invalid(param);
      return value;
    case 'uint':
      if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) throw invalid(param);
      return value;
    case 'duration': {
      if (typeof value !== 'string') throw invalid(param);
      const r = parseDurationMs(value);
      if ('problem' in r) throw invalid(param, r.problem);
      return r.ms;
    }
    case 'peer-id': {
      if (typeof value !== 'string') throw invalid(param);
      const problem = nodeIdProblem(value);
      if (problem) throw invalid(param, problem);
      return value.toLowerCase();
    }
    case 'peer-address': {
      if (typeof value !== 'string') throw invalid(param);
      const problem = peerAddressProblem(value);
      if (problem) throw invalid(param, problem);
      return value.trim();
    }
    case 'address-list': {
      if (!Array.isArray(value) || !value.every((v) => typeof v === 'string')) throw invalid(param);
      if (value.length === 0) throw invalid(param, `no ${param.name} provided`);
      for (const entry of value as string[]) {
        const problem = peerAddressProblem(entry);
        if (problem) throw invalid(param, problem);
      }
      return (value as string[]).map((s) => s.trim());
    }
    default:
      throw invalid(param);
  }
}

/**
 * Checks and converts a call's params: named (an object), positional (an array) or absent.
 * Throws RpcError(-32602) naming the first bad param.
 */
export function bindParams(method: MethodDef, params: unknown): Record<string, unknown> {
  let named: Record<string, unknown>;
  if (params === undefined || params === null) named = {};
  else if (Array.isArray(params)) {
    if (params.length > method.params.length) {
      throw new RpcError(JSON_RPC_INVALID_PARAMS, `${method.name} takes at most ${method.params.length} params, got ${params.length}`);
    }
    named = {};
    params.forEach((v, i) => (named[method.params[i].name] = v));
  } else if (typeof params === 'object') named = params as Record<string, unknown>;
  else throw new RpcError(JSON_RPC_INVALID_PARAMS, 'params must be an object or an array');

  for (const key of Object.keys(named)) {
    if (!method.params.some((s) => s.name === key)) {
      const known = method.params.map((s) => s.name);
      throw new RpcError(JSON_RPC_INVALID_PARAMS, `unknown param ${key}; ${method.name} takes ${known.length ? known.join(', ') : 'no params'}`);
    }
  }
  const out: Record<string, unknown> = {};
  for (const spec of method.params) {
    const v = named[spec.name];
    if (v === undefined || v === null) {
      if (spec.required) throw invalid(spec, 'missing');
      continue;
    }
    out[spec.name] = convert(spec, v);
  }
  return out;
}
