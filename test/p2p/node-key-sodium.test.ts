/**
 * NodeKey signs through libsodium when sodium-native is available, node:crypto otherwise. Both
 * must give byte-identical (deterministic Ed25519) signatures, equal to CometBFT's handshake
 * vectors and to an independent node:crypto reference; the secret key stays private to the key.
 */
import { createPrivateKey, createPublicKey, sign as cryptoSign, verify } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { sodiumBinding } from '../../p2p/conn/sodium-binding.js';
import { defaultNodeKeyBackend, ErrNodeKeyInvalid, NodeKey, type NodeKeyBackend } from '../../p2p/node-key.js';
import { SeededRng } from '../../p2p/rng.js';

const handshake = JSON.parse(readFileSync('../shared/vectors/cometbft/derived-secret-connection-handshake.json', 'utf8'));
const sides = [handshake.side_A, handshake.side_B] as Array<{ ed25519_seed: string; ed25519_pubkey: string; challenge: string; challenge_signature: string; node_id: string }>;
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const unhex = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'hex'));

/** Signs with a KeyObject built here from the seed: the reference, independent of NodeKey's code. */
function referenceSign(seed: Uint8Array, message: Uint8Array): string {
  const der = Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), seed]);
  return cryptoSign(null, message, createPrivateKey({ key: der, format: 'der', type: 'pkcs8' })).toString('hex');
}

const hasSodium = sodiumBinding() !== undefined;
const backends: NodeKeyBackend[] = hasSodium ? ['sodium', 'node-crypto'] : ['node-crypto'];

describe('NodeKey signing backends', () => {
  it.runIf(hasSodium)('uses libsodium by default where sodium-native loads', () => {
    expect(defaultNodeKeyBackend()).toBe('sodium');
    expect(NodeKey.generate().backend).toBe('sodium');
    expect(NodeKey.fromSeed(unhex(sides[0].ed25519_seed)).backend).toBe('sodium');
  });

  it('node:crypto stays available as the fallback', () => {
    expect(NodeKey.generate('node-crypto').backend).toBe('node-crypto');
  });

  it.runIf(!hasSodium)('asking for libsodium where it is missing is an error', () => {
    expect(() => NodeKey.fromSeed(new Uint8Array(32), 'sodium')).toThrow(ErrNodeKeyInvalid);
  });

  for (const backend of backends) {
    it(`${backend}: the handshake vectors' keys sign the challenges exactly as CometBFT and the node:crypto reference`, () => {
      for (const side of sides) {
        const seed = unhex(side.ed25519_seed);
        const key = NodeKey.fromSeed(seed, backend);
        expect(key.backend).toBe(backend);
        expect(hex(key.publicKey)).toBe(side.ed25519_pubkey);
        expect(key.id).toBe(side.node_id);
        const challenge = unhex(side.challenge);
        const sig = key.sign(challenge);
        expect(sig).toBeInstanceOf(Uint8Array);
        expect(sig).toHaveLength(64);
        expect(hex(sig)).toBe(side.challenge_signature);
        expect(hex(sig)).toBe(referenceSign(seed, challenge));
      }
    });
  }

  it.runIf(hasSodium)('both backends agree byte for byte on many keys and message sizes, and verify', () => {
    const rng = new SeededRng(2026);
    for (let i = 0; i < 40; i++) {
      const seed = rng.bytes(32);
      const a = NodeKey.fromSeed(seed, 'sodium');
      const b = NodeKey.fromSeed(seed, 'node-crypto');
      expect(hex(a.publicKey)).toBe(hex(b.publicKey));
      expect(a.id).toBe(b.id);
      expect(a.toJson()).toBe(b.toJson());
      expect(hex(a.privateKey)).toBe(hex(b.privateKey));
      const spki = createPublicKey({ key: Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), a.publicKey]), format: 'der', type: 'spki' });
      for (const size of [0, 1, 32, 63, 64, 65, 1000, 65_536]) {
        const message = rng.bytes(size);
        const sig = a.sign(message);
        expect(hex(sig)).toBe(hex(b.sign(message)));
        expect(verify(null, message, spki, sig)).toBe(true);
      }
    }
  });

  for (const backend of backends) {
    it(`${backend}: the secret key is private: privateKey is a copy, and the input seed is not kept`, () => {
      const side = sides[0];
      const seed = unhex(side.ed25519_seed);
      const key = NodeKey.fromSeed(seed, backend);
      seed.fill(0xee); // the caller wipes (or reuses) its buffer: the key is unaffected
      const first = key.privateKey;
      expect(hex(first)).toBe(side.ed25519_seed + side.ed25519_pubkey);
      expect(key.privateKey).not.toBe(first);
      first.fill(0); // wiping the copy, as a caller should, does not wipe the key
      first[40] = 1; // nor does tampering with the public half change what we sign with
      expect(hex(key.sign(unhex(side.challenge)))).toBe(side.challenge_signature);
      expect(hex(key.privateKey)).toBe(side.ed25519_seed + side.ed25519_pubkey);
      const fromPriv = NodeKey.fromPrivateKey(key.privateKey, backend);
      expect(fromPriv.id).toBe(key.id);
      expect(NodeKey.fromJson(key.toJson()).id).toBe(key.id);
    });
  }
});
