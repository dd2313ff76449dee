/**
 * Optional libsodium through `sodium-native` (prebuilt binaries ship inside its npm package).
 *
 * libsodium's ChaCha20-Poly1305 seals and opens a 1028-byte frame in place with no per-frame
 * object allocation, several times faster than creating node:crypto cipher objects per frame
 * (see spec/secret-connection.md for the measurements). When the binding cannot load (an
 * unsupported platform, a stripped install), every caller falls back to node:crypto, which is
 * also the reference the fast path is tested against.
 */
import { createCipheriv } from 'node:crypto';
import { createRequire } from 'node:module';

/** The few libsodium functions we call, as sodium-native exposes them. */
export interface SodiumBinding {
  crypto_aead_chacha20poly1305_ietf_encrypt_detached(
    c: Uint8Array, mac: Uint8Array, m: Uint8Array, ad: null, nsec: null, npub: Uint8Array, k: Uint8Array,
  ): number;
  /** Throws when the tag does not authenticate. */
  crypto_aead_chacha20poly1305_ietf_decrypt_detached(
    m: Uint8Array, nsec: null, c: Uint8Array, mac: Uint8Array, ad: null, npub: Uint8Array, k: Uint8Array,
  ): void;
  crypto_scalarmult_base(q: Uint8Array, n: Uint8Array): void;
  /** Throws when the result is all zeros (a low-order or zero point). */
  crypto_scalarmult(q: Uint8Array, n: Uint8Array, p: Uint8Array): void;
  crypto_sign_verify_detached(sig: Uint8Array, m: Uint8Array, pk: Uint8Array): boolean;
  /** SHA-256 of `input` into `out` (32 bytes). */
  crypto_hash_sha256(out: Uint8Array, input: Uint8Array): void;
}

let loaded: SodiumBinding | null | undefined;

/** The libsodium binding, or undefined when it is not available here. Loaded once. */
export function sodiumBinding(): SodiumBinding | undefined {
  if (loaded === undefined) {
    try {
      loaded = createRequire(import.meta.url)('sodium-native') as SodiumBinding;
    } catch {
      loaded = null;
    }
  }
  return loaded ?? undefined;
}

/**
 * sodium-native's raw addon functions for the frame AEAD, which skip the argument checks of its
 * JS wrapper (about 10% of the per-frame cost). Their shape is internal to sodium-native, so they
 * are used only after a known-answer self-test against node:crypto passes; otherwise undefined
 * and callers use the checked wrapper.
 */
export interface SodiumAeadDirect {
  /** Returns a negative number on failure. */
  encrypt(c: Uint8Array, mac: Uint8Array, m: Uint8Array, ad: undefined, npub: Uint8Array, k: Uint8Array): number;
  /** Returns 0 when the tag authenticates. */
  decrypt(m: Uint8Array, c: Uint8Array, mac: Uint8Array, ad: undefined, npub: Uint8Array, k: Uint8Array): number;
}

let direct: SodiumAeadDirect | null | undefined;

export function sodiumAeadDirect(): SodiumAeadDirect | undefined {
  if (direct === undefined) direct = loadDirect() ?? null;
  return direct ?? undefined;
}

function loadDirect(): SodiumAeadDirect | undefined {
  if (!sodiumBinding()) return undefined;
  try {
    const raw = createRequire(import.meta.url)('sodium-native/binding.js') as {
      crypto_aead_chacha20poly1305_ietf_encrypt_detached: SodiumAeadDirect['encrypt'];
      crypto_aead_chacha20poly1305_ietf_decrypt_detached: SodiumAeadDirect['decrypt'];
    };
    const candidate: SodiumAeadDirect = {
      encrypt: raw.crypto_aead_chacha20poly1305_ietf_encrypt_detached,
      decrypt: raw.crypto_aead_chacha20poly1305_ietf_decrypt_detached,
    };
    return selfTest(candidate) ? candidate : undefined;
  } catch {
    return undefined;
  }
}

/** Seals and opens a known frame and compares with node:crypto; a forged tag must be refused. */
function selfTest(d: SodiumAeadDirect): boolean {
  if (typeof d.encrypt !== 'function' || typeof d.decrypt !== 'function') return false;
  const key = Buffer.alloc(32);
  for (let i = 0; i < 32; i++) key[i] = i * 7 + 1;
  const nonce = Buffer.from('000000000102030405060708', 'hex');
  const plain = Buffer.alloc(1028);
  for (let i = 0; i < plain.length; i++) plain[i] = (i * 31) & 0xff;
  const text = Buffer.from(plain);
  const tag = Buffer.alloc(16);
  if (d.encrypt(text, tag, text, undefined, nonce, key) < 0) return false;
  const cipher = createCipheriv('chacha20-poly1305', key, nonce, { authTagLength: 16 });
  const expected = Buffer.concat([cipher.update(plain), cipher.final()]);
  if (!expected.equals(text) || !cipher.getAuthTag().equals(tag)) return false;
  const opened = Buffer.alloc(1028);
  if (d.decrypt(opened, text, tag, undefined, nonce, key) !== 0 || !opened.equals(plain)) return false;
  tag[0] ^= 1;
  return d.decrypt(opened, text, tag, undefined, nonce, key) !== 0;
}
