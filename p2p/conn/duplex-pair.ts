/**
 * Two connected in-memory byte streams, like the two ends of a TCP connection. Writes on one end
 * are read on the other, with backpressure: a writer waits while its peer's read buffer is full.
 * Ending one end (`end()`) ends the other's readable side; destroying one end closes both, and
 * the other end sees an ECONNRESET-like error if it still had writes to make.
 */
import { Duplex } from 'node:stream';

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
      callback(Object.assign(new Error('write to a closed pipe'), { code: 'EPIPE' }));
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
    if (held) held(Object.assign(new Error('pipe destroyed'), { code: 'EPIPE' }));
    const peer = this.peer;
    if (!peer.destroyed) {
      // Like a TCP FIN/RST: the other side sees end-of-stream, then closes.
      if (!peer.readableEnded) peer.push(null);
      process.nextTick(() => peer.destroy());
    }
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
