/**
 * Two connected in-memory byte streams, like the two ends of a TCP connection. Writes on one end
 * are read on the other, with backpressure: a writer waits while its peer's read buffer is full.
 * Ending one end (`end()`) ends the other's readable side; destroying one end closes both, and
 * the other end sees an EPIPE error if it still had writes to make.
 */
import { Duplex } from 'node:stream';

/** A write on a closed in-memory pipe fails like one on a closed socket (code EPIPE). */
export function pipeError(message: string): Error {
  return Object.assign(new Error(message), { code: 'EPIPE' });
}

/**
 * What the far end of an in-memory pipe sees when this end is destroyed, as after a TCP FIN/RST:
 * end-of-stream first (so a reader finishes what it had), then it closes on the next tick.
 */
export function closeFarEnd(peer: Duplex): void {
  if (peer.destroyed) return;
  if (!peer.readableEnded) peer.push(null);
  process.nextTick(() => peer.destroy());
}

class PipeEnd extends Duplex {
  peer!: PipeEnd;
  /** Callback of a write held back until the peer reads (backpressure). */
  private heldWrite: ((err?: Error | null) => void) | null = null;

  constructor(highWaterMark: number) {
    super({ allowHalfOpen: false, highWaterMark });
  }

  override _read(): void {
    const held = this.peer.heldWrite;
    if (held) {
      this.peer.heldWrite = null;
      held();
    }
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (err?: Error | null) => void): void {
    if (this.peer.destroyed || this.peer.readableEnded) {
      callback(pipeError('write to a closed pipe'));
      return;
    }
    if (this.peer.push(chunk)) callback();
    else this.heldWrite = callback;
  }

  override _final(callback: (err?: Error | null) => void): void {
    if (!this.peer.destroyed) this.peer.push(null);
    callback();
  }

  override _destroy(err: Error | null, callback: (err?: Error | null) => void): void {
    const held = this.heldWrite;
    this.heldWrite = null;
    if (held) held(pipeError('pipe destroyed'));
    closeFarEnd(this.peer);
    callback(err);
  }
}

/** Returns the two ends of a fresh in-memory connection. */
export function createDuplexPair(highWaterMark = 64 * 1024): [Duplex, Duplex] {
  const a = new PipeEnd(highWaterMark);
  const b = new PipeEnd(highWaterMark);
  a.peer = b;
  b.peer = a;
  return [a, b];
}
