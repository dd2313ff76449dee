/**
 * MConnection: several prioritised channels multiplexed over one byte stream (a SecretConnection
 * in production, any Duplex in tests), wire-compatible with CometBFT's `p2p/conn` MConnection.
 *
 * Sending: each channel has a bounded queue. A send schedules the writer in a microtask, so a
 * message on an idle connection reaches the stream in the same event-loop turn. The writer
 * builds one buffer of many packets (up to maxWriteBatchBytes) per stream write, choosing every
 * packet from the channel with the least recentlySent/priority, and waits for 'drain' when the
 * stream pushes back. Batching therefore grows by itself under load and never delays an idle
 * connection; the flush throttle only holds back a small batch while the previous write is
 * still buffered in the stream. Over a SecretConnection on a socket, a bulk batch is laid out
 * straight in the SecretConnection's frame slots and sealed there (writeFrames), one copy fewer.
 *
 * Receiving: the stream is cut into length-checked packets (PacketReader), decoded, and PacketMsg
 * data is reassembled per channel; each complete message goes to handlers.onReceive. Anything
 * malformed or over a limit stops the connection with a typed error through handlers.onError.
 *
 * Timers (ping, pong timeout, decay, rate waits, send timeouts, flush throttle) all run on the
 * injected Clock and are cleared by stop().
 */
import type { Duplex } from 'node:stream';
import type { Clock, TimerHandle } from '../clock.js';
import { silentLogger, type Logger } from '../logger.js';
import { Channel, resolveChannelDescriptor, type ChannelDescriptor } from './channel.js';
import type { ConnectionStatus } from './connection-status.js';
import { RateLimiter, RateMonitor } from './flow-rate.js';
import {
  ErrConnectionClosed,
  ErrConnectionIO,
  ErrFlushStopTimeout,
  ErrMConnectionConfig,
  ErrReceiveHandlerFailed,
  ErrPongTimeout,
  ErrUnknownChannel,
} from './mconnection-errors.js';
import {
  PACKET_MSG,
  PACKET_PING,
  PING_DELIMITED,
  PONG_DELIMITED,
  decodePacket,
  maxPacketMsgSize,
  newDecodedPacket,
  uvarintLength,
} from './packet-codec.js';
import { PacketReader } from './packet-reader.js';
import { copyIntoFrames } from './frame-aead.js';
import { SecretConnection } from './secret-connection.js';

export interface MConnectionOptions {
  /** Send limit in bytes per second; 0 = unlimited. Default 5 120 000 (CometBFT's node config). */
  sendRate?: number;
  /** Receive limit in bytes per second; 0 = unlimited. Default 5 120 000. */
  recvRate?: number;
  /** Largest data payload per PacketMsg. Default 1024. Sets the read limit (1034 by default). */
  maxPacketMsgPayloadSize?: number;
  /**
   * Longest a small batch is held back to coalesce with more data while the previous write is
   * still buffered in the stream (ms). Never applies to an idle stream. 0 disables. Default 10.
   */
  flushThrottleMs?: number;
  /** Interval between our pings (ms). Default 60 000. */
  pingIntervalMs?: number;
  /** How long we wait for the pong (ms); must be below pingIntervalMs. Default 45 000. */
  pongTimeoutMs?: number;
  /** How long send() waits for queue room (ms). Default 10 000. */
  sendTimeoutMs?: number;
  /** Bound on flushStop(): writing out the queues and closing (ms). Default 10 000. */
  flushStopTimeoutMs?: number;
  /** Largest single write handed to the stream (bytes). Default 262 144 (256 frames of a SecretConnection). */
  maxWriteBatchBytes?: number;
}

export interface MConnectionHandlers {
  /** A complete message from the peer; `message` belongs to the callee. */
  onReceive(channelId: number, message: Uint8Array): void;
  /** The connection stopped by itself (peer, I/O or timeout): called at most once. */
  onError(err: Error): void;
}

