/**
 * JSON-RPC 2.0 envelopes as CometBFT's RPC writes them. GET requests (URI style) answer with
 * id -1, like CometBFT.
 */

export const JSON_RPC_PARSE_ERROR = -32700;
export const JSON_RPC_INVALID_REQUEST = -32600;
export const JSON_RPC_METHOD_NOT_FOUND = -32601;
export const JSON_RPC_INVALID_PARAMS = -32602;
export const JSON_RPC_INTERNAL_ERROR = -32603;

const MESSAGES: Record<number, string> = {
  [JSON_RPC_PARSE_ERROR]: 'Parse error',
  [JSON_RPC_INVALID_REQUEST]: 'Invalid Request',
  [JSON_RPC_METHOD_NOT_FOUND]: 'Method not found',
  [JSON_RPC_INVALID_PARAMS]: 'Invalid params',
  [JSON_RPC_INTERNAL_ERROR]: 'Internal error',
};

export type JsonRpcId = string | number | null;

export interface JsonRpcSuccess {
  jsonrpc: '2.0';
  id: JsonRpcId;
  result: unknown;
}

export interface JsonRpcFailure {
  jsonrpc: '2.0';
  id: JsonRpcId;
  error: { code: number; message: string; data: string };
}

export type JsonRpcResponse = JsonRpcSuccess | JsonRpcFailure;

/** An error a method raises on purpose, with its JSON-RPC code. */
export class RpcError extends Error {
  constructor(readonly code: number, readonly data: string) {
    super(`${MESSAGES[code] ?? 'Error'}: ${data}`);
    this.name = 'RpcError';
  }
}

export function success(id: JsonRpcId, result: unknown): JsonRpcSuccess {
  return { jsonrpc: '2.0', id, result };
}

export function failure(id: JsonRpcId, code: number, data: string): JsonRpcFailure {
  return { jsonrpc: '2.0', id, error: { code, message: MESSAGES[code] ?? 'Error', data } };
}

export interface JsonRpcRequest {
  id: JsonRpcId;
  method: string;
  params: unknown;
}

/** Checks one request object's envelope; returns a failure to send back when it is malformed. */
export function checkRequest(value: unknown): JsonRpcRequest | JsonRpcFailure {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return failure(null, JSON_RPC_INVALID_REQUEST, 'a request must be a JSON object');
  }
  const v = value as Record<string, unknown>;
  const id = v.id === undefined ? null : v.id;
  if (id !== null && typeof id !== 'string' && typeof id !== 'number') {
    return failure(null, JSON_RPC_INVALID_REQUEST, 'id must be a string, a number or null');
  }
  if (v.jsonrpc !== '2.0') return failure(id, JSON_RPC_INVALID_REQUEST, 'jsonrpc must be "2.0"');
  if (typeof v.method !== 'string' || v.method === '') return failure(id, JSON_RPC_INVALID_REQUEST, 'method must be a non-empty string');
  return { id, method: v.method, params: v.params };
}
