/**
 * NodeKey: the node's long-lived Ed25519 identity and its `node_key.json` file.
 *
 * The file is CometBFT's exact format, so a key moves between a CometBFT node and ours unchanged:
 * compact JSON `{"priv_key":{"type":"tendermint/PrivKeyEd25519","value":"<base64>"}}`, no trailing
 * newline, mode 0600, where the 64 bytes are seed(32) ‖ public key(32) (Go's layout).
 *
 * Signing goes through libsodium (sodium-native's crypto_sign_detached, ~17 µs per signature) when
 * the binding loads and passes a known-answer self-test against node:crypto; otherwise through
 * node:crypto (OpenSSL) with a KeyObject made once (~37 µs). Ed25519 is deterministic, so both give
 * the same bytes; a pure-JS signer that re-derives the key per call would take ~900 µs.
 *
 * Secret key handling: one long-lived copy of seed ‖ public key, private to the key object (the
 * sodium backend signs from it; the node:crypto backend keeps it for `privateKey` / the file, and
 * OpenSSL holds its own KeyObject). Intermediate buffers (a generated seed, the PKCS#8 encoding,
 * the decoded file bytes, the bytes written to disk) are zeroed as soon as they are used.
 * `privateKey` hands out a copy, so no caller can change the key we sign with — with libsodium
 * that matters: it trusts the stored public half, and signing under a mismatched one leaks the
 * secret scalar. The base64 strings of `toJson()` cannot be wiped (JS strings are immutable).
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
import { sodiumBinding } from './conn/sodium-binding.js';
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

/** Which implementation derives the public key and signs. */
export type NodeKeyBackend = 'sodium' | 'node-crypto';

/** The libsodium signing functions, as sodium-native exposes them (checked wrappers). */
interface SodiumSign {
  crypto_sign_seed_keypair(pk: Uint8Array, sk: Uint8Array, seed: Uint8Array): void;
  crypto_sign_detached(sig: Uint8Array, m: Uint8Array, sk: Uint8Array): void;
}

const ED25519_SIGNATURE_BYTES = 64;

let sodiumSign: SodiumSign | null | undefined;

/** libsodium's signer when sodium-native is loadable and agrees with node:crypto on a known key; loaded once. */
function sodiumSigner(): SodiumSign | undefined {
  if (sodiumSign === undefined) {
    const candidate = sodiumBinding() as Partial<SodiumSign> | undefined;
    sodiumSign =
      candidate && typeof candidate.crypto_sign_detached === 'function' && typeof candidate.crypto_sign_seed_keypair === 'function' && signerSelfTest(candidate as SodiumSign)
        ? (candidate as SodiumSign)
        : null;
  }
  return sodiumSign ?? undefined;
}

/** Derives a fixed key and signs a fixed message with both libsodium and node:crypto: all bytes must agree. */
function signerSelfTest(s: SodiumSign): boolean {
  try {
    const seed = new Uint8Array(ED25519_SEED_BYTES).map((_, i) => (i * 29 + 3) & 0xff);
    const message = new Uint8Array(32).map((_, i) => (i * 7) & 0xff);
    const pk = new Uint8Array(ED25519_PUBLIC_KEY_BYTES);
    const sk = new Uint8Array(ED25519_PRIVATE_KEY_BYTES);
    s.crypto_sign_seed_keypair(pk, sk, seed);
    const sig = new Uint8Array(ED25519_SIGNATURE_BYTES);
    s.crypto_sign_detached(sig, message, sk);
    const reference = nodeCryptoKey(seed);
    const expectedSig = cryptoSign(null, message, reference);
    const expectedPk = publicKeyOf(reference);
    return Buffer.from(pk).equals(expectedPk) && Buffer.from(sk.subarray(ED25519_SEED_BYTES)).equals(expectedPk) && Buffer.from(sig).equals(expectedSig);
  } catch {
    return false;
  }
}

/** node:crypto's private KeyObject for a 32-byte seed; the PKCS#8 bytes holding the seed are zeroed after use. */
function nodeCryptoKey(seed: Uint8Array): KeyObject {
  const der = Buffer.alloc(PKCS8_ED25519_PREFIX.length + ED25519_SEED_BYTES);
  try {
    der.set(PKCS8_ED25519_PREFIX);
    der.set(seed, PKCS8_ED25519_PREFIX.length);
    return createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
  } finally {
    der.fill(0);
  }
}

function publicKeyOf(key: KeyObject): Buffer {
  const spki = createPublicKey(key).export({ format: 'der', type: 'spki' });
  return spki.subarray(spki.length - ED25519_PUBLIC_KEY_BYTES);
}

/** The backend new keys use: 'sodium' when libsodium is available here, else 'node-crypto'. */
export function defaultNodeKeyBackend(): NodeKeyBackend {
  return sodiumSigner() ? 'sodium' : 'node-crypto';
}

