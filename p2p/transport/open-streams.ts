/**
 * The raw streams a transport made or accepted that have not closed yet: what `close()` must end
 * and what `openConnections()` counts. Every transport keeps this the same way, so it lives here.
 */
import type { Duplex } from 'node:stream';

export class OpenStreams<S extends Duplex = Duplex> {
  private readonly streams = new Set<S>();

  /** Tracks `stream` until its 'close' event. */
  add(stream: S): void {
    this.streams.add(stream);
    stream.once('close', () => this.streams.delete(stream));
    // A stream error is reported to whoever reads the stream; this listener only keeps an
    // unobserved error from becoming an uncaught exception.
    stream.on('error', () => undefined);
  }

  /** Streams not yet destroyed (a destroyed one only waits for its 'close'; it holds nothing). */
  count(): number {
    let n = 0;
    for (const s of this.streams) if (!s.destroyed) n++;
    return n;
  }

  /** A copy of the tracked streams, safe to iterate while destroying them. */
  list(): S[] {
    return [...this.streams];
  }
}
