/**
 * Two connected in-memory byte streams whose data takes `latencyMs` to arrive, timed on the
 * injected Clock (so a VirtualClock decides when bytes land). Order is kept; ending one side
 * delivers end-of-stream after the data sent before it. Backpressure: a writer is held back while
 * more than `highWaterMark` bytes are in flight, and delivery pauses while the reader's buffer is
 * full, so a reader that never reads stops its writer instead of growing memory. Destroying one end
 * closes the other at once (like a reset), dropping what was in flight.
 */
import { Duplex } from 'node:stream';
import type { Clock, TimerHandle } from '../clock.js';
import { closeFarEnd, pipeError } from '../conn/duplex-pair.js';

class LatencyEnd extends Duplex {
  peer!: LatencyEnd;
  /** Chunks written here, on their way to `peer`. */
  private readonly inFlight: Array<{ chunk: Buffer; due: number }> = [];
  private inFlightBytes = 0;
  private timer: TimerHandle | undefined;
  private heldWrite: ((err?: Error | null) => void) | null = null;
  /** The peer's readable buffer was full at the last delivery; its next _read resumes us. */
  private blocked = false;
  /** _final was called: deliver end-of-stream once everything in flight has landed. */
  private ending = false;

  constructor(
    private readonly clock: Clock,
    private readonly latencyMs: number,
    private readonly limit: number,
  ) {
    super({ allowHalfOpen: false, highWaterMark: limit });
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, callback: (err?: Error | null) => void): void {
    if (this.peer.destroyed || this.peer.readableEnded) {
      callback(pipeError('write to a closed pipe'));
      return;
    }
    this.inFlight.push({ chunk, due: this.clock.now() + this.latencyMs });
    this.inFlightBytes += chunk.length;
    this.schedule();
    if (this.inFlightBytes < this.limit) callback();
    else this.heldWrite = callback;
  }

  override _final(callback: (err?: Error | null) => void): void {
    this.ending = true;
    this.deliver();
    callback();
  }

  override _read(): void {
    const sender = this.peer;
    if (sender.blocked) {
      sender.blocked = false;
      sender.deliver();
    }
  }

  override _destroy(err: Error | null, callback: (err?: Error | null) => void): void {
    this.clock.clearTimeout(this.timer);
    this.timer = undefined;
    this.inFlight.length = 0;
    this.inFlightBytes = 0;
    const held = this.heldWrite;
    this.heldWrite = null;
    if (held) held(pipeError('pipe destroyed'));
    closeFarEnd(this.peer);
    callback(err);
  }

  private schedule(): void {
    if (this.timer !== undefined || this.blocked || this.inFlight.length === 0 || this.destroyed) return;
    const wait = Math.max(0, this.inFlight[0].due - this.clock.now());
    this.timer = this.clock.setTimeout(() => {
      this.timer = undefined;
      this.deliver();
    }, wait);
  }

  /** Hands every chunk that is due to the peer, in order, until its buffer is full. */
  private deliver(): void {
    const peer = this.peer;
    if (this.destroyed || peer.destroyed) return;
    const now = this.clock.now();
    while (this.inFlight.length > 0 && this.inFlight[0].due <= now) {
      const { chunk } = this.inFlight.shift()!;
      this.inFlightBytes -= chunk.length;
      if (!peer.push(chunk)) {
        this.blocked = true;
        break;
      }
    }
    if (this.heldWrite && this.inFlightBytes < this.limit) {
      const held = this.heldWrite;
      this.heldWrite = null;
      held();
    }
    if (this.ending && this.inFlight.length === 0 && !peer.readableEnded) peer.push(null);
    this.schedule();
  }
}

/** Returns the two ends of a fresh in-memory connection with one-way latency `latencyMs`. */
export function createLatencyPair(clock: Clock, latencyMs: number, highWaterMark = 64 * 1024): [Duplex, Duplex] {
  const a = new LatencyEnd(clock, latencyMs, highWaterMark);
  const b = new LatencyEnd(clock, latencyMs, highWaterMark);
  a.peer = b;
  b.peer = a;
  return [a, b];
}
