/**
 * The cryptography of the SecretConnection handshake, free of I/O so it can be checked against
 * the vectors step by step: X25519 ephemeral keys and shared secret, the lo/hi key order, the
 * Merlin challenge, the HKDF-SHA256 key split and ZIP-215-tolerant Ed25519 verification.
 *
 * X25519, HKDF's SHA-256 and the first Ed25519 check use libsodium when sodium-native loads,
 * else node:crypto.
 */
import { createPrivateKey, createPublicKey, diffieHellman, generateKeyPairSync, hkdfSync, randomBytes, verify as nodeVerify } from 'node:crypto';
import { ed25519 } from '@noble/curves/ed25519.js';
import { MerlinTranscript } from './merlin.js';
import { sodiumBinding, type SodiumBinding } from './sodium-binding.js';

export const X25519_KEY_BYTES = 32;
export const ED25519_PUBKEY_BYTES = 32;
export const ED25519_SIGNATURE_BYTES = 64;
export const CHALLENGE_BYTES = 32;

export const TRANSCRIPT_LABEL = 'TENDERMINT_SECRET_CONNECTION_TRANSCRIPT_HASH';
export const LABEL_EPHEMERAL_LOWER = 'EPHEMERAL_LOWER_PUBLIC_KEY';
export const LABEL_EPHEMERAL_UPPER = 'EPHEMERAL_UPPER_PUBLIC_KEY';
export const LABEL_DH_SECRET = 'DH_SECRET';
export const LABEL_CHALLENGE = 'SECRET_CONNECTION_MAC';
export const HKDF_INFO = 'TENDERMINT_SECRET_CONNECTION_KEY_AND_CHALLENGE_GEN';

// DER headers that wrap a raw 32-byte key for node:crypto's key import.
const X25519_PKCS8_PREFIX = Buffer.from('302e020100300506032b656e04220420', 'hex');
const X25519_SPKI_PREFIX = Buffer.from('302a300506032b656e032100', 'hex');
const ED25519_SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

export interface EphemeralKeyPair {
  privateKey: Uint8Array;
  publicKey: Uint8Array;
}

export type HandshakeCryptoBackend = 'sodium-native' | 'node:crypto';

function defaultBackend(): HandshakeCryptoBackend {
  return sodiumBinding() ? 'sodium-native' : 'node:crypto';
}

/**
 * A fresh X25519 key pair, or the one for a given 32-byte private key (tests, vectors). Like
 * NaCl's box.GenerateKey, the private key is 32 raw bytes; clamping happens in the multiplication.
 */
export function generateEphemeralKeyPair(privateKey?: Uint8Array, backend = defaultBackend()): EphemeralKeyPair {
  if (privateKey !== undefined && privateKey.length !== X25519_KEY_BYTES) {
    throw new RangeError(`ephemeral private key must have ${X25519_KEY_BYTES} bytes, got ${privateKey.length}`);
  }
  const sodium = backend === 'sodium-native' ? sodiumBinding() : undefined;
  if (sodium) {
    const priv = privateKey ? Buffer.from(privateKey) : randomBytes(X25519_KEY_BYTES);
    const pub = Buffer.alloc(X25519_KEY_BYTES);
    sodium.crypto_scalarmult_base(pub, priv);
    return { privateKey: priv, publicKey: pub };
  }
  if (!privateKey) {
    // Importing a DER key is slow in OpenSSL 3; generating and exporting as JWK is not.
    const { privateKey: k } = generateKeyPairSync('x25519');
    const jwk = k.export({ format: 'jwk' });
    return { privateKey: Buffer.from(jwk.d!, 'base64url'), publicKey: Buffer.from(jwk.x!, 'base64url') };
  }
  const k = createPrivateKey({ key: Buffer.concat([X25519_PKCS8_PREFIX, privateKey]), format: 'der', type: 'pkcs8' });
  const jwk = createPublicKey(k).export({ format: 'jwk' });
  return { privateKey: Buffer.from(privateKey), publicKey: Buffer.from(jwk.x!, 'base64url') };
}

/**
 * X25519(ourPrivate, theirPublic), or undefined when the result is all zeros, which happens
 * exactly when their key is a low-order point (the only check CometBFT makes).
 */
export function x25519SharedSecret(ourPrivate: Uint8Array, theirPublic: Uint8Array, backend = defaultBackend()): Uint8Array | undefined {
  const sodium = backend === 'sodium-native' ? sodiumBinding() : undefined;
  if (sodium) {
    const out = Buffer.alloc(X25519_KEY_BYTES);
    try {
      sodium.crypto_scalarmult(out, ourPrivate, theirPublic);
    } catch {
      return undefined; // libsodium refuses an all-zero result
    }
    return out;
  }
  try {
    const secret = diffieHellman({
      privateKey: createPrivateKey({ key: Buffer.concat([X25519_PKCS8_PREFIX, ourPrivate]), format: 'der', type: 'pkcs8' }),
      publicKey: createPublicKey({ key: Buffer.concat([X25519_SPKI_PREFIX, theirPublic]), format: 'der', type: 'spki' }),
    });
    return isAllZero(secret) ? undefined : secret;
  } catch {
    return undefined; // OpenSSL fails the derivation on an all-zero result
  }
}

function isAllZero(bytes: Uint8Array): boolean {
  let acc = 0;
  for (let i = 0; i < bytes.length; i++) acc |= bytes[i];
  return acc === 0;
}

/** Unsigned lexicographic compare of two equal-length keys: -1, 0 or 1. */
function compareBytes(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i] < b[i] ? -1 : 1;
  return 0;
}