export const DEFAULT_SEND_RATE = 5_120_000;
export const DEFAULT_RECV_RATE = 5_120_000;
export const DEFAULT_MAX_PACKET_MSG_PAYLOAD_SIZE = 1024;
export const DEFAULT_FLUSH_THROTTLE_MS = 10;
export const DEFAULT_PING_INTERVAL_MS = 60_000;
export const DEFAULT_PONG_TIMEOUT_MS = 45_000;
export const DEFAULT_SEND_TIMEOUT_MS = 10_000;
export const DEFAULT_FLUSH_STOP_TIMEOUT_MS = 10_000;
export const DEFAULT_MAX_WRITE_BATCH_BYTES = 262_144;
/**
 * The receive bucket holds 300 ms of traffic, more than a conforming sender's largest excess
 * (its own 100 ms burst plus at most 100 ms of priority overdraft). Two limiters of equal rate
 * in series would otherwise leave the receiver pinned at its limit after the first burst, and
 * every message would then wait in socket buffers behind the backlog.
 */
export const RECV_BURST_MS = 300;
/** CometBFT decays every channel's recentlySent by ×0.8 at this period. */
export const STATS_DECAY_INTERVAL_MS = 2_000;

/**
 * Large write batches that a SecretConnection has finished with (it seals a copy, and its write
 * callback means the copy is made), kept for reuse by any connection: a bulk transfer then
 * allocates no batch buffers. Only batches of at least MIN_POOLED_BATCH_BYTES are pooled, at most
 * MAX_FREE_BATCH_BUFFERS of them per process (2 MB at the default batch size).
 */
const freeBatchBuffers: Buffer[] = [];
const MAX_FREE_BATCH_BUFFERS = 8;
const MIN_POOLED_BATCH_BYTES = 64 * 1024;

function takeBatchBuffer(bytes: number, poolable: boolean): Buffer {
  if (poolable && bytes >= MIN_POOLED_BATCH_BYTES) {
    for (let i = freeBatchBuffers.length - 1; i >= 0; i--) {
      const b = freeBatchBuffers[i];
      // Reuse only a buffer of about this size, so a pooled buffer never pins much unused memory.
      if (b.length >= bytes && b.length <= 2 * bytes) {
        freeBatchBuffers[i] = freeBatchBuffers[freeBatchBuffers.length - 1];
        freeBatchBuffers.pop();
        return b;
      }
    }
  }
  return Buffer.allocUnsafe(bytes);
}

type ResolvedOptions = Required<MConnectionOptions>;

function nonNegativeInt(key: string, value: number | undefined, dflt: number): number {
  const v = value ?? dflt;
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) {
    throw new ErrMConnectionConfig(key, 'a non-negative integer', v);
  }
  return v;
}

function positiveInt(key: string, value: number | undefined, dflt: number): number {
  const v = nonNegativeInt(key, value, dflt);
  if (v === 0) throw new ErrMConnectionConfig(key, 'a positive integer', v);
  return v;
}

function resolveOptions(o: MConnectionOptions): ResolvedOptions {
  const r: ResolvedOptions = {
    sendRate: nonNegativeInt('sendRate', o.sendRate, DEFAULT_SEND_RATE),
    recvRate: nonNegativeInt('recvRate', o.recvRate, DEFAULT_RECV_RATE),
    maxPacketMsgPayloadSize: positiveInt(
      'maxPacketMsgPayloadSize',
      o.maxPacketMsgPayloadSize,
      DEFAULT_MAX_PACKET_MSG_PAYLOAD_SIZE,
    ),
    flushThrottleMs: nonNegativeInt('flushThrottleMs', o.flushThrottleMs, DEFAULT_FLUSH_THROTTLE_MS),
    pingIntervalMs: positiveInt('pingIntervalMs', o.pingIntervalMs, DEFAULT_PING_INTERVAL_MS),
    pongTimeoutMs: positiveInt('pongTimeoutMs', o.pongTimeoutMs, DEFAULT_PONG_TIMEOUT_MS),
    sendTimeoutMs: nonNegativeInt('sendTimeoutMs', o.sendTimeoutMs, DEFAULT_SEND_TIMEOUT_MS),
    flushStopTimeoutMs: positiveInt('flushStopTimeoutMs', o.flushStopTimeoutMs, DEFAULT_FLUSH_STOP_TIMEOUT_MS),
    maxWriteBatchBytes: positiveInt('maxWriteBatchBytes', o.maxWriteBatchBytes, DEFAULT_MAX_WRITE_BATCH_BYTES),
  };
  if (r.pongTimeoutMs >= r.pingIntervalMs) {
    throw new ErrMConnectionConfig('pongTimeoutMs', `less than pingIntervalMs (${r.pingIntervalMs})`, r.pongTimeoutMs);
  }
  return r;
}

