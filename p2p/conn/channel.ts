/**
 * One MConnection channel: its descriptor, its bounded send queue (plus the message being cut
 * into packets), the callers waiting for queue room, and its receive-side reassembly buffer.
 * The connection owns the scheduling; a channel only knows its own state.
 */
import type { Clock, TimerHandle } from '../clock.js';
import { ErrMConnectionConfig, ErrRecvMessageTooLarge } from './mconnection-errors.js';
import { copyIntoFrames } from './frame-aead.js';
import {
  byteView,
  delimitedPacketMsgSize,
  MAX_PACKET_MSG_HEADER_BYTES,
  payloadSizeForChannel,
  writeDelimitedPacketMsg,
  writePacketMsgHeader,
} from './packet-codec.js';

/** Where writeNextPacketIntoFrames builds a packet header before copying it into frames. */
const headerScratch = new Uint8Array(MAX_PACKET_MSG_HEADER_BYTES);

export interface ChannelDescriptor {
  /** Channel id, 0..255 (a byte on the wire of CometBFT's descriptor). */
  id: number;
  /** Positive weight: the scheduler divides recently sent bytes by it. */
  priority: number;
  /** Messages that may wait in the send queue (besides the one being sent). Default 1. */
  sendQueueCapacity?: number;
  /** Starting size of the reassembly buffer in bytes. Default 4096. */
  recvBufferCapacity?: number;
  /** Largest message accepted from the peer in bytes. Default 22020096 (21 MiB). */
  recvMessageCapacity?: number;
}

export const DEFAULT_SEND_QUEUE_CAPACITY = 1;
export const DEFAULT_RECV_BUFFER_CAPACITY_BYTES = 4096;
export const DEFAULT_RECV_MESSAGE_CAPACITY_BYTES = 22_020_096;
/** Callers that may wait in send() on one channel; more fail at once instead of piling up. */
export const MAX_SEND_WAITERS_PER_CHANNEL = 1024;

export type ResolvedChannelDescriptor = Required<ChannelDescriptor>;

function positiveInt(key: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value <= 0) {
    throw new ErrMConnectionConfig(key, 'a positive integer', value);
  }
  return value;
}

/** Fills in CometBFT's defaults and checks every field; throws ErrMConnectionConfig. */
export function resolveChannelDescriptor(desc: ChannelDescriptor): ResolvedChannelDescriptor {
  const id = desc.id;
  if (typeof id !== 'number' || !Number.isInteger(id) || id < 0 || id > 255) {
    throw new ErrMConnectionConfig('channel.id', 'an integer in 0..255', id);
  }
  const at = `channel[0x${id.toString(16).padStart(2, '0')}]`;
  return {
    id,
    priority: positiveInt(`${at}.priority`, desc.priority),
    sendQueueCapacity: positiveInt(`${at}.sendQueueCapacity`, desc.sendQueueCapacity ?? DEFAULT_SEND_QUEUE_CAPACITY),
    recvBufferCapacity: positiveInt(
      `${at}.recvBufferCapacity`,
      desc.recvBufferCapacity ?? DEFAULT_RECV_BUFFER_CAPACITY_BYTES,
    ),
    recvMessageCapacity: positiveInt(
      `${at}.recvMessageCapacity`,
      desc.recvMessageCapacity ?? DEFAULT_RECV_MESSAGE_CAPACITY_BYTES,
    ),
  };
}

interface SendWaiter {
  message: Uint8Array;
  resolve: (ok: boolean) => void;
  timer: TimerHandle | undefined;
}

export class Channel {
  readonly id: number;
  readonly priority: number;
  readonly sendQueueCapacity: number;
  readonly recvBufferCapacity: number;
  readonly recvMessageCapacity: number;
  /** Payload bytes per packet on this channel (see payloadSizeForChannel). */
  readonly payloadBytes: number;
  /** Most framing bytes one packet adds on this channel (a full packet has the most). */
  readonly packetOverheadBytes: number;

  /** Bytes (packets including their length prefix) sent lately; decays by ×0.8 every 2 s. */
  recentlySent = 0;
  bytesSent = 0;
  messagesSent = 0;
  bytesReceived = 0;
  messagesReceived = 0;

