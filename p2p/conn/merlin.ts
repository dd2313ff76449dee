/**
 * Merlin transcripts (merlin.cool, v1.0) on STROBE-128 over Keccak-f[1600].
 *
 * The SecretConnection handshake derives its 32-byte challenge from a Merlin transcript, so this
 * must match gtank/merlin and curve25519-voi's merlin byte for byte. Only the STROBE operations
 * Merlin uses are implemented: meta-AD, AD and PRF (no keying, no ciphertext operations).
 * The permutation comes from @noble/hashes (`keccakP`); the sponge bookkeeping is ours.
 */
import { keccakP } from '@noble/hashes/sha3.js';

/** STROBE-128: rate R = 200 - 2*16 - 2 = 166 bytes. */
const STROBE_RATE_BYTES = 166;

const FLAG_I = 1;
const FLAG_A = 2;
const FLAG_C = 4;
const FLAG_M = 16;
const FLAG_K = 32;

const MERLIN_PROTOCOL_LABEL = 'Merlin v1.0';
const textEncoder = new TextEncoder();

/**
 * keccakP works on 50 little-endian 32-bit words; STROBE addresses the state by byte. On a
 * little-endian host a byte view over the same memory is exactly the Keccak byte order.
 */
const HOST_IS_LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

function toBytes(data: Uint8Array | string): Uint8Array {
  return typeof data === 'string' ? textEncoder.encode(data) : data;
}

function le32(n: number): Uint8Array {
  const out = new Uint8Array(4);
  new DataView(out.buffer).setUint32(0, n, true);
  return out;
}

/** The subset of STROBE-128 (v1.0.2) that Merlin needs. */
export class Strobe128 {
  private readonly words = new Uint32Array(50);
  private readonly state = new Uint8Array(this.words.buffer);
  private pos = 0;
  private posBegin = 0;
  private curFlags = 0;

  constructor(protocolLabel: Uint8Array | string) {
    if (!HOST_IS_LITTLE_ENDIAN) throw new Error('Strobe128 needs a little-endian host');
    // Initial state: [1, R+2, 1, 0, 1, 12*8] ‖ "STROBEv1.0.2", permuted once.
    this.state.set([1, STROBE_RATE_BYTES + 2, 1, 0, 1, 96], 0);
    this.state.set(textEncoder.encode('STROBEv1.0.2'), 6);
    keccakP(this.words, 24);
    this.metaAd(toBytes(protocolLabel), false);
  }

  /** An independent copy of this state (lets callers reuse a common prefix). */
  clone(): Strobe128 {
    const copy = Object.create(Strobe128.prototype) as Strobe128;
    const words = new Uint32Array(this.words);
    Object.assign(copy, { words, state: new Uint8Array(words.buffer), pos: this.pos, posBegin: this.posBegin, curFlags: this.curFlags });
    return copy;
  }

  /** Absorbs framing metadata (labels, lengths). */
  metaAd(data: Uint8Array, more: boolean): void {
    this.beginOp(FLAG_M | FLAG_A, more);
    this.absorb(data);
  }

  /** Absorbs associated data (the transcript's messages). */
  ad(data: Uint8Array, more: boolean): void {
    this.beginOp(FLAG_A, more);
    this.absorb(data);
  }

  /** Squeezes `length` pseudo-random bytes bound to everything absorbed so far. */
  prf(length: number, more: boolean): Uint8Array {
    this.beginOp(FLAG_I | FLAG_A | FLAG_C, more);
    return this.squeeze(length);
  }

  private runF(): void {
    this.state[this.pos] ^= this.posBegin;
    this.state[this.pos + 1] ^= 0x04;
    this.state[STROBE_RATE_BYTES + 1] ^= 0x80;
    keccakP(this.words, 24);
    this.pos = 0;
    this.posBegin = 0;
  }

  private absorb(data: Uint8Array): void {
    for (let i = 0; i < data.length; i++) {
      this.state[this.pos] ^= data[i];
      this.pos++;
      if (this.pos === STROBE_RATE_BYTES) this.runF();
    }
  }

  private squeeze(length: number): Uint8Array {
    const out = new Uint8Array(length);
    for (let i = 0; i < length; i++) {
      out[i] = this.state[this.pos];
      this.state[this.pos] = 0;
      this.pos++;
      if (this.pos === STROBE_RATE_BYTES) this.runF();
    }
    return out;
  }

  private beginOp(flags: number, more: boolean): void {
    if (more) {
      // A continuation must repeat the flags of the operation it continues.
      if (flags !== this.curFlags) throw new Error(`STROBE continuation with flags ${flags} after ${this.curFlags}`);
      return;
    }
    const oldBegin = this.posBegin;
    this.posBegin = this.pos + 1;
    this.curFlags = flags;
    this.absorb(new Uint8Array([oldBegin, flags]));
    const forceF = (flags & (FLAG_C | FLAG_K)) !== 0;
    if (forceF && this.pos !== 0) this.runF();
  }
}

/** A Merlin transcript: labelled messages in, labelled challenges out. */
export class MerlinTranscript {
  private strobe: Strobe128;

  constructor(label: Uint8Array | string) {
    this.strobe = new Strobe128(MERLIN_PROTOCOL_LABEL);
    this.appendMessage('dom-sep', label);
  }

  /**
   * An independent copy of this transcript. A handshake starts from the same labelled
   * transcript every time, so cloning a prepared one skips the initial permutation.
   */
  clone(): MerlinTranscript {
    const copy = Object.create(MerlinTranscript.prototype) as MerlinTranscript;
    copy.strobe = this.strobe.clone();
    return copy;
  }

  appendMessage(label: Uint8Array | string, message: Uint8Array | string): void {
    const msg = toBytes(message);
    this.strobe.metaAd(toBytes(label), false);
    this.strobe.metaAd(le32(msg.length), true);
    this.strobe.ad(msg, false);
  }

  challengeBytes(label: Uint8Array | string, length: number): Uint8Array {
    if (!Number.isInteger(length) || length < 0 || length > 0xffffffff) throw new RangeError(`challenge length ${length} out of range`);
    this.strobe.metaAd(toBytes(label), false);
    this.strobe.metaAd(le32(length), true);
    return this.strobe.prf(length, false);
  }
}