export class MConnection {
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly opts: ResolvedOptions;
  private readonly channels: Channel[];
  /** Channel index + 1 by id (0 = not ours): a 256-byte table for the receive path. */
  private readonly channelSlot = new Uint8Array(256);
  private readonly reader: PacketReader;
  private readonly decoded = newDecodedPacket();
  /** Largest packet on the wire including its prefix: a batch always has room for one. */
  private readonly maxDelimitedPacketBytes: number;
  private readonly createdMs: number;

  private readonly sendMonitor: RateMonitor;
  private readonly recvMonitor: RateMonitor;
  private readonly sendLimiter: RateLimiter;
  private readonly recvLimiter: RateLimiter;

  private started = false;
  private stopped = false;
  private flushing: { promise: Promise<void>; resolve: () => void; closing: boolean } | undefined;

  private pingPending = false;
  private pongPending = false;
  private pumpScheduled = false;
  /** Waiting for the stream's 'drain' or for a write callback to bring the buffer down. */
  private writeBlocked = false;
  private lastWriteMs = -Infinity;

  private pingTimer: TimerHandle | undefined;
  private pongTimer: TimerHandle | undefined;
  private decayTimer: TimerHandle | undefined;
  private sendRateTimer: TimerHandle | undefined;
  private flushThrottleTimer: TimerHandle | undefined;
  private recvResumeTimer: TimerHandle | undefined;
  private flushStopTimer: TimerHandle | undefined;

  private readonly pumpTask = (): void => this.pump();
  private readonly onWriteDone = (): void => this.onWriteProgress();
  /** Our batch buffers may be reused after their write callback: true over a SecretConnection. */
  private readonly batchBuffersReusable: boolean;
  /** The stream as a SecretConnection, for direct frame writes (bulk batches over a socket). */
  private readonly secretConn: SecretConnection | undefined;
  private readonly onDrain = (): void => this.onWriteProgress();
  private readonly onData = (chunk: Buffer): void => this.handleData(chunk);
  private readonly onEnd = (): void => this.handleEnd();
  private readonly onClose = (): void => this.handleClose();
  private readonly onStreamError = (err: Error): void => this.fail(new ErrConnectionIO(err));
  private readonly onPacket = (buf: Uint8Array, start: number, end: number): boolean =>
    this.handlePacket(buf, start, end);

  constructor(
    deps: { clock: Clock; logger?: Logger },
    private readonly conn: Duplex,
    channels: ChannelDescriptor[],
    private readonly handlers: MConnectionHandlers,
    options: MConnectionOptions = {},
  ) {
    this.clock = deps.clock;
    this.logger = deps.logger ?? silentLogger;
    this.opts = resolveOptions(options);
    this.batchBuffersReusable = conn instanceof SecretConnection;
    this.secretConn = conn instanceof SecretConnection ? conn : undefined;
    if (!Array.isArray(channels) || channels.length === 0) {
      throw new ErrMConnectionConfig('channels', 'a non-empty array of channel descriptors', channels);
    }
    this.channels = channels.map((d) => {
      const resolved = resolveChannelDescriptor(d);
      if (this.channelSlot[resolved.id] !== 0) {
        throw new ErrMConnectionConfig('channels', 'unique channel ids', resolved.id);
      }
      this.channelSlot[resolved.id] = 1; // placeholder until the index is known below
      return new Channel(this.clock, resolved, this.opts.maxPacketMsgPayloadSize);
    });
    this.channels.forEach((ch, i) => (this.channelSlot[ch.id] = i + 1));
    const maxPacket = maxPacketMsgSize(this.opts.maxPacketMsgPayloadSize);
    this.reader = new PacketReader(maxPacket);
    this.maxDelimitedPacketBytes = uvarintLength(maxPacket) + maxPacket;
    this.createdMs = this.clock.now();
    this.sendMonitor = new RateMonitor(this.clock);
    this.recvMonitor = new RateMonitor(this.clock);
    this.sendLimiter = new RateLimiter(this.clock, this.opts.sendRate, this.maxDelimitedPacketBytes);
    this.recvLimiter = new RateLimiter(this.clock, this.opts.recvRate, this.maxDelimitedPacketBytes, RECV_BURST_MS);
  }

