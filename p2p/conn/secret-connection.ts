/**
 * CometBFT's SecretConnection: an authenticated, encrypted byte stream over any raw Duplex.
 *
 * Handshake (both sides run it at once): clear-text exchange of ephemeral X25519 keys, a Merlin
 * challenge and HKDF key split over the shared secret, then an encrypted exchange of
 * AuthSigMessages that proves each side holds its Ed25519 node key. Afterwards every write is
 * cut into 1024-byte chunks, each sent as a 1044-byte ChaCha20-Poly1305 frame with a 64-bit
 * little-endian counter nonce.
 *
 * Throughput choices: all frames of a write batch (`_writev`) are sealed into one buffer and go
 * to the socket in one write; all complete frames of a received chunk are opened without
 * intermediate copies (in place in a socket's own buffer, or straight into one output buffer for
 * other Duplexes) and pushed as one chunk. A writer that lays its bytes out in frame slots itself
 * (MConnection's bulk batches, see writeFrames) has them sealed where they lie, without a copy.
 * With a FrameCryptoPool, large writes and received chunks are sealed and opened on worker
 * threads instead, in order, with the same bytes on the wire (see frame-crypto-pool.ts). A write
 * of at most 1024 bytes is one frame, so it never arrives split across two reads; several small
 * writes may arrive together in one read.
 */
import { Socket } from 'node:net';
import { Duplex } from 'node:stream';
import type { Clock } from '../clock.js';
import { nodeIdFromPubKey, type NodeId } from '../node-id.js';
import { switchyard } from '../proto/gen/wire.js';
import { encodeDelimited, readDelimited } from './delimited.js';
import {
  createFrameAead,
  defaultFrameAeadKind,
  FRAME_DATA_MAX_BYTES,
  FRAME_LENGTH_FIELD_BYTES,
  FRAME_PLAINTEXT_BYTES,
  FRAME_SEALED_BYTES,
  AEAD_NONCE_BYTES,
  SealBuffer,
  type FrameAead,
  type FrameAeadKind,
} from './frame-aead.js';
import {
  computeChallenge,
  deriveSecrets,
  ED25519_PUBKEY_BYTES,
  ED25519_SIGNATURE_BYTES,
  generateEphemeralKeyPair,
  sortEphemeralKeys,
  verifyEd25519,
  X25519_KEY_BYTES,
  x25519SharedSecret,
} from './handshake-crypto.js';
import {
  ErrChallengeVerification,
  ErrFrameAuthFailed,
  ErrFrameTooLarge,
  ErrHandshakeMessageMalformed,
  ErrHandshakeStreamFailed,
  ErrHandshakeTimeout,
  ErrInvalidEphemeralKey,
  ErrInvalidLocalIdentity,
  ErrMalformedPubKey,
  ErrNonceExhausted,
  ErrSmallOrderRemotePubKey,
  ErrTruncatedFrame,
  ErrUnsupportedPubKeyType,
} from './secret-connection-errors.js';
import { SwitchyardError } from '../errors.js';
import type { FrameCryptoPool, FrameCryptoSession, FrameJobResult } from './frame-crypto-pool.js';

/** Largest handshake protobuf message accepted (ephemeral key, AuthSigMessage): 1 MiB, as in CometBFT. */
export const MAX_HANDSHAKE_MESSAGE_BYTES = 1024 * 1024;
export const DEFAULT_HANDSHAKE_TIMEOUT_MS = 3000;
/** Largest frame count sealed into one socket write; bounds the size of a single output buffer. */
const MAX_FRAMES_PER_SOCKET_WRITE = 256;
/** A counter equal to 2^64-1 is never used: CometBFT aborts before delivering such a frame. */
const NONCE_COUNTER_LIMIT = (1n << 64n) - 1n;
const U32 = 0x1_0000_0000;
/**
 * Full-size seal buffers (MAX_FRAMES_PER_SOCKET_WRITE frames) that a socket has finished writing,
 * kept for reuse by any connection: a bulk transfer then allocates no output buffers and makes no
 * per-frame views. Bounded (16 × 267 KB, about 4.3 MB per process); idle connections hold none.
 */
const freeSealBuffers: SealBuffer[] = [];
const MAX_FREE_SEAL_BUFFERS = 16;
/**
 * Smallest write or received chunk, in frames, that goes to a FrameCryptoPool: below it, a job's
 * round trip (~0.1 ms) costs more latency than sealing or opening inline (~1.2 µs a frame). A
 * socket delivers bulk data in 64 KiB reads (62 frames), so this must stay well below 62.
 */
export const OFFLOAD_MIN_FRAMES = 32;
/** Sealed or staged bytes a connection lets wait on its pool before holding back its writer or pausing its socket. */
const OFFLOAD_BACKLOG_BYTES = 3 * MAX_FRAMES_PER_SOCKET_WRITE * FRAME_SEALED_BYTES;
/** Open jobs a connection keeps in flight; received data meanwhile gathers into the next, larger job. */
const MAX_OPEN_JOBS_IN_FLIGHT = 2;

/** Sealed bytes waiting their turn for the raw stream (behind a batch still on a pool worker). */
interface OutEntry {
  /** Undefined while the batch is being sealed. */
  data: Buffer | undefined;
  bytes: number;
  /** Runs once the raw stream has written `data`. */
  written?: (err?: Error | null) => void;
  /** Runs once `data` is handed to the raw stream (a failure that must come after the bytes before it). */
  then?: () => void;
}

const NOTHING = Buffer.alloc(0);

/** What the handshake needs of the local node key. NodeKey satisfies it. */
export interface LocalIdentity {
  /** 32-byte Ed25519 public key. */
  publicKey: Uint8Array;
  /** Plain RFC 8032 Ed25519 signature (64 bytes) over `message`. */
  sign(message: Uint8Array): Uint8Array;
}

export interface SecretConnectionDeps {
  /** Runs the handshake deadline. */
  clock: Clock;
}