export class NodeKey {
  readonly publicKey: Uint8Array;
  readonly id: NodeId;
  readonly backend: NodeKeyBackend;
  /** seed ‖ public key (the layout of libsodium and of Go); the one long-lived copy, never handed out. */
  readonly #secretKey: Uint8Array;
  /** node:crypto backend only. */
  readonly #signingKey: KeyObject | undefined;
  readonly #sodium: SodiumSign | undefined;

  /** Reads `seed` (32 bytes) and keeps no reference to it. */
  private constructor(seed: Uint8Array, backend: NodeKeyBackend = defaultNodeKeyBackend()) {
    if (seed.length !== ED25519_SEED_BYTES) throw new ErrNodeKeyInvalid(`an Ed25519 seed has ${ED25519_SEED_BYTES} bytes, got ${seed.length}`);
    this.backend = backend;
    this.#secretKey = new Uint8Array(ED25519_PRIVATE_KEY_BYTES);
    this.publicKey = new Uint8Array(ED25519_PUBLIC_KEY_BYTES);
    if (backend === 'sodium') {
      const sodium = sodiumSigner();
      if (!sodium) throw new ErrNodeKeyInvalid('the sodium backend was asked for, but libsodium (sodium-native) is not available here');
      this.#sodium = sodium;
      this.#signingKey = undefined;
      sodium.crypto_sign_seed_keypair(this.publicKey, this.#secretKey, seed);
    } else {
      this.#sodium = undefined;
      this.#signingKey = nodeCryptoKey(seed);
      this.publicKey.set(publicKeyOf(this.#signingKey));
      this.#secretKey.set(seed);
      this.#secretKey.set(this.publicKey, ED25519_SEED_BYTES);
    }
    this.id = nodeIdFromPubKey(this.publicKey);
  }

  /**
   * 64 bytes: seed ‖ public key (Go's layout), as a fresh copy on every read: changing it does not
   * change this key. It is secret; wipe it (`fill(0)`) when done with it.
   */
  get privateKey(): Uint8Array {
    return Uint8Array.from(this.#secretKey);
  }

  /** A new key from the operating system's entropy. */
  static generate(backend?: NodeKeyBackend): NodeKey {
    const seed = randomBytes(ED25519_SEED_BYTES);
    try {
      return new NodeKey(seed, backend);
    } finally {
      seed.fill(0);
    }
  }

  /** The key for a fixed 32-byte seed (tests, key derivation). `seed` is read, not kept; the caller owns (and may wipe) it. */
  static fromSeed(seed: Uint8Array, backend?: NodeKeyBackend): NodeKey {
    return new NodeKey(seed, backend);
  }

  /** From Go's 64-byte layout; the public half must be the one the seed gives. `privateKey` is read, not kept. */
  static fromPrivateKey(privateKey: Uint8Array, backend?: NodeKeyBackend): NodeKey {
    if (privateKey.length !== ED25519_PRIVATE_KEY_BYTES) {
      throw new ErrNodeKeyInvalid(`an Ed25519 private key has ${ED25519_PRIVATE_KEY_BYTES} bytes (seed‖pubkey), got ${privateKey.length}`);
    }
    const key = new NodeKey(privateKey.subarray(0, ED25519_SEED_BYTES), backend);
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
    try {
      if (bytes.length !== ED25519_PRIVATE_KEY_BYTES) {
        throw new ErrNodeKeyMalformed(path, `priv_key.value holds ${bytes.length} bytes, expected ${ED25519_PRIVATE_KEY_BYTES} (seed‖pubkey)`);
      }
      try {
        return NodeKey.fromPrivateKey(bytes);
      } catch (err) {
        if (!(err instanceof ErrNodeKeyInvalid)) throw err;
        throw new ErrNodeKeyMalformed(path, err.reason);
      }
    } finally {
      bytes.fill(0);
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
    const view = Buffer.from(this.#secretKey.buffer, this.#secretKey.byteOffset, this.#secretKey.byteLength); // no copy
    return JSON.stringify({ priv_key: { type: PRIV_KEY_TYPE_ED25519, value: view.toString('base64') } });
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
        try {
          let written = 0;
          while (written < data.length) written += writeSync(fd, data, written);
        } finally {
          data.fill(0);
        }
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
    if (this.#sodium) {
      const signature = new Uint8Array(ED25519_SIGNATURE_BYTES);
      this.#sodium.crypto_sign_detached(signature, message, this.#secretKey);
      return signature;
    }
    return new Uint8Array(cryptoSign(null, message, this.#signingKey!));
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
    if (existing.id !== this.id || !bytesEqual(existing.#secretKey, this.#secretKey)) {
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

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i] ^ b[i];
  return diff === 0;
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