  /** Our channel with this id, if any (ids outside 0..255 have none). */
  private channel(id: number): Channel | undefined {
    if (!(id >= 0 && id <= 255)) return undefined;
    const slot = this.channelSlot[id | 0];
    return slot === 0 || (id | 0) !== id ? undefined : this.channels[slot - 1];
  }

  /** True between start() and the connection stopping (or flushStop() being called). */
  get running(): boolean {
    return this.started && !this.stopped && !this.flushing;
  }

  /** Starts reading, pinging and decaying statistics. Call once. */
  start(): void {
    if (this.started) return;
    this.started = true;
    if (this.stopped) return;
    const conn = this.conn;
    conn.on('data', this.onData);
    conn.on('end', this.onEnd);
    conn.on('close', this.onClose);
    conn.on('error', this.onStreamError);
    conn.on('drain', this.onDrain);
    this.pingTimer = this.clock.setInterval(() => this.sendPing(), this.opts.pingIntervalMs);
    this.decayTimer = this.clock.setInterval(() => {
      for (const ch of this.channels) ch.decayRecentlySent();
    }, STATS_DECAY_INTERVAL_MS);
    if (conn.destroyed || conn.readableEnded) {
      queueMicrotask(() => this.fail(new ErrConnectionClosed(conn.destroyed ? 'close' : 'end')));
    }
  }

  /**
   * Queues `message` on `channelId`, waiting up to sendTimeoutMs for room. Resolves false at
   * once if the connection is not running or the channel is unknown. The caller must not change
   * `message` afterwards (it is sent without a copy).
   */
  send(channelId: number, message: Uint8Array): Promise<boolean> {
    const ch = this.running ? this.channel(channelId) : undefined;
    if (!ch) return Promise.resolve(false);
    if (ch.tryEnqueue(message)) {
      this.schedulePump();
      return Promise.resolve(true);
    }
    return ch.enqueueWhenRoom(message, this.opts.sendTimeoutMs).then((ok) => {
      // The message was queued while the writer was running; make sure it is picked up.
      if (ok) this.schedulePump();
      return ok;
    });
  }

  /** Queues `message` if the channel has room right now; never waits. */
  trySend(channelId: number, message: Uint8Array): boolean {
    const ch = this.running ? this.channel(channelId) : undefined;
    if (!ch || !ch.tryEnqueue(message)) return false;
    this.schedulePump();
    return true;
  }

  /** Whether trySend would queue a message on `channelId` now. */
  canSend(channelId: number): boolean {
    const ch = this.running ? this.channel(channelId) : undefined;
    return ch !== undefined && ch.hasRoom();
  }

  /** Changes this connection's limits at runtime (bytes per second, 0 = unlimited). */
  setRates(rates: { sendRate?: number; recvRate?: number }): void {
    // Validate both before applying either, so a bad call changes nothing.
    const sendRate = rates.sendRate === undefined ? undefined : nonNegativeInt('sendRate', rates.sendRate, 0);
    const recvRate = rates.recvRate === undefined ? undefined : nonNegativeInt('recvRate', rates.recvRate, 0);
    if (sendRate !== undefined) {
      this.sendLimiter.setRate(sendRate);
      this.opts.sendRate = sendRate;
      if (this.sendRateTimer) {
        this.clock.clearTimeout(this.sendRateTimer);
        this.sendRateTimer = undefined;
        this.schedulePump();
      }
    }
    if (recvRate !== undefined) {
      this.recvLimiter.setRate(recvRate);
      this.opts.recvRate = recvRate;
      if (this.recvResumeTimer) {
        this.clock.clearTimeout(this.recvResumeTimer);
        this.recvResumeTimer = undefined;
        this.checkRecvLimit();
      }
    }
  }