export interface SecretConnectionOptions {
  /** Deadline for the whole handshake (key exchange and AuthSig). Default 3000 ms, like CometBFT. */
  handshakeTimeoutMs?: number;
  /** Fixed ephemeral X25519 private key (32 bytes). Tests and vectors only; default fresh random. */
  ephemeralPrivateKey?: Uint8Array;
  /** Frame AEAD implementation. Default: libsodium when sodium-native loads, else node:crypto. */
  aead?: FrameAeadKind;
  /**
   * First nonce counter for both directions, instead of 0. Tests only (to reach the counter
   * limit); both peers must use the same value or no frame authenticates.
   */
  nonceCounterStart?: bigint;
  /** Buffer sizes of this stream's readable and writable sides. Default 256 KiB each. */
  highWaterMarkBytes?: number;
  /**
   * Bytes to send through the encrypted stream right behind our AuthSigMessage, in the same
   * socket write (their own frames, after the AuthSig frame). For the upgrade's NodeInfo, which
   * does not depend on the peer: it saves one socket write per side and lets the peer's NodeInfo
   * read find the data already there. Frames and bytes on the wire are exactly those of writing
   * it after the handshake; only the timing differs (sent before the peer's AuthSig is checked,
   * which reveals nothing a peer with any key could not get by completing the handshake).
   * Default: none.
   */
  earlyData?: Uint8Array;
  /**
   * Worker threads to seal and open large batches of frames on (see frame-crypto-pool.ts). Writes
   * and received chunks of OFFLOAD_MIN_FRAMES frames or more go to the pool; smaller ones stay
   * inline unless they must wait behind a batch. Bytes on the wire are the same either way.
   * Default: none (everything inline, on this thread).
   */
  cryptoPool?: FrameCryptoPool;
}

/** A 64-bit little-endian frame counter in nonce bytes 4..11 (bytes 0..3 stay zero). */
class NonceCounter {
  readonly nonce = Buffer.alloc(AEAD_NONCE_BYTES);
  private lo: number;
  private hi: number;

  constructor(start: bigint) {
    if (start < 0n || start > NONCE_COUNTER_LIMIT) throw new RangeError(`nonce counter start ${start} out of range`);
    this.lo = Number(start & 0xffffffffn);
    this.hi = Number(start >> 32n);
    this.write();
  }

  get value(): bigint {
    return (BigInt(this.hi) << 32n) | BigInt(this.lo);
  }

  /** Whether the current counter may not be used (it is 2^64-1). */
  get exhausted(): boolean {
    return this.lo === 0xffffffff && this.hi === 0xffffffff;
  }

  /** Frames that may still be sealed or opened. */
  remaining(): number {
    // Exact below 2^53, which is far beyond any batch size we ask about.
    return (0xffffffff - this.hi) * U32 + (0xffffffff - this.lo);
  }

  /** The counter's low and high 32-bit words, for a job posted to a FrameCryptoPool. */
  get words(): [lo: number, hi: number] {
    return [this.lo, this.hi];
  }

  /** Moves the counter on by `n` frames at once (n < 2^32), for a batch sealed or opened elsewhere. */
  advanceBy(n: number): void {
    this.lo += n;
    if (this.lo > 0xffffffff) {
      this.lo -= U32;
      this.hi++;
    }
    this.write();
  }

  advance(): void {
    // Runs once per frame: only the low word changes, except on a carry.
    if (this.lo === 0xffffffff) {
      this.lo = 0;
      this.hi++;
      this.nonce.writeUInt32LE(this.hi, 8);
    } else {
      this.lo++;
    }
    this.nonce.writeUInt32LE(this.lo, 4);
  }

  private write(): void {
    this.nonce.writeUInt32LE(this.lo, 4);
    this.nonce.writeUInt32LE(this.hi, 8);
  }
}

export class SecretConnection extends Duplex {
  private remoteKey: Uint8Array | undefined;
  private remoteId: NodeId | undefined;
  private readonly sendAead: FrameAead;
  private readonly recvAead: FrameAead;
  private readonly sendCounter: NonceCounter;
  private readonly recvCounter: NonceCounter;
  /** Sealed bytes of a frame that arrived only in part. */
  private readonly carry = Buffer.allocUnsafe(FRAME_SEALED_BYTES);
  private carryLength = 0;
  /**
   * Whether received chunks are ours to overwrite: a net.Socket hands out a fresh buffer per
   * read, while other Duplexes (memory pipes) may pass on a buffer the writer still holds.
   */
  private readonly openInPlace: boolean;
  /** Our reader's buffer is full: the raw stream stays paused until _read. */
  private readerFull = false;
  /** Whether we paused the raw stream (reader full, or too much waiting on the pool). */
  private rawPaused = false;
  /** Where large batches are sealed and opened, if anywhere but here; the session starts with the first such batch. */
  private readonly cryptoPool: FrameCryptoPool | undefined;
  private session: FrameCryptoSession | undefined;
  private readonly keys: { send: Uint8Array; recv: Uint8Array } | undefined;
  /** Send side, offloading: sealed output in wire order, and its bytes not yet handed to raw. */
  private readonly outQueue: OutEntry[] = [];
  private outQueuedBytes = 0;
  /** Write callbacks held back while outQueuedBytes is over the backlog limit. */
  private readonly writeWaiting: ((err?: Error | null) => void)[] = [];
  /** _final's callback, held until outQueue is empty. */
  private endWaiting: ((err?: Error | null) => void) | undefined;
  /** Receive side, offloading: sealed bytes gathered for the next open job, and jobs out. */
  private staging: Buffer | undefined;
  private stagingBytes = 0;
  private openJobs = 0;
  private openJobBytes = 0;
  /** The raw stream ended (or closed) while open jobs were out: end (or fail), then close, once they are delivered. */
  private rawEndPending = false;
  private rawClosePending = false;
  /** The raw stream ended cleanly and we ended our readable side. */
  private endPushed = false;

