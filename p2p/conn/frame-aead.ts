/**
 * ChaCha20-Poly1305 (IETF: 32-byte key, 12-byte nonce, 16-byte tag, no associated data) applied
 * to SecretConnection frames in place: a 1028-byte plaintext frame at `offset` becomes 1028 bytes
 * of ciphertext followed by its 16-byte tag, and back.
 *
 * Two implementations with identical output: libsodium (fast path, when sodium-native loads) and
 * node:crypto with new cipher objects per frame (the reference). Tests cross-check them.
 */
import { createCipheriv, createDecipheriv } from 'node:crypto';
import { sodiumAeadDirect, sodiumBinding, type SodiumAeadDirect, type SodiumBinding } from './sodium-binding.js';

export const FRAME_DATA_MAX_BYTES = 1024;
export const FRAME_LENGTH_FIELD_BYTES = 4;
/** Length field + data + padding: every plaintext frame has exactly this size. */
export const FRAME_PLAINTEXT_BYTES = FRAME_LENGTH_FIELD_BYTES + FRAME_DATA_MAX_BYTES;
export const AEAD_TAG_BYTES = 16;
export const AEAD_KEY_BYTES = 32;
export const AEAD_NONCE_BYTES = 12;
/** What every frame occupies on the wire. */
export const FRAME_SEALED_BYTES = FRAME_PLAINTEXT_BYTES + AEAD_TAG_BYTES;

export type FrameAeadKind = 'sodium-native' | 'node:crypto';

export interface FrameAead {
  readonly kind: FrameAeadKind;
  /** Seals buf[offset, offset+1028) in place and writes the tag to buf[offset+1028, offset+1044). */
  sealFrame(buf: Buffer, offset: number, nonce: Buffer): void;
  /**
   * Opens the sealed frame src[srcOffset, srcOffset+1044) into dst[dstOffset, dstOffset+1028)
   * (src may equal dst with equal offsets). False if it does not authenticate; dst's 1028 bytes
   * are then unspecified.
   */
  openFrameInto(src: Buffer, srcOffset: number, dst: Buffer, dstOffset: number, nonce: Buffer): boolean;
  /**
   * Seals frame `index` of a SealBuffer in place: the same as `sealFrame(sb.buf, index * 1044,
   * nonce)`, but with the views prepared once per buffer instead of made per frame.
   */
  sealFrameOf(sb: SealBuffer, index: number, nonce: Buffer): void;
}

/**
 * A reusable output buffer of `frames` sealed-frame slots with the per-frame views libsodium
 * needs made once: creating three typed-array views per frame is about 5% of the cost of sealing
 * it, and a buffer reused across batches saves a large allocation per socket write.
 */
export class SealBuffer {
  readonly buf: Buffer;
  private views: { texts: Uint8Array[]; tags: Uint8Array[] } | undefined;

  /**
   * `frames` slots around `ab`, or in a fresh buffer: unpooled when it can hold a pool job (it then
   * owns its whole ArrayBuffer, which can be transferred to a worker), from Node's pool otherwise.
   */
  constructor(readonly frames: number, ab?: ArrayBuffer) {
    const bytes = frames * FRAME_SEALED_BYTES;
    this.buf = ab ? Buffer.from(ab, 0, bytes) : frames >= 8 ? Buffer.allocUnsafeSlow(bytes) : Buffer.allocUnsafe(bytes);
  }

  /** Plaintext (then ciphertext) region of each slot: 1028 bytes. Made on first use. */
  get texts(): Uint8Array[] {
    return (this.views ??= this.makeViews()).texts;
  }

  /** Tag region of each slot: 16 bytes. */
  get tags(): Uint8Array[] {
    return (this.views ??= this.makeViews()).tags;
  }

  private makeViews(): { texts: Uint8Array[]; tags: Uint8Array[] } {
    const texts: Uint8Array[] = [];
    const tags: Uint8Array[] = [];
    for (let i = 0; i < this.frames; i++) {
      const base = this.buf.byteOffset + i * FRAME_SEALED_BYTES;
      texts.push(new Uint8Array(this.buf.buffer, base, FRAME_PLAINTEXT_BYTES));
      tags.push(new Uint8Array(this.buf.buffer, base + FRAME_PLAINTEXT_BYTES, AEAD_TAG_BYTES));
    }
    return { texts, tags };
  }
}