  status(): ConnectionStatus {
    return {
      durationMs: this.clock.now() - this.createdMs,
      sendRate: this.opts.sendRate,
      recvRate: this.opts.recvRate,
      sendMonitor: this.sendMonitor.status(),
      recvMonitor: this.recvMonitor.status(),
      channels: this.channels.map((ch) => ({
        id: ch.id,
        priority: ch.priority,
        sendQueueCapacity: ch.sendQueueCapacity,
        sendQueueSize: ch.sendQueueSize,
        recentlySent: ch.recentlySent,
        bytesSent: ch.bytesSent,
        bytesReceived: ch.bytesReceived,
        messagesSent: ch.messagesSent,
        messagesReceived: ch.messagesReceived,
      })),
    };
  }

  /**
   * Graceful stop: refuses new sends, writes out everything already queued (respecting the
   * send rate and the stream's backpressure), ends the stream and waits for it to close. Bounded
   * by flushStopTimeoutMs, after which the stream is destroyed. Does not call onError.
   */
  flushStop(): Promise<void> {
    if (this.stopped) return Promise.resolve();
    if (this.flushing) return this.flushing.promise;
    if (!this.started) {
      this.stop();
      return Promise.resolve();
    }
    let resolve!: () => void;
    const promise = new Promise<void>((r) => (resolve = r));
    this.flushing = { promise, resolve, closing: false };
    this.clock.clearInterval(this.pingTimer);
    this.clock.clearTimeout(this.pongTimer);
    this.pingTimer = this.pongTimer = undefined;
    this.pingPending = false;
    for (const ch of this.channels) ch.rejectWaiters();
    this.flushStopTimer = this.clock.setTimeout(() => {
      this.flushStopTimer = undefined;
      const unsent = this.channels.reduce((n, ch) => n + ch.pendingBytes, 0);
      const reason = new ErrFlushStopTimeout(this.opts.flushStopTimeoutMs, unsent);
      this.logger.warn({ err: reason }, 'flushStop timed out');
      this.shutdown(reason, false);
    }, this.opts.flushStopTimeoutMs);
    this.pump();
    return promise;
  }

  /** Immediate stop: drops queued data, destroys the stream. Does not call onError. */
  stop(reason?: Error): void {
    this.shutdown(reason, false);
  }

  // ---- sending ----

  private schedulePump(): void {
    if (this.pumpScheduled || this.stopped) return;
    this.pumpScheduled = true;
    queueMicrotask(this.pumpTask);
  }

  private sendPing(): void {
    this.pingPending = true;
    if (this.pongTimer === undefined) {
      this.pongTimer = this.clock.setTimeout(() => {
        this.pongTimer = undefined;
        this.fail(new ErrPongTimeout(this.opts.pongTimeoutMs));
      }, this.opts.pongTimeoutMs);
    }
    this.pump();
  }

  private onWriteProgress(): void {
    if (!this.writeBlocked || this.stopped) return;
    if (this.conn.writableNeedDrain || this.conn.writableLength >= this.opts.maxWriteBatchBytes) return;
    this.writeBlocked = false;
    this.pump();
  }

  private hasPendingData(): boolean {
    for (const ch of this.channels) if (ch.isSendPending()) return true;
    return false;
  }

  private pendingDataBytes(): number {
    let n = 0;
    for (const ch of this.channels) n += ch.pendingBytes;
    return n;
  }

  /** The channel to send from next: least recentlySent/priority, ties to the first declared. */
  private pickChannel(): Channel | undefined {
    let best: Channel | undefined;
    let bestRatio = Infinity;
    for (const ch of this.channels) {
      if (!ch.isSendPending()) continue;
      const ratio = ch.recentlySent / ch.priority;
      if (ratio < bestRatio) {
        best = ch;
        bestRatio = ratio;
      }
    }
    return best;
  }