  private readonly onRawData = (chunk: Buffer): void => this.receive(chunk);
  private readonly onRawEnd = (): void => {
    if (this.openJobs > 0) {
      this.rawEndPending = true;
      return;
    }
    const partial = this.carryLength + this.stagingBytes;
    if (partial > 0) this.destroy(new ErrTruncatedFrame(partial, FRAME_SEALED_BYTES));
    else {
      this.endPushed = true;
      this.push(null);
    }
  };
  private readonly onRawError = (err: Error): void => {
    this.destroy(err);
  };
  private readonly onRawClose = (): void => {
    // Frames read before the close are still being opened: deliver them first (see onOpened).
    if (this.openJobs > 0) {
      this.rawClosePending = true;
      return;
    }
    if (this.destroyed) return;
    // After a clean end our reader may not have read everything yet: close once it has (a
    // net.Socket does the same), so no delivered byte is lost to the close.
    if (this.endPushed && this.readableLength > 0) this.once('end', () => this.destroy());
    else this.destroy();
  };

  private constructor(
    private readonly raw: Duplex,
    sendKey: Uint8Array,
    recvKey: Uint8Array,
    aead: FrameAeadKind,
    nonceCounterStart: bigint,
    highWaterMarkBytes: number,
    cryptoPool: FrameCryptoPool | undefined,
  ) {
    super({ allowHalfOpen: false, readableHighWaterMark: highWaterMarkBytes, writableHighWaterMark: highWaterMarkBytes });
    this.sendAead = createFrameAead(sendKey, aead);
    this.recvAead = createFrameAead(recvKey, aead);
    this.sendCounter = new NonceCounter(nonceCounterStart);
    this.recvCounter = new NonceCounter(nonceCounterStart);
    this.openInPlace = raw instanceof Socket;
    if (cryptoPool) {
      this.cryptoPool = cryptoPool;
      this.keys = { send: Uint8Array.from(sendKey), recv: Uint8Array.from(recvKey) };
    }
    raw.on('data', this.onRawData);
    raw.on('end', this.onRawEnd);
    raw.on('error', this.onRawError);
    raw.on('close', this.onRawClose);
    // The peer may have sent its key and closed before we got here: those events are past.
    if (raw.destroyed) process.nextTick(this.onRawClose);
    else if (raw.readableEnded) process.nextTick(this.onRawEnd);
  }

  /** The peer's authenticated 32-byte Ed25519 public key. */
  get remotePubKey(): Uint8Array {
    if (!this.remoteKey) throw new Error('the handshake has not authenticated the peer yet');
    return this.remoteKey;
  }

  /** The peer's node ID (derived from remotePubKey). */
  get remoteNodeId(): NodeId {
    if (!this.remoteId) throw new Error('the handshake has not authenticated the peer yet');
    return this.remoteId;
  }

  /** Which ChaCha20-Poly1305 implementation seals and opens this connection's frames. */
  get aeadKind(): FrameAeadKind {
    return this.sendAead.kind;
  }

  /**
   * Runs the handshake over `raw` and resolves with the encrypted connection, or rejects with a
   * typed error (raw is then destroyed). The raw stream must not be read by anyone else.
   */
  static async handshake(
    deps: SecretConnectionDeps,
    raw: Duplex,
    identity: LocalIdentity,
    options: SecretConnectionOptions = {},
  ): Promise<SecretConnection> {
    if (!(identity?.publicKey instanceof Uint8Array) || identity.publicKey.length !== ED25519_PUBKEY_BYTES) {
      throw new ErrInvalidLocalIdentity(`publicKey must be a ${ED25519_PUBKEY_BYTES}-byte Ed25519 key`);
    }
    if (typeof identity.sign !== 'function') throw new ErrInvalidLocalIdentity('sign(message) is missing');
    const timeoutMs = options.handshakeTimeoutMs ?? DEFAULT_HANDSHAKE_TIMEOUT_MS;
    if (!(timeoutMs > 0)) throw new RangeError(`handshakeTimeoutMs must be a positive number of milliseconds, got ${timeoutMs}`);
    const aead = options.aead ?? defaultFrameAeadKind();
    if (aead !== 'sodium-native' && aead !== 'node:crypto') throw new RangeError(`aead must be 'sodium-native' or 'node:crypto', got ${String(aead)}`);
    if (aead === 'sodium-native' && defaultFrameAeadKind() !== 'sodium-native') throw new RangeError("aead 'sodium-native' was requested but sodium-native cannot be loaded here");
    const nonceStart = options.nonceCounterStart ?? 0n;
    if (typeof nonceStart !== 'bigint' || nonceStart < 0n || nonceStart > NONCE_COUNTER_LIMIT) {
      throw new RangeError(`nonceCounterStart must be a bigint in [0, 2^64-1], got ${String(nonceStart)}`);
    }
    const highWaterMarkBytes = options.highWaterMarkBytes ?? 256 * 1024;
    if (!Number.isInteger(highWaterMarkBytes) || highWaterMarkBytes < 1) throw new RangeError(`highWaterMarkBytes must be a positive integer, got ${highWaterMarkBytes}`);
    if (options.earlyData !== undefined && !(options.earlyData instanceof Uint8Array)) throw new RangeError('earlyData must be a Uint8Array');
    const pool = options.cryptoPool;
    if (pool !== undefined && typeof pool?.session !== 'function') throw new RangeError('cryptoPool must be a FrameCryptoPool');
    const eph = options.ephemeralPrivateKey;
    if (eph !== undefined && (!(eph instanceof Uint8Array) || eph.length !== X25519_KEY_BYTES)) {
      throw new RangeError(`ephemeralPrivateKey must be ${X25519_KEY_BYTES} bytes`);
    }

    let phase = 'ephemeral key exchange';
    const abort = new AbortController();
    const timer = deps.clock.setTimeout(() => abort.abort(new ErrHandshakeTimeout(timeoutMs, phase)), timeoutMs);
    // Any raw stream failure ends the handshake; the listener also keeps such an error from
    // going unhandled between our reads.
    const onRawError = (err: Error): void => abort.abort(new ErrHandshakeStreamFailed(phase, err));
    raw.on('error', onRawError);
    let conn: SecretConnection | undefined;
    try {
      // 1. Ephemeral keys, sent in the clear while we read the peer's.
      const ours = generateEphemeralKeyPair(eph);
      raw.write(encodeDelimited(switchyard.p2p.BytesValue.encode({ value: ours.publicKey }).finish()));
      const ephBody = await readDelimited(raw, { maxBytes: MAX_HANDSHAKE_MESSAGE_BYTES, what: 'ephemeral key message', signal: abort.signal });
      const remoteEph = decodeEphemeralKey(ephBody);

      // 2. Shared secret, transcript challenge and directional keys.
      const dh = x25519SharedSecret(ours.privateKey, remoteEph);
      if (!dh) throw new ErrSmallOrderRemotePubKey(Buffer.from(remoteEph).toString('hex'));
      const { lo, hi, localIsLeast } = sortEphemeralKeys(ours.publicKey, remoteEph);
      const challenge = computeChallenge(lo, hi, dh);
      const { sendKey, recvKey } = deriveSecrets(dh, localIsLeast);
      conn = new SecretConnection(raw, sendKey, recvKey, aead, nonceStart, highWaterMarkBytes, pool);

      // 3. Encrypted AuthSig exchange.
      phase = 'AuthSig exchange';
      const signature = signChallenge(identity, challenge);
      const authSig = switchyard.p2p.AuthSigMessage.encode({ pubKey: { ed25519: identity.publicKey }, sig: signature }).finish();
      if (options.earlyData && options.earlyData.length > 0) {
        // One _writev: each chunk is sealed into its own frames, and all go out in one write.
        conn.cork();
        conn.write(encodeDelimited(authSig));
        conn.write(options.earlyData);
        conn.uncork();
      } else {
        conn.write(encodeDelimited(authSig));
      }
      const authBody = await readDelimited(conn, { maxBytes: MAX_HANDSHAKE_MESSAGE_BYTES, what: 'AuthSigMessage', signal: abort.signal });
      const remotePubKey = verifyAuthSig(authBody, challenge);
      conn.remoteKey = remotePubKey;
      conn.remoteId = nodeIdFromPubKey(remotePubKey);
      return conn;
    } catch (err) {
      const failure = abort.signal.aborted && err === abort.signal.reason ? err : toHandshakeError(err, phase);
      if (conn) conn.destroy();
      else raw.destroy();
      throw failure;
    } finally {
      deps.clock.clearTimeout(timer);
      raw.off('error', onRawError);
    }
  }

