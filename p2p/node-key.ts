/**
 * NodeKey: the node's long-lived Ed25519 identity and its `node_key.json` file.
 *
 * The file is CometBFT's exact format, so a key moves between a CometBFT node and ours unchanged:
 * compact JSON `{"priv_key":{"type":"tendermint/PrivKeyEd25519","value":"<base64>"}}`, no trailing
 * newline, mode 0600, where the 64 bytes are seed(32) ‖ public key(32) (Go's layout).
 *
 * Signing goes through node:crypto (OpenSSL) with a KeyObject made once: about 20× faster than a
 * pure-JS signer that re-derives the key on every call (measured ~45 µs vs ~900 µs per signature).
 */
import {
  createPrivateKey,
  createPublicKey,
  randomBytes,
  sign as cryptoSign,
  type KeyObject,
} from 'node:crypto';
import {
  closeSync,
  fsyncSync,
  fchmodSync,
  linkSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { SwitchyardError } from './errors.js';
import { nodeIdFromPubKey, type NodeId } from './node-id.js';

export const PRIV_KEY_TYPE_ED25519 = 'tendermint/PrivKeyEd25519';
export const PUB_KEY_TYPE_ED25519 = 'tendermint/PubKeyEd25519';
export const ED25519_SEED_BYTES = 32;
export const ED25519_PUBLIC_KEY_BYTES = 32;
export const ED25519_PRIVATE_KEY_BYTES = 64;
export const NODE_KEY_FILE_MODE = 0o600;

/** PKCS#8 DER header for a raw 32-byte Ed25519 seed (RFC 8410); the seed follows it. */
const PKCS8_ED25519_PREFIX = Uint8Array.from([0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20]);

/** The key file cannot be read (permissions, a directory in its place, I/O error); `code` is the errno code. */
export class ErrNodeKeyRead extends SwitchyardError {
  constructor(readonly path: string, readonly code: string | undefined, cause: unknown) {
    super(`cannot read node key file ${path}: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
  }
}

/** The key file does not exist. A subclass of ErrNodeKeyRead, so catching that catches both. */
export class ErrNodeKeyNotFound extends ErrNodeKeyRead {}

/** The file exists but is not a valid CometBFT node key; `reason` says what is wrong. It is never overwritten. */
export class ErrNodeKeyMalformed extends SwitchyardError {
  constructor(readonly path: string, readonly reason: string) {
    super(
      `node key file ${path} is malformed: ${reason}; expected {"priv_key":{"type":"${PRIV_KEY_TYPE_ED25519}","value":"<base64 of seed‖pubkey, 64 bytes>"}} — fix or move it away; it will not be overwritten`,
    );
  }
}

/** `save` found a different key (or an unreadable/malformed file) at the path and left it alone. */
export class ErrNodeKeyExists extends SwitchyardError {
  constructor(readonly path: string, readonly reason: string) {
    super(`refusing to overwrite node key file ${path}: ${reason}`);
  }
}

/** Writing the key file failed (directory missing and not creatable, disk full, permissions). */
export class ErrNodeKeyWrite extends SwitchyardError {
  constructor(readonly path: string, cause: unknown) {
    super(`cannot write node key file ${path}: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
  }
}

/** A seed or private key of the wrong size, or a private key whose public half does not match its seed. */
export class ErrNodeKeyInvalid extends SwitchyardError {
  constructor(readonly reason: string) {
    super(`invalid node key: ${reason}`);
  }
}

export class NodeKey {
  /** 64 bytes: seed ‖ public key. */
  readonly privateKey: Uint8Array;
  readonly publicKey: Uint8Array;
  readonly id: NodeId;
  private readonly signingKey: KeyObject;

  private constructor(seed: Uint8Array) {
    if (seed.length !== ED25519_SEED_BYTES) throw new ErrNodeKeyInvalid(`an Ed25519 seed has ${ED25519_SEED_BYTES} bytes, got ${seed.length}`);
    const der = new Uint8Array(PKCS8_ED25519_PREFIX.length + ED25519_SEED_BYTES);
    der.set(PKCS8_ED25519_PREFIX);
    der.set(seed, PKCS8_ED25519_PREFIX.length);
    this.signingKey = createPrivateKey({ key: Buffer.from(der), format: 'der', type: 'pkcs8' });
    const spki = createPublicKey(this.signingKey).export({ format: 'der', type: 'spki' });
    this.publicKey = new Uint8Array(spki.subarray(spki.length - ED25519_PUBLIC_KEY_BYTES));
    this.privateKey = new Uint8Array(ED25519_PRIVATE_KEY_BYTES);
    this.privateKey.set(seed);
    this.privateKey.set(this.publicKey, ED25519_SEED_BYTES);
    this.id = nodeIdFromPubKey(this.publicKey);
  }

  /** A new key from the operating system's entropy. */
  static generate(): NodeKey {
    return new NodeKey(randomBytes(ED25519_SEED_BYTES));
  }

  /** The key for a fixed 32-byte seed (tests, key derivation). */
  static fromSeed(seed: Uint8Array): NodeKey {
    return new NodeKey(Uint8Array.from(seed));
  }

  /** From Go's 64-byte layout; the public half must be the one the seed gives. */
  static fromPrivateKey(privateKey: Uint8Array): NodeKey {
    if (privateKey.length !== ED25519_PRIVATE_KEY_BYTES) {
      throw new ErrNodeKeyInvalid(`an Ed25519 private key has ${ED25519_PRIVATE_KEY_BYTES} bytes (seed‖pubkey), got ${privateKey.length}`);
    }
    const key = new NodeKey(privateKey.subarray(0, ED25519_SEED_BYTES));
    if (!Buffer.from(key.publicKey).equals(privateKey.subarray(ED25519_SEED_BYTES))) {
      throw new ErrNodeKeyInvalid('the stored public key does not match the seed');
    }
    return key;
  }

  /** Parses `node_key.json` text; `path` is only for error messages. */
  static fromJson(text: string, path = '<node key json>'): NodeKey {
    let doc: unknown;
    try {
      doc = JSON.parse(text);
    } catch (err) {
      throw new ErrNodeKeyMalformed(path, `not JSON (${(err as Error).message})`);
    }
    const privKey = isObject(doc) ? doc.priv_key : undefined;
    if (!isObject(privKey)) throw new ErrNodeKeyMalformed(path, 'no "priv_key" object');
    if (privKey.type !== PRIV_KEY_TYPE_ED25519) {
      throw new ErrNodeKeyMalformed(path, `priv_key.type is ${JSON.stringify(privKey.type)}, only "${PRIV_KEY_TYPE_ED25519}" is supported`);
    }
    const value = privKey.value;
    if (typeof value !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(value) || value.length % 4 !== 0) {
      throw new ErrNodeKeyMalformed(path, 'priv_key.value is not standard base64');
    }
    const bytes = Buffer.from(value, 'base64');
    if (bytes.length !== ED25519_PRIVATE_KEY_BYTES) {
      throw new ErrNodeKeyMalformed(path, `priv_key.value holds ${bytes.length} bytes, expected ${ED25519_PRIVATE_KEY_BYTES} (seed‖pubkey)`);
    }
    try {
      return NodeKey.fromPrivateKey(bytes);
    } catch (err) {
      throw new ErrNodeKeyMalformed(path, (err as ErrNodeKeyInvalid).reason);
    }
  }

  /** Reads and checks `path`. Never writes. Missing → ErrNodeKeyNotFound; unreadable → ErrNodeKeyRead; bad content → ErrNodeKeyMalformed. */
  static load(path: string): NodeKey {
    return NodeKey.fromJson(readKeyFile(path), path);
  }

  /** Loads `path`, or, only when no file is there, generates a key and saves it. A malformed file is an error, never replaced. */
  static loadOrGenerate(path: string): NodeKey {
    try {
      return NodeKey.load(path);
    } catch (err) {
      if (!(err instanceof ErrNodeKeyNotFound)) throw err;
    }
    const key = NodeKey.generate();
    try {
      key.save(path);
    } catch (err) {
      // Another process created the file between our load and our save: its key wins, ours is dropped.
      if (!(err instanceof ErrNodeKeyExists)) throw err;
    }
    return NodeKey.load(path);
  }

  /** The exact bytes CometBFT writes: compact JSON, no trailing newline. */
  toJson(): string {
    return JSON.stringify({ priv_key: { type: PRIV_KEY_TYPE_ED25519, value: Buffer.from(this.privateKey).toString('base64') } });
  }

  /**
   * Writes the key to `path` atomically (temp file in the same directory, fsync, then link/rename),
   * with mode 0600, creating the parent directory if needed. If a file is already there it must
   * hold this same key (then nothing is written); any other content — a different key, garbage,
   * an unreadable file — is left untouched and ErrNodeKeyExists is thrown.
   */
  save(path: string): void {
    if (this.existingMatches(path)) return;
    const dir = dirname(path);
    const tmp = join(dir, `.${basename(path)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
    try {
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      const fd = openSync(tmp, 'wx', NODE_KEY_FILE_MODE);
      try {
        const data = Buffer.from(this.toJson(), 'utf8');
        let written = 0;
        while (written < data.length) written += writeSync(fd, data, written);
        fchmodSync(fd, NODE_KEY_FILE_MODE); // exact mode whatever the umask
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
    } catch (err) {
      safeUnlink(tmp);
      throw new ErrNodeKeyWrite(path, err);
    }
    try {
      // link() fails if the target appeared since we looked, so a concurrent writer's key is never clobbered.
      linkSync(tmp, path);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EEXIST') {
        safeUnlink(tmp);
        if (this.existingMatches(path)) return;
        throw new ErrNodeKeyExists(path, 'another key file appeared while saving');
      }
      // Filesystems without hard links: fall back to rename (atomic, but not exclusive).
      try {
        renameSync(tmp, path);
      } catch (renameErr) {
        safeUnlink(tmp);
        throw new ErrNodeKeyWrite(path, renameErr);
      }
      syncDirectory(dir);
      return;
    }
    safeUnlink(tmp);
    syncDirectory(dir);
  }

  /** Ed25519 signature (64 bytes). */
  sign(message: Uint8Array): Uint8Array {
    return new Uint8Array(cryptoSign(null, message, this.signingKey));
  }

  /** CometBFT's JSON form of the public key, as `/status` shows it. */
  publicKeyJson(): { type: string; value: string } {
    return { type: PUB_KEY_TYPE_ED25519, value: Buffer.from(this.publicKey).toString('base64') };
  }

  /** True when no file exists at `path`; true when it holds this key; throws ErrNodeKeyExists otherwise. */
  private existingMatches(path: string): boolean {
    let existing: NodeKey;
    try {
      existing = NodeKey.load(path);
    } catch (err) {
      if (err instanceof ErrNodeKeyNotFound) return false;
      const reason = err instanceof ErrNodeKeyMalformed ? `it is malformed (${err.reason})` : (err as Error).message;
      throw new ErrNodeKeyExists(path, reason);
    }
    if (existing.id !== this.id || !Buffer.from(existing.privateKey).equals(this.privateKey)) {
      throw new ErrNodeKeyExists(path, `it holds a different key (node ID ${existing.id})`);
    }
    return true;
  }
}

function readKeyFile(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    // ENOTDIR: a parent is a file, so no key file can be there either.
    if (code === 'ENOENT' || code === 'ENOTDIR') throw new ErrNodeKeyNotFound(path, code, err);
    throw new ErrNodeKeyRead(path, code, err);
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function safeUnlink(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // already gone
  }
}

/** Makes the new directory entry durable; best effort (not every platform can fsync a directory). */
function syncDirectory(dir: string): void {
  try {
    const fd = openSync(dir, 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch {
    // not supported here
  }
}
