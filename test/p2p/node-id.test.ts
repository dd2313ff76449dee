import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { isValidNodeId, nodeIdFromPubKey, nodeIdProblem } from '../../p2p/node-id.js';

const handshake = JSON.parse(readFileSync('../shared/vectors/cometbft/derived-secret-connection-handshake.json', 'utf8'));

describe('node IDs', () => {
  it('derives the ID of both vector sides from their public keys', () => {
    for (const side of [handshake.side_A, handshake.side_B]) {
      expect(nodeIdFromPubKey(Buffer.from(side.ed25519_pubkey, 'hex'))).toBe(side.node_id);
    }
  });

  it('validates form: hex of 20 bytes, either case', () => {
    expect(isValidNodeId('deadbeefdeadbeefdeadbeefdeadbeefdeadbeef')).toBe(true);
    expect(isValidNodeId('DEADBEEFDEADBEEFDEADBEEFDEADBEEFDEADBEEF')).toBe(true);
    expect(nodeIdProblem('')).toBe('no ID');
    expect(nodeIdProblem('xyz')).toMatch(/not hex/);
    expect(nodeIdProblem('deadbeef')).toMatch(/20 bytes/);
  });
});