  // ---- receive path ----

  private receive(chunk: Buffer): void {
    if (this.destroyed) return;
    if (this.staging || (this.carryLength + chunk.length >= OFFLOAD_MIN_FRAMES * FRAME_SEALED_BYTES && this.offloading)) {
      this.stageForOpen(chunk);
      return;
    }
    if (this.openInPlace) {
      this.receiveInPlace(chunk);
      return;
    }
    const frames = Math.floor((this.carryLength + chunk.length) / FRAME_SEALED_BYTES);
    if (frames === 0) {
      chunk.copy(this.carry, this.carryLength);
      this.carryLength += chunk.length;
      return;
    }
    // Frames are opened straight into `out` so that their data ends up contiguous: frame k's
    // plaintext (length field, data, padding) lands where frame k-1's data ends minus 4, and
    // the 4 data bytes its length field covers are saved and put back after the open.
    const out = Buffer.allocUnsafe(FRAME_LENGTH_FIELD_BYTES + (frames - 1) * FRAME_DATA_MAX_BYTES + FRAME_PLAINTEXT_BYTES);
    let dataBytes = 0;
    let offset = 0;
    let failure: Error | undefined;
    if (this.carryLength > 0) {
      const need = FRAME_SEALED_BYTES - this.carryLength;
      chunk.copy(this.carry, this.carryLength, 0, need);
      this.carryLength = 0;
      offset = need;
      const n = this.openInto(this.carry, 0, out, dataBytes);
      if (typeof n === 'number') dataBytes += n;
      else failure = n;
    }
    while (!failure && offset + FRAME_SEALED_BYTES <= chunk.length) {
      const n = this.openInto(chunk, offset, out, dataBytes);
      if (typeof n === 'number') dataBytes += n;
      else failure = n;
      offset += FRAME_SEALED_BYTES;
    }
    // Frames before a bad one are delivered, as CometBFT's reader would have returned them.
    const more = dataBytes === 0 || this.push(out.subarray(FRAME_LENGTH_FIELD_BYTES, FRAME_LENGTH_FIELD_BYTES + dataBytes));
    this.finishChunk(chunk, offset, more, failure);
  }

  /**
   * The receive path for chunks we own: each frame is opened where it lies and its data moved
   * down to follow the previous frame's, so no output buffer is allocated. A frame split across
   * chunks is completed in `carry` and delivered first, on its own.
   */
  private receiveInPlace(chunk: Buffer): void {
    let offset = 0;
    let failure: Error | undefined;
    let more = true;
    if (this.carryLength > 0) {
      const need = FRAME_SEALED_BYTES - this.carryLength;
      if (chunk.length < need) {
        chunk.copy(this.carry, this.carryLength);
        this.carryLength += chunk.length;
        return;
      }
      chunk.copy(this.carry, this.carryLength, 0, need);
      this.carryLength = 0;
      offset = need;
      const n = this.openAt(this.carry, 0);
      if (typeof n !== 'number') failure = n;
      else if (n > 0) more = this.push(Buffer.from(this.carry.subarray(FRAME_LENGTH_FIELD_BYTES, FRAME_LENGTH_FIELD_BYTES + n)));
    }
    const dataStart = offset;
    let dataEnd = offset;
    while (!failure && offset + FRAME_SEALED_BYTES <= chunk.length) {
      const n = this.openAt(chunk, offset);
      if (typeof n !== 'number') failure = n;
      else {
        chunk.copyWithin(dataEnd, offset + FRAME_LENGTH_FIELD_BYTES, offset + FRAME_LENGTH_FIELD_BYTES + n);
        dataEnd += n;
      }
      offset += FRAME_SEALED_BYTES;
    }
    if (dataEnd > dataStart) more = this.push(chunk.subarray(dataStart, dataEnd)) && more;
    this.finishChunk(chunk, offset, more, failure);
  }

