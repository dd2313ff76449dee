import { createPublicKey, verify } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ed25519 } from '@noble/curves/ed25519.js';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  ErrNodeKeyExists,
  ErrNodeKeyInvalid,
  ErrNodeKeyMalformed,
  ErrNodeKeyNotFound,
  ErrNodeKeyRead,
  ErrNodeKeyWrite,
  NodeKey,
} from '../../p2p/node-key.js';

const wire = JSON.parse(readFileSync('../shared/vectors/cometbft/derived-wire-vectors.json', 'utf8'));
const handshake = JSON.parse(readFileSync('../shared/vectors/cometbft/derived-secret-connection-handshake.json', 'utf8'));
const nodeKeyEntry = wire.entries.find((e: { name: string }) => e.name.startsWith('node_key.json'));
const sideA = handshake.side_A;

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'switchyard-node-key-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('NodeKey against the CometBFT node_key.json vector', () => {
  it('loads the example and derives the right ID and public key', () => {
    const path = join(dir, 'node_key.json');
    writeFileSync(path, nodeKeyEntry.text);
    const key = NodeKey.load(path);
    expect(key.id).toBe(nodeKeyEntry.node_id);
    expect(Buffer.from(key.publicKey).toString('hex')).toBe(sideA.ed25519_pubkey);
    expect(Buffer.from(key.privateKey.subarray(0, 32)).toString('hex')).toBe(sideA.ed25519_seed);
  });

  it('saves it back byte for byte, mode 0600', () => {
    const key = NodeKey.fromSeed(Buffer.from(sideA.ed25519_seed, 'hex'));
    const path = join(dir, 'config', 'node_key.json');
    key.save(path);
    expect(readFileSync(path, 'utf8')).toBe(nodeKeyEntry.text);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(readdirSync(join(dir, 'config'))).toEqual(['node_key.json']); // no temp file left behind
  });

  it('signs the handshake challenge exactly as the vector (deterministic Ed25519)', () => {
    for (const side of [handshake.side_A, handshake.side_B]) {
      const key = NodeKey.fromSeed(Buffer.from(side.ed25519_seed, 'hex'));
      const sig = key.sign(Buffer.from(side.challenge, 'hex'));
      expect(sig).toHaveLength(64);
      expect(Buffer.from(sig).toString('hex')).toBe(side.challenge_signature);
      expect(key.id).toBe(side.node_id);
    }
  });
});