/** Orders the two ephemeral public keys; `localIsLeast` decides which HKDF half each side sends with. */
export function sortEphemeralKeys(local: Uint8Array, remote: Uint8Array): { lo: Uint8Array; hi: Uint8Array; localIsLeast: boolean } {
  const localIsLeast = compareBytes(local, remote) < 0;
  return localIsLeast ? { lo: local, hi: remote, localIsLeast } : { lo: remote, hi: local, localIsLeast };
}

/**
 * HKDF-SHA256(ikm = dh secret, empty salt, HKDF_INFO, 96 bytes). The lower key's owner receives
 * with bytes 0..31 and sends with 32..63; the other side mirrors. Bytes 64..95 are unused (they
 * were the challenge before the Merlin transcript replaced it).
 */
export function deriveSecrets(
  dhSecret: Uint8Array,
  localIsLeast: boolean,
  backend = defaultBackend(),
): { recvKey: Uint8Array; sendKey: Uint8Array; okm: Uint8Array } {
  const sodium = backend === 'sodium-native' ? sodiumBinding() : undefined;
  const okm = sodium ? hkdfSha256Sodium(sodium, dhSecret) : new Uint8Array(hkdfSync('sha256', dhSecret, new Uint8Array(0), HKDF_INFO, 96));
  const first = okm.subarray(0, 32);
  const second = okm.subarray(32, 64);
  return localIsLeast ? { recvKey: first, sendKey: second, okm } : { recvKey: second, sendKey: first, okm };
}

const HKDF_INFO_BYTES = Buffer.from(HKDF_INFO);
const SHA256_BLOCK_BYTES = 64;
const SHA256_BYTES = 32;

/**
 * HKDF-SHA256 (RFC 5869) with an empty salt and HKDF_INFO, 96 bytes, on libsodium's SHA-256:
 * about half the cost of node:crypto's hkdfSync, whose per-call key objects dominate at this
 * size. Equal to hkdfSync byte for byte (checked against the golden file with both backends).
 */
function hkdfSha256Sodium(sodium: SodiumBinding, ikm: Uint8Array): Uint8Array {
  const hmac = (key: Uint8Array, parts: Uint8Array[], out: Uint8Array): void => {
    let length = SHA256_BLOCK_BYTES;
    for (const p of parts) length += p.length;
    const inner = Buffer.allocUnsafe(length);
    const outer = Buffer.allocUnsafe(SHA256_BLOCK_BYTES + SHA256_BYTES);
    // Keys here are at most one block, so they are used as they are, zero-padded.
    for (let i = 0; i < SHA256_BLOCK_BYTES; i++) {
      const k = i < key.length ? key[i] : 0;
      inner[i] = k ^ 0x36;
      outer[i] = k ^ 0x5c;
    }
    let off = SHA256_BLOCK_BYTES;
    for (const p of parts) {
      inner.set(p, off);
      off += p.length;
    }
    sodium.crypto_hash_sha256(outer.subarray(SHA256_BLOCK_BYTES), inner);
    sodium.crypto_hash_sha256(out, outer);
  };
  // Extract: an empty salt is a key of HashLen zero bytes, the same as no key bytes at all.
  const prk = new Uint8Array(SHA256_BYTES);
  hmac(new Uint8Array(0), [ikm], prk);
  // Expand: T(i) = HMAC(prk, T(i-1) ‖ info ‖ i), three blocks for 96 bytes.
  const okm = new Uint8Array(3 * SHA256_BYTES);
  let previous = new Uint8Array(0);
  for (let i = 1; i <= 3; i++) {
    const block = okm.subarray((i - 1) * SHA256_BYTES, i * SHA256_BYTES);
    hmac(prk, [previous, HKDF_INFO_BYTES, Uint8Array.of(i)], block);
    previous = block;
  }
  return okm;
}

/** The transcript every handshake starts from; computeChallenge works on clones of it. */
const initialTranscript = new MerlinTranscript(TRANSCRIPT_LABEL);

/** The 32-byte challenge both sides sign: a Merlin transcript over lo, hi and the DH secret. */
export function computeChallenge(lo: Uint8Array, hi: Uint8Array, dhSecret: Uint8Array): Uint8Array {
  const t = initialTranscript.clone();
  t.appendMessage(LABEL_EPHEMERAL_LOWER, lo);
  t.appendMessage(LABEL_EPHEMERAL_UPPER, hi);
  t.appendMessage(LABEL_DH_SECRET, dhSecret);
  return t.challengeBytes(LABEL_CHALLENGE, CHALLENGE_BYTES);
}

/**
 * Ed25519 verification with ZIP-215 rules (what CometBFT v0.38+ applies; more permissive than,
 * and a superset of, v0.34/v0.37's Go rules). The strict native check runs first because it is
 * fast and everything it accepts ZIP-215 accepts too; only a rejected signature takes the slower
 * ZIP-215 path, which can still accept non-canonical key or R encodings.
 */
export function verifyEd25519(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array, backend = defaultBackend()): boolean {
  if (publicKey.length !== ED25519_PUBKEY_BYTES || signature.length !== ED25519_SIGNATURE_BYTES) return false;
  if (strictVerify(publicKey, message, signature, backend)) return true;
  try {
    return ed25519.verify(signature, message, publicKey, { zip215: true });
  } catch {
    return false;
  }
}

function strictVerify(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array, backend: HandshakeCryptoBackend): boolean {
  const sodium = backend === 'sodium-native' ? sodiumBinding() : undefined;
  try {
    if (sodium) return sodium.crypto_sign_verify_detached(signature, message, publicKey);
    const key = createPublicKey({ key: Buffer.concat([ED25519_SPKI_PREFIX, publicKey]), format: 'der', type: 'spki' });
    return nodeVerify(null, message, key, signature);
  } catch {
    return false;
  }
}