  /**
   * The end of both receive paths, once the chunk's whole frames are delivered: a bad frame ends
   * the connection; otherwise the partial frame from `offset` on waits in `carry` for the next
   * chunk, and the raw stream pauses while our reader's buffer is full (`more` false).
   */
  private finishChunk(chunk: Buffer, offset: number, more: boolean, failure: Error | undefined): void {
    if (failure) {
      this.destroy(failure);
      return;
    }
    if (offset < chunk.length) {
      chunk.copy(this.carry, 0, offset);
      this.carryLength = chunk.length - offset;
    }
    if (!more) {
      this.readerFull = true;
      this.updateRawFlow();
    }
  }

  /** Pauses the raw stream while our reader is full or too much waits on the pool; resumes it otherwise. */
  private updateRawFlow(): void {
    const pause = this.readerFull || this.openJobBytes + this.stagingBytes > OFFLOAD_BACKLOG_BYTES;
    if (pause === this.rawPaused || this.destroyed) return;
    this.rawPaused = pause;
    if (pause) this.raw.pause();
    else this.raw.resume();
  }

  // ---- offloading to a FrameCryptoPool (the session; then the receive path) ----

  /**
   * Whether a large batch goes to the pool now: the pool is on, and this connection has (or now
   * gets) a session there. Asked only for batches large enough, so small-message connections
   * never start one.
   */
  private get offloading(): boolean {
    if (!this.cryptoPool?.enabled) return false;
    this.session ??= this.cryptoPool.session(this.keys!.send, this.keys!.recv);
    return this.session !== undefined;
  }

  /**
   * Whether the worker already has the pool's shareAtBacklogJobs queued (opt-in): a batch to
   * seal is then sealed here instead, queued behind the jobs for order. Only asked after
   * `offloading` said true, so the session exists.
   */
  private get workerSaturated(): boolean {
    return this.session!.workerSaturated;
  }

  /**
   * Gathers sealed bytes into the staging buffer (a partial frame in `carry` first) and posts
   * them as open jobs: at once while fewer than MAX_OPEN_JOBS_IN_FLIGHT are out, otherwise when
   * the staging buffer is full or a job comes back. Staging stays in use until every job is back
   * and less than one frame is left, so frames are always opened in order.
   */
  private stageForOpen(chunk: Buffer): void {
    if (!this.staging) {
      this.staging = Buffer.allocUnsafeSlow(MAX_FRAMES_PER_SOCKET_WRITE * FRAME_SEALED_BYTES);
      this.carry.copy(this.staging, 0, 0, this.carryLength);
      this.stagingBytes = this.carryLength;
      this.carryLength = 0;
    }
    let pos = 0;
    while (pos < chunk.length && !this.destroyed) {
      const n = Math.min(this.staging.length - this.stagingBytes, chunk.length - pos);
      chunk.copy(this.staging, this.stagingBytes, pos, pos + n);
      this.stagingBytes += n;
      pos += n;
      if (this.stagingBytes === this.staging.length) this.postOpen();
    }
    if (this.openJobs < MAX_OPEN_JOBS_IN_FLIGHT) this.postOpen();
    this.updateRawFlow();
  }

  /** Posts the staging buffer's whole frames as one open job; the partial frame after them moves to a new staging buffer. */
  private postOpen(): void {
    const staged = this.staging;
    if (!staged || this.destroyed) return;
    const frames = Math.floor(this.stagingBytes / FRAME_SEALED_BYTES);
    if (frames === 0) return;
    const usable = Math.min(frames, this.recvCounter.remaining());
    if (usable === 0) {
      this.destroy(new ErrNonceExhausted('receive'));
      return;
    }
    const jobBytes = usable * FRAME_SEALED_BYTES;
    const rest = this.stagingBytes - jobBytes;
    this.staging = Buffer.allocUnsafeSlow(MAX_FRAMES_PER_SOCKET_WRITE * FRAME_SEALED_BYTES);
    staged.copy(this.staging, 0, jobBytes, this.stagingBytes);
    this.stagingBytes = rest;
    const first = this.recvCounter.value;
    const [lo, hi] = this.recvCounter.words;
    this.recvCounter.advanceBy(usable);
    this.openJobs++;
    this.openJobBytes += jobBytes;
    this.session!.open(staged.buffer as ArrayBuffer, usable, lo, hi).then(
      (r) => this.onOpened(r, jobBytes, first),
      (err: unknown) => this.destroy(err as Error),
    );
  }

  private onOpened(r: FrameJobResult, jobBytes: number, first: bigint): void {
    this.openJobs--;
    this.openJobBytes -= jobBytes;
    if (this.destroyed) return;
    if (r.dataBytes > 0 && !this.push(Buffer.from(r.ab, 0, r.dataBytes))) this.readerFull = true;
    if (r.failure !== 0) {
      const counter = first + BigInt(r.opened);
      this.destroy(r.failure === 1 ? new ErrFrameAuthFailed(counter) : new ErrFrameTooLarge(r.length, FRAME_DATA_MAX_BYTES, counter));
      return;
    }
    if (this.stagingBytes >= FRAME_SEALED_BYTES) this.postOpen();
    else if (this.openJobs === 0) {
      // Caught up: back to inline opens, the partial frame (if any) waiting in carry.
      this.staging!.copy(this.carry, 0, 0, this.stagingBytes);
      this.carryLength = this.stagingBytes;
      this.staging = undefined;
      this.stagingBytes = 0;
      if (this.rawEndPending) this.onRawEnd();
      if (this.rawClosePending) this.onRawClose();
    }
    this.updateRawFlow();
  }