  /** Writes batches while there is something to send and the stream, the rate and the throttle allow. */
  private pump(): void {
    this.pumpScheduled = false;
    for (;;) {
      if (this.stopped || this.writeBlocked || this.flushing?.closing) return;
      const conn = this.conn;
      if (conn.writableNeedDrain || conn.writableLength >= this.opts.maxWriteBatchBytes) {
        this.writeBlocked = true;
        return;
      }
      const control = (this.pongPending ? PONG_DELIMITED.length : 0) + (this.pingPending ? PING_DELIMITED.length : 0);
      const dataBudget = this.hasPendingData() ? this.dataBudget(conn) : 0;
      if (control === 0 && dataBudget === 0) {
        if (this.flushing && !this.hasPendingData()) this.closeAfterFlush();
        return;
      }
      const cap = this.batchCapacity(control, dataBudget);
      const sc = this.secretConn;
      if (sc && cap >= MIN_POOLED_BATCH_BYTES && cap <= SecretConnection.FRAME_BUFFER_DATA_BYTES && sc.directWritable) {
        // Bulk path: packets go straight into the SecretConnection's frame slots, sealed there.
        const frames = sc.takeFrameBuffer();
        const bytes = this.buildBatchIntoFrames(frames.buf, cap);
        if (bytes === 0) {
          sc.writeFrames(frames, 0, ignoreError);
          return;
        }
        this.lastWriteMs = this.clock.now();
        this.sendMonitor.update(bytes);
        this.sendLimiter.consume(bytes);
        if (!sc.writeFrames(frames, bytes, this.onWriteDone)) {
          this.writeBlocked = true;
          return;
        }
        continue;
      }
      const batch = this.buildBatch(control, cap);
      if (batch.length === 0) return;
      this.lastWriteMs = this.clock.now();
      this.sendMonitor.update(batch.length);
      this.sendLimiter.consume(batch.length);
      const pooled = this.batchBuffersReusable && batch.buffer.byteLength >= MIN_POOLED_BATCH_BYTES;
      const done = pooled ? this.releaseAfterWrite(batch) : this.onWriteDone;
      if (!conn.write(batch, done)) {
        this.writeBlocked = true;
        return;
      }
    }
  }

  /** Data bytes the next batch may carry now (0 = wait), arming the right timer when waiting. */
  private dataBudget(conn: Duplex): number {
    let budget = this.opts.maxWriteBatchBytes;
    if (!this.sendLimiter.unlimited) {
      const available = this.sendLimiter.available();
      if (available > 0 && this.sendRateTimer) {
        // The debt is repaid (the timer is merely late): no reason to keep waiting for it.
        this.clock.clearTimeout(this.sendRateTimer);
        this.sendRateTimer = undefined;
      }
      if (available <= 0) {
        const urgent = this.preemptingBudget(available);
        if (urgent > 0) return urgent;
        if (!this.sendRateTimer) {
          this.sendRateTimer = this.clock.setTimeout(() => {
            this.sendRateTimer = undefined;
            this.pump();
          }, this.sendLimiter.delayMs());
        }
        return 0;
      }
      budget = Math.min(budget, Math.max(available, this.maxDelimitedPacketBytes));
    }
    if (this.flushThrottleTimer) return 0;
    // Coalesce small batches only while the previous write is still in the stream's buffer.
    const throttle = this.opts.flushThrottleMs;
    if (throttle > 0 && !this.flushing && conn.writableLength > 0 && this.pendingDataBytes() < budget) {
      const wait = this.lastWriteMs + throttle - this.clock.now();
      if (wait > 0) {
        this.flushThrottleTimer = this.clock.setTimeout(() => {
          this.flushThrottleTimer = undefined;
          this.pump();
        }, wait);
        return 0;
      }
    }
    return budget;
  }