/**
 * Copies src[start, end) into the data regions of a buffer of frame slots (1044 bytes each: a
 * 4-byte length field, 1024 data bytes, 16 tag bytes) as if the slots' data regions were one
 * contiguous stream, starting at stream position `pos`; returns the position after it. Lets a
 * writer lay its bytes out directly where SecretConnection seals them (see
 * SecretConnection.writeFrames), instead of building a flat buffer that is copied again.
 */
export function copyIntoFrames(out: Uint8Array, pos: number, src: Uint8Array, start: number, end: number): number {
  if (end - start <= 32) {
    // Short pieces (packet headers): a byte loop costs less than a view and a set() per piece.
    let at = Math.floor(pos / FRAME_DATA_MAX_BYTES) * FRAME_SEALED_BYTES + FRAME_LENGTH_FIELD_BYTES + (pos % FRAME_DATA_MAX_BYTES);
    let room = FRAME_DATA_MAX_BYTES - (pos % FRAME_DATA_MAX_BYTES);
    for (let i = start; i < end; i++) {
      if (room === 0) {
        at += FRAME_SEALED_BYTES - FRAME_DATA_MAX_BYTES;
        room = FRAME_DATA_MAX_BYTES;
      }
      out[at++] = src[i];
      room--;
    }
    return pos + (end - start);
  }
  while (start < end) {
    const within = pos % FRAME_DATA_MAX_BYTES;
    const take = Math.min(FRAME_DATA_MAX_BYTES - within, end - start);
    const at = Math.floor(pos / FRAME_DATA_MAX_BYTES) * FRAME_SEALED_BYTES + FRAME_LENGTH_FIELD_BYTES + within;
    out.set(new Uint8Array(src.buffer, src.byteOffset + start, take), at);
    start += take;
    pos += take;
  }
  return pos;
}

/** libsodium through sodium-native's checked JS wrapper. */
class SodiumFrameAead implements FrameAead {
  readonly kind = 'sodium-native';
  constructor(private readonly sodium: SodiumBinding, private readonly key: Buffer) {}

  sealFrame(buf: Buffer, offset: number, nonce: Buffer): void {
    const text = buf.subarray(offset, offset + FRAME_PLAINTEXT_BYTES);
    const tag = buf.subarray(offset + FRAME_PLAINTEXT_BYTES, offset + FRAME_SEALED_BYTES);
    // libsodium allows the ciphertext to overwrite the plaintext exactly (c == m).
    this.sodium.crypto_aead_chacha20poly1305_ietf_encrypt_detached(text, tag, text, null, null, nonce, this.key);
  }

  openFrameInto(src: Buffer, srcOffset: number, dst: Buffer, dstOffset: number, nonce: Buffer): boolean {
    const text = src.subarray(srcOffset, srcOffset + FRAME_PLAINTEXT_BYTES);
    const tag = src.subarray(srcOffset + FRAME_PLAINTEXT_BYTES, srcOffset + FRAME_SEALED_BYTES);
    const plain = dst.subarray(dstOffset, dstOffset + FRAME_PLAINTEXT_BYTES);
    try {
      this.sodium.crypto_aead_chacha20poly1305_ietf_decrypt_detached(plain, null, text, tag, null, nonce, this.key);
      return true;
    } catch {
      return false;
    }
  }

  sealFrameOf(sb: SealBuffer, index: number, nonce: Buffer): void {
    const text = sb.texts[index];
    this.sodium.crypto_aead_chacha20poly1305_ietf_encrypt_detached(text, sb.tags[index], text, null, null, nonce, this.key);
  }
}

/** libsodium through sodium-native's raw addon functions (self-tested at load), on plain views. */
class SodiumDirectFrameAead implements FrameAead {
  readonly kind = 'sodium-native';
  constructor(private readonly direct: SodiumAeadDirect, private readonly key: Buffer) {}

  sealFrame(buf: Buffer, offset: number, nonce: Buffer): void {
    const base = buf.byteOffset + offset;
    const text = new Uint8Array(buf.buffer, base, FRAME_PLAINTEXT_BYTES);
    const tag = new Uint8Array(buf.buffer, base + FRAME_PLAINTEXT_BYTES, AEAD_TAG_BYTES);
    if (this.direct.encrypt(text, tag, text, undefined, nonce, this.key) < 0) throw new Error('libsodium failed to seal a frame');
  }