  /** Opens the sealed frame at buf[offset] in place; returns its data length or the error. */
  private openAt(buf: Buffer, offset: number): number | Error {
    if (this.recvCounter.exhausted) return new ErrNonceExhausted('receive');
    if (!this.recvAead.openFrameInto(buf, offset, buf, offset, this.recvCounter.nonce)) return new ErrFrameAuthFailed(this.recvCounter.value);
    const length = buf.readUInt32LE(offset);
    if (length > FRAME_DATA_MAX_BYTES) return new ErrFrameTooLarge(length, FRAME_DATA_MAX_BYTES, this.recvCounter.value);
    this.recvCounter.advance();
    return length;
  }

  /**
   * Opens the sealed frame at src[srcOffset] into `out` so that its data starts at
   * out[4 + dataBytes]. Returns the data length, or the error that must end the connection.
   */
  private openInto(src: Buffer, srcOffset: number, out: Buffer, dataBytes: number): number | Error {
    if (this.recvCounter.exhausted) return new ErrNonceExhausted('receive');
    const at = dataBytes; // this frame's length field overlays the last 4 bytes of earlier data
    const saved = out.readUInt32LE(at);
    const ok = this.recvAead.openFrameInto(src, srcOffset, out, at, this.recvCounter.nonce);
    const length = out.readUInt32LE(at);
    out.writeUInt32LE(saved, at);
    if (!ok) return new ErrFrameAuthFailed(this.recvCounter.value);
    if (length > FRAME_DATA_MAX_BYTES) return new ErrFrameTooLarge(length, FRAME_DATA_MAX_BYTES, this.recvCounter.value);
    this.recvCounter.advance();
    return length;
  }

  override _read(): void {
    if (this.readerFull) {
      this.readerFull = false;
      this.updateRawFlow();
    }
  }