  /**
   * Priority preemption of a rate wait. While the writer waits for send-rate budget because of
   * a backlog, a channel the scheduler strictly prefers over every other pending channel (a
   * high-priority message arriving behind a low-priority flood) may send its pending packets at
   * once, overdrawing the budget by at most one burst. The overdraft is repaid by the backlog
   * waiting longer, so the long-run rate is unchanged and the preferred channel's latency does
   * not include the rate wait. Returns the bytes it may send, or 0.
   */
  private preemptingBudget(available: number): number {
    const ch = this.pickChannel();
    if (!ch) return 0;
    const ratio = ch.recentlySent / ch.priority;
    let backlog = false;
    for (const other of this.channels) {
      if (other === ch || !other.isSendPending()) continue;
      if (other.recentlySent / other.priority <= ratio) return 0;
      backlog = true;
    }
    if (!backlog) return 0;
    const room = available + this.sendLimiter.burstBytes();
    if (room < ch.nextPacketSize()) return 0;
    return Math.min(room, ch.pendingWireBytesBound());
  }

  /** A write callback that returns the batch's buffer to the pool once the stream is done with it. */
  private releaseAfterWrite(batch: Uint8Array): (err?: Error | null) => void {
    return (err) => {
      if (!err && freeBatchBuffers.length < MAX_FREE_BATCH_BUFFERS) {
        freeBatchBuffers.push(Buffer.from(batch.buffer)); // the whole allocation: pooled sizes are never slab slices
      }
      this.onWriteProgress();
    };
  }

  /**
   * Bytes the next batch may hold: the control packets plus the worst case of what is pending
   * within the data budget (small messages get a small buffer). The choice of each packet depends
   * on recentlySent, which writing it updates, so the exact size is known only once written.
   */
  private batchCapacity(control: number, dataBudget: number): number {
    let cap = control;
    if (dataBudget > 0) {
      let pending = 0;
      for (const ch of this.channels) pending += ch.pendingWireBytesBound();
      cap += Math.min(pending, Math.max(dataBudget, this.maxDelimitedPacketBytes));
    }
    return cap;
  }

  /**
   * buildBatch laid out in a SecretConnection frame buffer (see copyIntoFrames) instead of a
   * flat one: the same bytes in the same order. Returns the batch's length.
   */
  private buildBatchIntoFrames(frames: Uint8Array, cap: number): number {
    let pos = 0;
    if (this.pongPending) {
      pos = copyIntoFrames(frames, pos, PONG_DELIMITED, 0, PONG_DELIMITED.length);
      this.pongPending = false;
    }
    if (this.pingPending) {
      pos = copyIntoFrames(frames, pos, PING_DELIMITED, 0, PING_DELIMITED.length);
      this.pingPending = false;
    }
    while (pos < cap) {
      const ch = this.pickChannel();
      if (!ch || pos + ch.nextPacketSize() > cap) break;
      pos = ch.writeNextPacketIntoFrames(frames, pos);
    }
    return pos;
  }

  /** One buffer: owed pong, pending ping, then data packets chosen one by one by priority. */
  private buildBatch(control: number, cap: number): Uint8Array {
    const buf = takeBatchBuffer(cap, this.batchBuffersReusable);
    let off = 0;
    if (this.pongPending) {
      buf.set(PONG_DELIMITED, off);
      off += PONG_DELIMITED.length;
      this.pongPending = false;
    }
    if (this.pingPending) {
      buf.set(PING_DELIMITED, off);
      off += PING_DELIMITED.length;
      this.pingPending = false;
    }
    while (off < cap) {
      const ch = this.pickChannel();
      if (!ch || off + ch.nextPacketSize() > cap) break;
      off = ch.writeNextPacket(buf, off);
    }
    return off === buf.length ? buf : buf.subarray(0, off);
  }

  private closeAfterFlush(): void {
    const flushing = this.flushing!;
    if (flushing.closing) return;
    flushing.closing = true;
    // End our side; the peer sees end-of-stream and closes, and our 'close' finishes the stop.
    // Data already written stays deliverable, unlike with destroy().
    this.conn.end();
  }

  // ---- receiving ----