  openFrameInto(src: Buffer, srcOffset: number, dst: Buffer, dstOffset: number, nonce: Buffer): boolean {
    const base = src.byteOffset + srcOffset;
    const text = new Uint8Array(src.buffer, base, FRAME_PLAINTEXT_BYTES);
    const tag = new Uint8Array(src.buffer, base + FRAME_PLAINTEXT_BYTES, AEAD_TAG_BYTES);
    // Opening in place (the socket receive path) needs no third view.
    const plain = src === dst && srcOffset === dstOffset ? text : new Uint8Array(dst.buffer, dst.byteOffset + dstOffset, FRAME_PLAINTEXT_BYTES);
    return this.direct.decrypt(plain, text, tag, undefined, nonce, this.key) === 0;
  }

  sealFrameOf(sb: SealBuffer, index: number, nonce: Buffer): void {
    const text = sb.texts[index];
    if (this.direct.encrypt(text, sb.tags[index], text, undefined, nonce, this.key) < 0) throw new Error('libsodium failed to seal a frame');
  }
}

class NodeCryptoFrameAead implements FrameAead {
  readonly kind = 'node:crypto';
  constructor(private readonly key: Buffer) {}

  sealFrame(buf: Buffer, offset: number, nonce: Buffer): void {
    const cipher = createCipheriv('chacha20-poly1305', this.key, nonce, { authTagLength: AEAD_TAG_BYTES });
    const sealed = cipher.update(buf.subarray(offset, offset + FRAME_PLAINTEXT_BYTES));
    cipher.final();
    sealed.copy(buf, offset);
    cipher.getAuthTag().copy(buf, offset + FRAME_PLAINTEXT_BYTES);
  }

  openFrameInto(src: Buffer, srcOffset: number, dst: Buffer, dstOffset: number, nonce: Buffer): boolean {
    const decipher = createDecipheriv('chacha20-poly1305', this.key, nonce, { authTagLength: AEAD_TAG_BYTES });
    decipher.setAuthTag(src.subarray(srcOffset + FRAME_PLAINTEXT_BYTES, srcOffset + FRAME_SEALED_BYTES));
    const text = decipher.update(src.subarray(srcOffset, srcOffset + FRAME_PLAINTEXT_BYTES));
    try {
      decipher.final();
    } catch {
      return false;
    }
    text.copy(dst, dstOffset);
    return true;
  }

  sealFrameOf(sb: SealBuffer, index: number, nonce: Buffer): void {
    this.sealFrame(sb.buf, index * FRAME_SEALED_BYTES, nonce);
  }
}

/** The fastest implementation available in this process. */
export function defaultFrameAeadKind(): FrameAeadKind {
  return sodiumBinding() ? 'sodium-native' : 'node:crypto';
}

/** Every implementation by name, for cross-checks in tests and side-by-side benchmarks. */
export type FrameAeadVariant = 'sodium-direct' | 'sodium-wrapper' | 'node:crypto';

export function createFrameAeadVariant(key: Uint8Array, variant: FrameAeadVariant): FrameAead {
  if (key.length !== AEAD_KEY_BYTES) throw new RangeError(`ChaCha20-Poly1305 key must have ${AEAD_KEY_BYTES} bytes, got ${key.length}`);
  const keyCopy = Buffer.from(key);
  if (variant === 'node:crypto') return new NodeCryptoFrameAead(keyCopy);
  const sodium = sodiumBinding();
  if (!sodium) throw new Error('sodium-native is not available in this process');
  if (variant === 'sodium-wrapper') return new SodiumFrameAead(sodium, keyCopy);
  const direct = sodiumAeadDirect();
  if (!direct) throw new Error("sodium-native's raw AEAD functions did not pass the self-test");
  return new SodiumDirectFrameAead(direct, keyCopy);
}

/** Frame AEAD for one direction's 32-byte key. Throws if `kind` is 'sodium-native' and it is unavailable. */
export function createFrameAead(key: Uint8Array, kind: FrameAeadKind = defaultFrameAeadKind()): FrameAead {
  if (key.length !== AEAD_KEY_BYTES) throw new RangeError(`ChaCha20-Poly1305 key must have ${AEAD_KEY_BYTES} bytes, got ${key.length}`);
  const keyCopy = Buffer.from(key);
  if (kind === 'node:crypto') return new NodeCryptoFrameAead(keyCopy);
  const sodium = sodiumBinding();
  if (!sodium) throw new Error('sodium-native is not available in this process; use the node:crypto frame AEAD');
  const direct = sodiumAeadDirect();
  return direct ? new SodiumDirectFrameAead(direct, keyCopy) : new SodiumFrameAead(sodium, keyCopy);
}