  // ---- send path ----

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (err?: Error | null) => void): void {
    this.sealAndSend([chunk], callback);
  }

  override _writev(chunks: { chunk: Buffer }[], callback: (err?: Error | null) => void): void {
    this.sealAndSend(
      chunks.map((c) => c.chunk),
      callback,
    );
  }

  private sealAndSend(chunks: Buffer[], callback: (err?: Error | null) => void): void {
    // An empty write sends no frame at all, as in CometBFT.
    let frames = 0;
    for (const c of chunks) frames += Math.ceil(c.length / FRAME_DATA_MAX_BYTES);
    if (frames >= OFFLOAD_MIN_FRAMES && this.offloading && !this.workerSaturated) {
      this.sealOffloaded(chunks, frames, callback);
      return;
    }
    const usable = Math.min(frames, this.sendCounter.remaining());
    const nonce = this.sendCounter.nonce;
    let sb = this.takeSealBuffer(Math.min(usable, MAX_FRAMES_PER_SOCKET_WRITE));
    let framesInOut = 0;
    let sealed = 0;
    let writable = true;
    const flush = (): void => {
      if (framesInOut === 0) return;
      writable = this.sendSealed(sb, framesInOut);
      if (sealed < usable) sb = this.takeSealBuffer(Math.min(usable - sealed, MAX_FRAMES_PER_SOCKET_WRITE));
      framesInOut = 0;
    };
    outer: for (const c of chunks) {
      for (let start = 0; start < c.length; start += FRAME_DATA_MAX_BYTES) {
        if (sealed === usable) break outer;
        layFrame(sb.buf, framesInOut, c, start);
        this.sendAead.sealFrameOf(sb, framesInOut, nonce);
        this.sendCounter.advance();
        sealed++;
        framesInOut++;
        if (framesInOut === MAX_FRAMES_PER_SOCKET_WRITE) flush();
      }
    }
    flush();
    if (sealed < frames) {
      this.failAfterQueued(() => callback(new ErrNonceExhausted('send')));
      return;
    }
    if (this.outQueue.length > 0) this.holdWriter(callback);
    else if (writable) callback();
    else this.waitForDrain(callback);
  }

  /** Writes the first `frames` sealed frames of `sb` to the raw stream (behind any queued output); returns false when the raw stream is full. */
  private sendSealed(sb: SealBuffer, frames: number): boolean {
    const bytes = frames * FRAME_SEALED_BYTES;
    const data = bytes === sb.buf.length ? sb.buf : sb.buf.subarray(0, bytes);
    // A socket's write callback means the kernel has the bytes: a full-size buffer is free again.
    // Other Duplexes (memory pipes) may hand this very buffer to their reader.
    const written = this.openInPlace && sb.frames === MAX_FRAMES_PER_SOCKET_WRITE ? releaseAfterWrite(sb) : undefined;
    if (this.outQueue.length > 0) {
      this.queueOut({ data, bytes, written });
      return true;
    }
    return this.raw.write(data, written);
  }

  // ---- send path, offloaded to a FrameCryptoPool ----

  /** Lays the chunks out in frame slots, up to 256 a job, and posts them to be sealed; output keeps write order. */
  private sealOffloaded(chunks: Buffer[], frames: number, callback: (err?: Error | null) => void): void {
    const usable = Math.min(frames, this.sendCounter.remaining());
    let sb: SealBuffer | undefined;
    let slots = 0;
    let laid = 0;
    outer: for (const c of chunks) {
      for (let start = 0; start < c.length; start += FRAME_DATA_MAX_BYTES) {
        if (laid === usable) break outer;
        sb ??= this.takeSealBuffer(MAX_FRAMES_PER_SOCKET_WRITE);
        layFrame(sb.buf, slots, c, start);
        laid++;
        if (++slots === MAX_FRAMES_PER_SOCKET_WRITE) {
          this.postSeal(sb, slots);
          sb = undefined;
          slots = 0;
        }
      }
    }
    if (sb) this.postSeal(sb, slots);
    if (laid < frames) this.failAfterQueued(() => callback(new ErrNonceExhausted('send')));
    else this.holdWriter(callback);
  }

  /** Runs `fail` once everything queued before it has gone to the raw stream (at once if nothing is queued). */
  private failAfterQueued(fail: () => void): void {
    if (this.outQueue.length === 0) fail();
    else this.queueOut({ data: NOTHING, bytes: 0, then: fail });
  }

  /** Posts the first `frames` laid-out slots of `sb` (its ArrayBuffer is transferred) and queues their place in the output. */
  private postSeal(sb: SealBuffer, frames: number): void {
    const bytes = frames * FRAME_SEALED_BYTES;
    const entry: OutEntry = { data: undefined, bytes };
    this.queueOut(entry);
    const [lo, hi] = this.sendCounter.words;
    this.sendCounter.advanceBy(frames);
    this.session!.seal(sb.buf.buffer as ArrayBuffer, frames, lo, hi).then(
      (r) => {
        const back = new SealBuffer(MAX_FRAMES_PER_SOCKET_WRITE, r.ab);
        entry.data = back.buf.subarray(0, bytes);
        entry.written = this.openInPlace ? releaseAfterWrite(back) : undefined;
        this.flushOut();
      },
      (err: unknown) => this.destroy(err as Error),
    );
  }

  private queueOut(entry: OutEntry): void {
    this.outQueue.push(entry);
    this.outQueuedBytes += entry.bytes;
  }

  /** Hands the sealed entries at the head of the queue to the raw stream, in order; then maybe lets the writer go on. */
  private flushOut(): void {
    if (this.destroyed) return;
    while (this.outQueue.length > 0 && this.outQueue[0].data && !this.destroyed) {
      const e = this.outQueue.shift()!;
      this.outQueuedBytes -= e.bytes;
      if (e.data!.length > 0) this.raw.write(e.data!, e.written);
      e.then?.();
    }
    if (this.destroyed) return;
    if (this.outQueue.length === 0 && this.endWaiting) {
      const done = this.endWaiting;
      this.endWaiting = undefined;
      this.raw.end();
      done();
    }
    this.releaseWriter();
  }

  /** Completes a write once the output backlog is under its limit and the raw stream has room; true if at once. */
  private holdWriter(callback: (err?: Error | null) => void): boolean {
    this.writeWaiting.push(callback);
    this.releaseWriter();
    return this.writeWaiting.length === 0;
  }

  private releaseWriter(): void {
    if (this.writeWaiting.length === 0 || this.outQueuedBytes > OFFLOAD_BACKLOG_BYTES) return;
    const callbacks = this.writeWaiting.splice(0);
    if (this.raw.writableNeedDrain) this.waitForDrain(() => callbacks.forEach((cb) => cb()));
    else callbacks.forEach((cb) => cb());
  }

  // ---- direct frame writes (MConnection's bulk path) ----

  /** Stream bytes that one buffer from takeFrameBuffer() carries (256 frames of 1024). */
  static readonly FRAME_BUFFER_DATA_BYTES = MAX_FRAMES_PER_SOCKET_WRITE * FRAME_DATA_MAX_BYTES;

  /**
   * Whether writeFrames may be used now: the raw stream is a socket (its write callback frees the
   * buffer), and nothing written through the Writable side is still queued or corked, so a direct
   * write cannot overtake it; false once the stream is ending or destroyed.
   */
  get directWritable(): boolean {
    return this.openInPlace && this.writable && this.writableLength === 0 && this.writableCorked === 0 && this.remoteKey !== undefined;
  }

  /**
   * An empty frame buffer (256 slots) for writeFrames: the caller lays out up to
   * FRAME_BUFFER_DATA_BYTES of stream bytes in its slots' data regions with copyIntoFrames().
   */
  takeFrameBuffer(): SealBuffer {
    return this.takeSealBuffer(MAX_FRAMES_PER_SOCKET_WRITE);
  }

  /**
   * Seals and sends the first `streamBytes` stream bytes laid out in `sb` (from takeFrameBuffer,
   * filled with copyIntoFrames): exactly the frames and bytes on the wire that write() of the same
   * bytes as one chunk produces, without copying them again. Only while directWritable. Returns
   * false if the raw stream is over its buffer limit; `callback` runs once the raw stream has
   * taken the bytes (at once, or on its 'drain'). `sb` belongs to this connection afterwards.
   * Running out of nonces sends the frames that may still be sealed and destroys the stream.
   */
  writeFrames(sb: SealBuffer, streamBytes: number, callback: (err?: Error | null) => void): boolean {
    if (!this.directWritable) throw new Error('writeFrames needs directWritable');
    if (sb.frames !== MAX_FRAMES_PER_SOCKET_WRITE || !(streamBytes >= 0 && streamBytes <= SecretConnection.FRAME_BUFFER_DATA_BYTES)) {
      throw new RangeError(`writeFrames: ${streamBytes} bytes do not fit a frame buffer`);
    }
    const frames = Math.ceil(streamBytes / FRAME_DATA_MAX_BYTES);
    const usable = Math.min(frames, this.sendCounter.remaining());
    const buf = sb.buf;
    const offloaded = usable >= OFFLOAD_MIN_FRAMES && this.offloading && !this.workerSaturated;
    const nonce = this.sendCounter.nonce;
    for (let i = 0; i < usable; i++) {
      frameHeaderAndPadding(buf, i, Math.min(streamBytes - i * FRAME_DATA_MAX_BYTES, FRAME_DATA_MAX_BYTES));
      if (!offloaded) {
        this.sendAead.sealFrameOf(sb, i, nonce);
        this.sendCounter.advance();
      }
    }
    let writable = true;
    if (offloaded) this.postSeal(sb, usable);
    else if (usable > 0) writable = this.sendSealed(sb, usable);
    else if (freeSealBuffers.length < MAX_FREE_SEAL_BUFFERS) freeSealBuffers.push(sb);
    if (usable < frames) {
      const err = new ErrNonceExhausted('send');
      this.failAfterQueued(() => {
        this.destroy(err);
        callback(err);
      });
      return false;
    }
    if (offloaded || this.outQueue.length > 0) return this.holdWriter(callback);
    if (writable) callback();
    else this.waitForDrain(callback);
    return writable;
  }

  /** An output buffer for `frames` frames: a reused one for full-size socket batches, else a fresh one. */
  private takeSealBuffer(frames: number): SealBuffer {
    if (frames === MAX_FRAMES_PER_SOCKET_WRITE && this.openInPlace) {
      const free = freeSealBuffers.pop();
      if (free) return free;
    }
    return new SealBuffer(frames);
  }

  private waitForDrain(callback: (err?: Error | null) => void): void {
    if (this.raw.destroyed) {
      // Its 'close' has come or is about to: nothing will drain.
      callback();
      return;
    }
    const done = (): void => {
      this.raw.off('drain', done);
      this.raw.off('close', done);
      callback();
    };
    this.raw.on('drain', done);
    this.raw.on('close', done);
  }

  override _final(callback: (err?: Error | null) => void): void {
    if (this.outQueue.length > 0) {
      this.endWaiting = callback;
      return;
    }
    this.raw.end();
    callback();
  }

  override _destroy(err: Error | null, callback: (err?: Error | null) => void): void {
    this.raw.off('data', this.onRawData);
    this.raw.off('end', this.onRawEnd);
    this.raw.off('close', this.onRawClose);
    this.session?.close();
    this.outQueue.length = 0;
    this.outQueuedBytes = 0;
    // As waitForDrain does on close: held writers learn of the end through the stream's events.
    for (const cb of this.writeWaiting.splice(0)) process.nextTick(cb);
    this.staging = undefined;
    this.stagingBytes = 0;
    // Keep listening for raw errors: a late socket error must not become an unhandled event.
    if (!this.raw.destroyed) this.raw.destroy();
    callback(err);
  }
}