describe('NodeKey generate / load / save', () => {
  it('generates distinct keys whose signatures verify', () => {
    const a = NodeKey.generate();
    const b = NodeKey.generate();
    expect(a.id).not.toBe(b.id);
    expect(a.id).toMatch(/^[0-9a-f]{40}$/);
    const msg = Buffer.from('hello');
    const sig = a.sign(msg);
    expect(ed25519.verify(sig, msg, a.publicKey)).toBe(true);
    const spki = Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), Buffer.from(a.publicKey)]);
    expect(verify(null, msg, createPublicKey({ key: spki, format: 'der', type: 'spki' }), sig)).toBe(true);
    expect(ed25519.verify(sig, msg, b.publicKey)).toBe(false);
  });

  it('loadOrGenerate creates once, then loads the same key', () => {
    const path = join(dir, 'node_key.json');
    const first = NodeKey.loadOrGenerate(path);
    const second = NodeKey.loadOrGenerate(path);
    expect(second.id).toBe(first.id);
    expect(NodeKey.load(path).id).toBe(first.id);
  });

  it('load of a missing file is ErrNodeKeyNotFound naming the path, and writes nothing', () => {
    const path = join(dir, 'missing.json');
    const err = (() => {
      try {
        NodeKey.load(path);
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(ErrNodeKeyNotFound);
    expect(err).toBeInstanceOf(ErrNodeKeyRead);
    expect((err as ErrNodeKeyNotFound).path).toBe(path);
    expect((err as Error).message).toContain(path);
    expect(existsSync(path)).toBe(false);
  });

  it('an unreadable path (a directory) is ErrNodeKeyRead, and loadOrGenerate does not replace it', () => {
    const path = join(dir, 'node_key.json');
    mkdirSync(path);
    expect(() => NodeKey.load(path)).toThrow(ErrNodeKeyRead);
    expect(() => NodeKey.load(path)).not.toThrow(ErrNodeKeyNotFound);
    expect(() => NodeKey.loadOrGenerate(path)).toThrow(ErrNodeKeyRead);
    expect(statSync(path).isDirectory()).toBe(true);
  });

  const malformed: [string, string, RegExp][] = [
    ['empty file', '', /not JSON/],
    ['truncated JSON', '{"priv_key":{"type":', /not JSON/],
    ['array', '[]', /no "priv_key"/],
    ['wrong key type', JSON.stringify({ priv_key: { type: 'tendermint/PrivKeySecp256k1', value: 'AA==' } }), /only "tendermint\/PrivKeyEd25519"/],
    ['value not base64', JSON.stringify({ priv_key: { type: 'tendermint/PrivKeyEd25519', value: '!!!!' } }), /base64/],
    ['value too short', JSON.stringify({ priv_key: { type: 'tendermint/PrivKeyEd25519', value: Buffer.alloc(32).toString('base64') } }), /32 bytes, expected 64/],
  ];
  it.each(malformed)('a malformed file (%s) is a typed error naming the path and is never overwritten', (_name, text, reason) => {
    const path = join(dir, 'node_key.json');
    writeFileSync(path, text);
    expect(() => NodeKey.load(path)).toThrow(ErrNodeKeyMalformed);
    expect(() => NodeKey.load(path)).toThrow(reason);
    expect(() => NodeKey.load(path)).toThrow(path);
    expect(() => NodeKey.loadOrGenerate(path)).toThrow(ErrNodeKeyMalformed);
    expect(() => NodeKey.generate().save(path)).toThrow(ErrNodeKeyExists);
    expect(readFileSync(path, 'utf8')).toBe(text);
  });

  it('rejects a file whose public half does not match the seed', () => {
    const bytes = Buffer.from(JSON.parse(nodeKeyEntry.text).priv_key.value, 'base64');
    bytes[63] ^= 1;
    const path = join(dir, 'node_key.json');
    const text = JSON.stringify({ priv_key: { type: 'tendermint/PrivKeyEd25519', value: bytes.toString('base64') } });
    writeFileSync(path, text);
    expect(() => NodeKey.load(path)).toThrow(/public key does not match the seed/);
    expect(readFileSync(path, 'utf8')).toBe(text);
  });

  it('accepts whitespace and extra fields on load (any JSON encoder may have written it)', () => {
    const path = join(dir, 'node_key.json');
    const doc = JSON.parse(nodeKeyEntry.text);
    writeFileSync(path, JSON.stringify({ ...doc, note: 'x' }, null, 2) + '\n');
    expect(NodeKey.load(path).id).toBe(nodeKeyEntry.node_id);
  });

  it('save refuses to overwrite a different key and is a no-op for the same key', () => {
    const path = join(dir, 'node_key.json');
    const key = NodeKey.generate();
    key.save(path);
    const before = readFileSync(path, 'utf8');
    key.save(path);
    expect(readFileSync(path, 'utf8')).toBe(before);
    const other = NodeKey.generate();
    expect(() => other.save(path)).toThrow(ErrNodeKeyExists);
    expect(() => other.save(path)).toThrow(key.id);
    expect(readFileSync(path, 'utf8')).toBe(before);
  });

  // Root reads every file regardless of mode, so this can only be shown as a normal user.
  it.skipIf(process.getuid?.() === 0)('save into an unreadable existing file refuses', () => {
    const path = join(dir, 'node_key.json');
    writeFileSync(path, 'secret');
    chmodSync(path, 0o000);
    expect(() => NodeKey.generate().save(path)).toThrow(ErrNodeKeyExists);
    chmodSync(path, 0o600);
    expect(readFileSync(path, 'utf8')).toBe('secret');
  });

  it('a failed write is ErrNodeKeyWrite and leaves no temp file', () => {
    const blocker = join(dir, 'not-a-dir');
    writeFileSync(blocker, 'x');
    expect(() => NodeKey.generate().save(join(blocker, 'node_key.json'))).toThrow(ErrNodeKeyWrite);
    expect(readdirSync(dir)).toEqual(['not-a-dir']);
  });

  it('loadOrGenerate that loses a creation race returns the winner\'s key', () => {
    const path = join(dir, 'node_key.json');
    const winner = NodeKey.generate();
    // Simulate the other process saving between our failed load and our save.
    const originalSave = NodeKey.prototype.save;
    let raced = false;
    NodeKey.prototype.save = function (this: NodeKey, p: string) {
      if (!raced) {
        raced = true;
        originalSave.call(winner, p);
      }
      return originalSave.call(this, p);
    };
    try {
      expect(NodeKey.loadOrGenerate(path).id).toBe(winner.id);
    } finally {
      NodeKey.prototype.save = originalSave;
    }
  });

  it('fromSeed / fromPrivateKey check sizes and consistency', () => {
    expect(() => NodeKey.fromSeed(new Uint8Array(31))).toThrow(ErrNodeKeyInvalid);
    expect(() => NodeKey.fromPrivateKey(new Uint8Array(32))).toThrow(ErrNodeKeyInvalid);
    const key = NodeKey.fromSeed(Buffer.from(sideA.ed25519_seed, 'hex'));
    expect(NodeKey.fromPrivateKey(key.privateKey).id).toBe(key.id);
    expect(Buffer.from(key.privateKey).toString('hex')).toBe(sideA.ed25519_privkey_64);
    expect(key.publicKeyJson()).toEqual({ type: 'tendermint/PubKeyEd25519', value: Buffer.from(sideA.ed25519_pubkey, 'hex').toString('base64') });
  });
});
