/**
 * Node IDs: lowercase hex of the first 20 bytes of SHA-256 over the raw 32-byte Ed25519 public
 * key (CometBFT's `PubKeyToID`). Always emitted lowercase: peers compare IDs as strings.
 */
import { createHash } from 'node:crypto';

export type NodeId = string;

export const NODE_ID_BYTE_LENGTH = 20;

export function nodeIdFromPubKey(publicKey: Uint8Array): NodeId {
  if (publicKey.length !== 32) throw new RangeError(`an Ed25519 public key has 32 bytes, got ${publicKey.length}`);
  return createHash('sha256').update(publicKey).digest().subarray(0, NODE_ID_BYTE_LENGTH).toString('hex');
}

/**
 * Why `id` is not a valid node ID, or undefined when it is. Like CometBFT, upper- and lowercase
 * hex are both accepted here; code that emits IDs must use lowercase.
 */
export function nodeIdProblem(id: string): string | undefined {
  if (id.length === 0) return 'no ID';
  if (!/^[0-9a-fA-F]*$/.test(id) || id.length % 2 !== 0) return 'ID is not hex';
  if (id.length !== NODE_ID_BYTE_LENGTH * 2) return `ID must be ${NODE_ID_BYTE_LENGTH} bytes (${NODE_ID_BYTE_LENGTH * 2} hex characters), got ${id.length / 2}`;
  return undefined;
}

export function isValidNodeId(id: string): boolean {
  return nodeIdProblem(id) === undefined;
}