/** Lays the next up-to-1024 bytes of `c` from `start` into frame slot `slot` of `out`: length field, data, zero padding. */
function layFrame(out: Buffer, slot: number, c: Buffer, start: number): void {
  const len = Math.min(c.length - start, FRAME_DATA_MAX_BYTES);
  out.set(start === 0 && len === c.length ? c : new Uint8Array(c.buffer, c.byteOffset + start, len), slot * FRAME_SEALED_BYTES + FRAME_LENGTH_FIELD_BYTES);
  frameHeaderAndPadding(out, slot, len);
}

/** Writes slot `slot`'s length field (`len` data bytes) and zeroes its padding. */
function frameHeaderAndPadding(out: Buffer, slot: number, len: number): void {
  const at = slot * FRAME_SEALED_BYTES;
  out.writeUInt32LE(len, at);
  if (len < FRAME_DATA_MAX_BYTES) out.fill(0, at + FRAME_LENGTH_FIELD_BYTES + len, at + FRAME_PLAINTEXT_BYTES);
}

/** A raw write callback that returns a full-size seal buffer to the shared free list once written. */
function releaseAfterWrite(sb: SealBuffer): (err?: Error | null) => void {
  return (err) => {
    if (!err && freeSealBuffers.length < MAX_FREE_SEAL_BUFFERS) freeSealBuffers.push(sb);
  };
}

function signChallenge(identity: LocalIdentity, challenge: Uint8Array): Uint8Array {
  let signature: Uint8Array;
  try {
    signature = identity.sign(challenge);
  } catch (err) {
    throw new ErrInvalidLocalIdentity(`sign() failed: ${(err as Error)?.message ?? String(err)}`);
  }
  if (!(signature instanceof Uint8Array) || signature.length !== ED25519_SIGNATURE_BYTES) {
    throw new ErrInvalidLocalIdentity('sign() must return a 64-byte Ed25519 signature');
  }
  return signature;
}

/** protobufjs reads a Node Buffer with a laxer reader; a plain view gets strict bounds checks. */
function asPlainView(b: Buffer): Uint8Array {
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}

function decodeEphemeralKey(body: Buffer): Uint8Array {
  let msg: switchyard.p2p.BytesValue;
  try {
    msg = switchyard.p2p.BytesValue.decode(asPlainView(body));
  } catch (err) {
    throw new ErrHandshakeMessageMalformed('BytesValue', (err as Error).message, { cause: err });
  }
  const value = msg.value ?? new Uint8Array(0);
  // CometBFT zero-pads a short key; demanding exactly 32 bytes is stricter and every honest peer sends 32.
  if (value.length !== X25519_KEY_BYTES) throw new ErrInvalidEphemeralKey(value.length);
  return value;
}

function verifyAuthSig(body: Buffer, challenge: Uint8Array): Uint8Array {
  let msg: switchyard.p2p.AuthSigMessage;
  try {
    msg = switchyard.p2p.AuthSigMessage.decode(asPlainView(body));
  } catch (err) {
    throw new ErrHandshakeMessageMalformed('AuthSigMessage', (err as Error).message, { cause: err });
  }
  // Decoded messages are class instances, which carry the oneof's `sum` getter.
  const key = msg.pubKey as switchyard.crypto.PublicKey | null | undefined;
  const keyType = key?.sum;
  if (keyType !== 'ed25519') throw new ErrUnsupportedPubKeyType(keyType ?? 'missing');
  const pubKey = key!.ed25519!;
  if (pubKey.length !== ED25519_PUBKEY_BYTES) throw new ErrMalformedPubKey(pubKey.length);
  const sig = msg.sig ?? new Uint8Array(0);
  if (!verifyEd25519(pubKey, challenge, sig)) throw new ErrChallengeVerification(Buffer.from(pubKey).toString('hex'), sig.length);
  return new Uint8Array(pubKey);
}

/** Our typed errors pass through; anything else (a raw socket error) is wrapped with the phase. */
function toHandshakeError(err: unknown, phase: string): unknown {
  if (err instanceof SwitchyardError) return err;
  return new ErrHandshakeStreamFailed(phase, err);
}
