/**
 * Cuts an incoming byte stream into uvarint-length-delimited packets, whatever the chunk
 * boundaries. The length prefix is checked against the limit before any of the body is kept, so
 * a peer cannot make us buffer more than one maximum-size packet: a packet split across chunks
 * is completed in one fixed buffer of limit + 10 bytes; whole packets inside a chunk are handed
 * out in place, without copying.
 */
import { ErrMalformedPacket, ErrPacketTooLarge } from './mconnection-errors.js';
import { byteView } from './packet-codec.js';

/** Receives a packet body buf[start..end); returns false to stop reading the current chunk. */
export type PacketSink = (buf: Uint8Array, start: number, end: number) => boolean;

const MAX_PREFIX_BYTES = 10;

export class PacketReader {
  /** Bytes of a packet that straddles chunks (prefix and body); allocated on first need. */
  private partial: Uint8Array | undefined;
  private partialLen = 0;
  // Results of the last parsePrefix.
  private prefixLen = 0;
  private bodyLen = 0;

  /** @param maxPacketBytes the largest accepted Packet, prefix not counted (1034 by default). */
  constructor(readonly maxPacketBytes: number) {}

  /** Bytes currently held for an incomplete packet (bounded by maxPacketBytes + 10). */
  bufferedBytes(): number {
    return this.partialLen;
  }

  /**
   * Feeds one chunk; calls `sink` for every complete packet. Throws ErrPacketTooLarge or
   * ErrMalformedPacket (bad length prefix); the reader must not be used after a throw.
   */
  feed(chunk: Uint8Array, sink: PacketSink): void {
    const n = chunk.length;
    let pos = 0;
    if (this.partialLen > 0) {
      const partial = this.partial!;
      while (!this.parsePrefix(partial, 0, this.partialLen)) {
        if (pos >= n) return;
        partial[this.partialLen++] = chunk[pos++];
      }
      const total = this.prefixLen + this.bodyLen;
      const take = Math.min(total - this.partialLen, n - pos);
      if (take > 0) partial.set(byteView(chunk, pos, pos + take), this.partialLen);
      this.partialLen += take;
      pos += take;
      if (this.partialLen < total) return;
      this.partialLen = 0;
      if (!sink(partial, this.prefixLen, total)) return;
    }
    while (pos < n) {
      if (!this.parsePrefix(chunk, pos, n)) break;
      const start = pos + this.prefixLen;
      const end = start + this.bodyLen;
      if (end > n) break;
      pos = end;
      if (!sink(chunk, start, end)) return;
    }
    if (pos < n) {
      // The rest is a prefix (at most 10 bytes) or a prefix plus part of a body within the limit.
      this.partial ??= new Uint8Array(this.maxPacketBytes + MAX_PREFIX_BYTES);
      this.partial.set(byteView(chunk, pos, n), 0);
      this.partialLen = n - pos;
    }
  }

  /**
   * Parses the uvarint length at buf[pos..end). Returns false if it is incomplete; throws if it
   * is (or already must be) over the limit or longer than a 64-bit varint.
   */
  private parsePrefix(buf: Uint8Array, pos: number, end: number): boolean {
    let value = 0;
    let mul = 1;
    for (let i = 0; i < MAX_PREFIX_BYTES; i++) {
      if (pos + i >= end) return false;
      const b = buf[pos + i];
      value += (b & 0x7f) * mul;
      // Later bytes can only add, so a value over the limit is final.
      if (value > this.maxPacketBytes) throw new ErrPacketTooLarge(value, this.maxPacketBytes);
      if (b < 0x80) {
        this.prefixLen = i + 1;
        this.bodyLen = value;
        return true;
      }
      mul *= 128;
    }
    throw new ErrMalformedPacket('length prefix longer than 10 bytes');
  }
}