  private handleData(chunk: Buffer): void {
    if (this.stopped) return;
    this.recvMonitor.update(chunk.length);
    if (this.flushing?.closing) return;
    this.recvLimiter.consume(chunk.length);
    try {
      this.reader.feed(chunk, this.onPacket);
    } catch (err) {
      this.fail(err instanceof Error ? err : new Error(String(err)));
      return;
    }
    this.checkRecvLimit();
  }

  /** Pauses reading while the receive budget is overdrawn, resuming on the clock. */
  private checkRecvLimit(): void {
    if (this.stopped || this.recvResumeTimer) return;
    const wait = this.recvLimiter.delayMs();
    if (wait > 0) {
      this.conn.pause();
      this.recvResumeTimer = this.clock.setTimeout(() => {
        this.recvResumeTimer = undefined;
        this.checkRecvLimit();
      }, wait);
    } else if (this.conn.isPaused()) {
      this.conn.resume();
    }
  }

  private handlePacket(buf: Uint8Array, start: number, end: number): boolean {
    const p = this.decoded;
    decodePacket(buf, start, end, p);
    if (p.kind === PACKET_MSG) {
      const id = p.channelId;
      const ch = this.channel(id);
      if (!ch) throw new ErrUnknownChannel(id);
      const message = ch.receive(buf, p.dataStart, p.dataEnd, p.eof);
      if (message) {
        if (this.flushing) return !this.stopped;
        try {
          this.handlers.onReceive(id, message);
        } catch (err) {
          throw new ErrReceiveHandlerFailed(id, err);
        }
      }
    } else if (p.kind === PACKET_PING) {
      // One owed pong covers any number of pings received before it goes out.
      this.pongPending = true;
      this.schedulePump();
    } else {
      // A pong, expected or not: unsolicited pongs are harmless.
      if (this.pongTimer !== undefined) {
        this.clock.clearTimeout(this.pongTimer);
        this.pongTimer = undefined;
      }
    }
    return !this.stopped;
  }

  private handleEnd(): void {
    if (this.flushing?.closing) {
      this.shutdown(undefined, false);
      return;
    }
    this.fail(new ErrConnectionClosed('end'));
  }

  private handleClose(): void {
    if (this.flushing?.closing) {
      this.shutdown(undefined, false);
      return;
    }
    this.fail(new ErrConnectionClosed('close'));
  }

  // ---- stopping ----

  /** A stop the connection decided on: reported through onError (once). */
  private fail(err: Error): void {
    if (this.stopped) return;
    if (this.flushing) {
      // A graceful stop was under way: finish it quietly rather than report an error.
      this.logger.debug({ err }, 'connection ended during flushStop');
      this.shutdown(err, false);
      return;
    }
    this.logger.debug({ err }, 'MConnection stopping on error');
    this.shutdown(err, true);
  }

  private shutdown(reason: Error | undefined, notify: boolean): void {
    if (this.stopped) return;
    this.stopped = true;
    const clock = this.clock;
    clock.clearInterval(this.pingTimer);
    clock.clearInterval(this.decayTimer);
    clock.clearTimeout(this.pongTimer);
    clock.clearTimeout(this.sendRateTimer);
    clock.clearTimeout(this.flushThrottleTimer);
    clock.clearTimeout(this.recvResumeTimer);
    clock.clearTimeout(this.flushStopTimer);
    this.pingTimer = this.decayTimer = this.pongTimer = undefined;
    this.sendRateTimer = this.flushThrottleTimer = this.recvResumeTimer = this.flushStopTimer = undefined;
    for (const ch of this.channels) ch.clearSendQueue();
    const conn = this.conn;
    conn.off('data', this.onData);
    conn.off('end', this.onEnd);
    conn.off('close', this.onClose);
    conn.off('drain', this.onDrain);
    conn.off('error', this.onStreamError);
    // Late stream errors after we let go must not become unhandled 'error' events.
    conn.on('error', ignoreError);
    conn.destroy();
    if (reason && !notify) this.logger.debug({ err: reason }, 'MConnection stopped');
    this.flushing?.resolve();
    if (notify && reason) {
      try {
        this.handlers.onError(reason);
      } catch (err) {
        this.logger.error({ err }, 'MConnection onError handler threw');
      }
    }
  }
}

function ignoreError(): void {}