  // Send queue as an array with a moving head (compacted now and then).
  private queue: Uint8Array[] = [];
  private head = 0;
  private sending: Uint8Array | undefined;
  private sendingOffset = 0;
  /** Message bytes queued or in flight and not yet cut into packets. */
  private unsentBytes = 0;
  private waiters: SendWaiter[] = [];

  private recvBuf: Uint8Array | undefined;
  private recvLen = 0;
  /** Size of the last multi-packet message, to size the next reassembly buffer in one go. */
  private lastMessageBytes = 0;

  constructor(
    private readonly clock: Clock,
    desc: ResolvedChannelDescriptor,
    maxPayloadBytes: number,
  ) {
    this.id = desc.id;
    this.priority = desc.priority;
    this.sendQueueCapacity = desc.sendQueueCapacity;
    this.recvBufferCapacity = desc.recvBufferCapacity;
    this.recvMessageCapacity = desc.recvMessageCapacity;
    this.payloadBytes = payloadSizeForChannel(desc.id, maxPayloadBytes);
    this.packetOverheadBytes = delimitedPacketMsgSize(desc.id, true, this.payloadBytes) - this.payloadBytes;
  }

  // ---- send side ----

  /** Messages queued plus the one being sent (CometBFT's SendQueueSize). */
  get sendQueueSize(): number {
    return this.queue.length - this.head + (this.sending ? 1 : 0);
  }

  get pendingBytes(): number {
    return this.unsentBytes;
  }

  /**
   * An upper bound on the wire bytes of everything pending: each packet adds at most
   * packetOverheadBytes of framing, and there are at most ceil(bytes / payload) + messages packets.
   */
  pendingWireBytesBound(): number {
    const messages = this.sendQueueSize;
    if (messages === 0) return 0;
    return this.unsentBytes + this.packetOverheadBytes * (Math.ceil(this.unsentBytes / this.payloadBytes) + messages);
  }

  hasRoom(): boolean {
    return this.queue.length - this.head < this.sendQueueCapacity;
  }

  isSendPending(): boolean {
    return this.sending !== undefined || this.queue.length > this.head;
  }

  /** Queues a message if there is room and nobody is waiting ahead of it. */
  tryEnqueue(message: Uint8Array): boolean {
    if (!this.hasRoom() || this.waiters.length > 0) return false;
    this.queue.push(message);
    this.unsentBytes += message.length;
    return true;
  }

  /**
   * Waits up to `timeoutMs` for room. Resolves true once queued, false on timeout, when too many
   * callers already wait, or when the channel is shut down.
   */
  enqueueWhenRoom(message: Uint8Array, timeoutMs: number): Promise<boolean> {
    if (this.waiters.length >= MAX_SEND_WAITERS_PER_CHANNEL || timeoutMs <= 0) return Promise.resolve(false);
    return new Promise<boolean>((resolve) => {
      const waiter: SendWaiter = { message, resolve, timer: undefined };
      waiter.timer = this.clock.setTimeout(() => {
        const i = this.waiters.indexOf(waiter);
        if (i >= 0) this.waiters.splice(i, 1);
        resolve(false);
      }, timeoutMs);
      this.waiters.push(waiter);
    });
  }

  /** Size of the next packet on the wire (prefix included). Requires isSendPending(). */
  nextPacketSize(): number {
    const len = this.nextChunkLength();
    return delimitedPacketMsgSize(this.id, this.isLastChunk(len), len);
  }

  /**
   * Writes the next packet into `buf` at `off` (room for nextPacketSize() bytes required);
   * returns the offset after it. Updates recentlySent and the counters.
   */
  writeNextPacket(buf: Uint8Array, off: number): number {
    const len = this.nextChunkLength();
    const eof = this.isLastChunk(len);
    const msg = this.sending!;
    const start = this.sendingOffset;
    const end = writeDelimitedPacketMsg(buf, off, this.id, eof, msg, start, start + len);
    this.packetWritten(end - off, len, eof);
    return end;
  }

  /**
   * writeNextPacket for a SecretConnection frame buffer: writes the next packet at stream
   * position `pos` of `frames` (see copyIntoFrames); returns the position after it.
   */
  writeNextPacketIntoFrames(frames: Uint8Array, pos: number): number {
    const len = this.nextChunkLength();
    const eof = this.isLastChunk(len);
    const msg = this.sending!;
    const start = this.sendingOffset;
    const headerEnd = writePacketMsgHeader(headerScratch, 0, this.id, eof, len);
    let end = copyIntoFrames(frames, pos, headerScratch, 0, headerEnd);
    if (len > 0) end = copyIntoFrames(frames, end, msg, start, start + len);
    this.packetWritten(end - pos, len, eof);
    return end;
  }

  /** Payload length of the next packet of the message being sent (loading the next message if none is). */
  private nextChunkLength(): number {
    if (!this.sending) this.loadNext();
    return Math.min(this.sending!.length - this.sendingOffset, this.payloadBytes);
  }

  /** Whether a next packet of `len` payload bytes ends the message being sent (its eof). */
  private isLastChunk(len: number): boolean {
    return len === this.sending!.length - this.sendingOffset;
  }

  /** Bookkeeping after a packet of `packetBytes` on the wire carried `len` bytes of `sending`. */
  private packetWritten(packetBytes: number, len: number, eof: boolean): void {
    this.recentlySent += packetBytes;
    this.unsentBytes -= len;
    if (eof) {
      this.messagesSent++;
      this.bytesSent += this.sending!.length;
      this.sending = undefined;
      this.sendingOffset = 0;
    } else {
      this.sendingOffset += len;
    }
  }

  /** Moves the queue head into `sending`, which frees a slot for the first waiter. */
  private loadNext(): void {
    this.sending = this.queue[this.head];
    this.queue[this.head++] = undefined as unknown as Uint8Array;
    this.sendingOffset = 0;
    if (this.head === this.queue.length) {
      this.queue.length = 0;
      this.head = 0;
    } else if (this.head >= 64 && this.head * 2 >= this.queue.length) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
    const waiter = this.waiters.shift();
    if (waiter) {
      this.clock.clearTimeout(waiter.timer);
      this.queue.push(waiter.message);
      this.unsentBytes += waiter.message.length;
      waiter.resolve(true);
    }
  }

  /** Fails every waiting caller (they were never queued). */
  rejectWaiters(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) {
      this.clock.clearTimeout(w.timer);
      w.resolve(false);
    }
  }

  /** Drops everything queued or half-sent (the connection is gone). */
  clearSendQueue(): void {
    this.rejectWaiters();
    this.queue = [];
    this.head = 0;
    this.sending = undefined;
    this.sendingOffset = 0;
    this.unsentBytes = 0;
  }

  decayRecentlySent(): void {
    this.recentlySent = Math.floor(this.recentlySent * 0.8);
  }

  // ---- receive side ----

  /** Bytes of the message being reassembled. */
  get reassemblyBytes(): number {
    return this.recvLen;
  }

  /**
   * Adds one packet's data. Returns the completed message when `eof` is set (a buffer the
   * caller owns), otherwise undefined. Throws ErrRecvMessageTooLarge before buffering anything
   * past recvMessageCapacity, so memory per channel stays bounded by it.
   */
  receive(buf: Uint8Array, start: number, end: number, eof: boolean): Uint8Array | undefined {
    const len = end - start;
    const total = this.recvLen + len;
    if (total > this.recvMessageCapacity) throw new ErrRecvMessageTooLarge(this.id, total, this.recvMessageCapacity);
    this.bytesReceived += len;
    if (eof && this.recvLen === 0) {
      this.messagesReceived++;
      const message = Buffer.allocUnsafe(len);
      message.set(byteView(buf, start, end));
      return message;
    }
    if (len > 0) {
      if (!this.recvBuf || this.recvBuf.length < total) this.grow(total);
      this.recvBuf!.set(byteView(buf, start, end), this.recvLen);
      this.recvLen = total;
    }
    if (!eof) return undefined;
    const message = this.recvBuf ? this.recvBuf.subarray(0, total) : new Uint8Array(0);
    this.recvBuf = undefined;
    this.recvLen = 0;
    this.lastMessageBytes = total;
    this.messagesReceived++;
    return message;
  }

  private grow(needed: number): void {
    const current = this.recvBuf?.length ?? 0;
    const wanted = Math.max(needed, this.recvBufferCapacity, current * 2, this.lastMessageBytes);
    const next = Buffer.allocUnsafe(Math.min(wanted, this.recvMessageCapacity));
    if (this.recvBuf && this.recvLen > 0) next.set(byteView(this.recvBuf, 0, this.recvLen));
    this.recvBuf = next;
  }
}
