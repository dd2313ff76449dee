/**
 * The MConnection Packet, hand-encoded and hand-decoded for the hot path.
 *
 * Wire form (CometBFT `tendermint.p2p.Packet`, checked against the generated code in tests):
 *   Packet    = oneof { PacketPing packet_ping = 1; PacketPong packet_pong = 2; PacketMsg packet_msg = 3 }
 *   PacketMsg = { int32 channel_id = 1; bool eof = 2; bytes data = 3 }
 * Each Packet travels behind a uvarint length prefix. Like gogoproto, the encoder leaves out
 * proto3 defaults (channel 0, eof false, empty data), so our bytes equal a Go node's bytes.
 *
 * The decoder follows gogoproto's rules, so that we accept and reject what a Go node does:
 * unknown fields are skipped, the last oneof field wins, a known field with the wrong wire type
 * or any truncation is an error, and a Packet with no oneof set is an unknown packet type.
 */
import { ErrMalformedPacket, ErrUnknownPacketType } from './mconnection-errors.js';

/**
 * Delimited Packet{packet_ping}: length 2, then field 1 holding an empty message (`0a 00`).
 * (The fact sheet's "01 0a 00" is a slip: the Packet is two bytes long.)
 */
export const PING_DELIMITED: Uint8Array = Uint8Array.of(0x02, 0x0a, 0x00);
/** Delimited Packet{packet_pong}: `02 12 00`. */
export const PONG_DELIMITED: Uint8Array = Uint8Array.of(0x02, 0x12, 0x00);

export function uvarintLength(n: number): number {
  let len = 1;
  while (n >= 0x80) {
    n = Math.floor(n / 128);
    len++;
  }
  return len;
}

/** Writes `n` (a non-negative safe integer) as a uvarint at `off`; returns the offset after it. */
export function writeUvarint(buf: Uint8Array, off: number, n: number): number {
  while (n >= 0x80) {
    buf[off++] = (n & 0x7f) | 0x80;
    n = Math.floor(n / 128);
  }
  buf[off++] = n;
  return off;
}

function packetMsgBodySize(channelId: number, eof: boolean, dataLen: number): number {
  return (
    (channelId !== 0 ? 1 + uvarintLength(channelId) : 0) +
    (eof ? 2 : 0) +
    (dataLen > 0 ? 1 + uvarintLength(dataLen) + dataLen : 0)
  );
}

/** Size of Packet{packet_msg{...}} without its length prefix. */
export function packetMsgSize(channelId: number, eof: boolean, dataLen: number): number {
  const body = packetMsgBodySize(channelId, eof, dataLen);
  return 1 + uvarintLength(body) + body;
}

/** Size of the length-delimited Packet{packet_msg{...}} as written on the stream. */
export function delimitedPacketMsgSize(channelId: number, eof: boolean, dataLen: number): number {
  const size = packetMsgSize(channelId, eof, dataLen);
  return uvarintLength(size) + size;
}

/**
 * The read limit for one Packet (prefix not counted), computed the way CometBFT computes it: a
 * fully loaded PacketMsg on channel 0x01 with eof set. 1034 for the default 1024-byte payload.
 */
export function maxPacketMsgSize(maxPayloadBytes: number): number {
  return packetMsgSize(0x01, true, maxPayloadBytes);
}

/**
 * The largest payload we put in one packet on `channelId`. Channels from 0x80 up need a 2-byte
 * channel varint, so a full payload would make the packet one byte longer than a Go peer's read
 * limit; for them we cut one byte less and stay within it.
 */
export function payloadSizeForChannel(channelId: number, maxPayloadBytes: number): number {
  const limit = maxPacketMsgSize(maxPayloadBytes);
  let payload = maxPayloadBytes;
  while (payload > 1 && packetMsgSize(channelId, true, payload) > limit) payload--;
  return payload;
}

/**
 * Writes the delimited Packet{packet_msg{channelId, eof, data[dataStart..dataEnd)}} into `buf` at
 * `off`; returns the offset after it. `buf` must have room (see delimitedPacketMsgSize).
 */
export function writeDelimitedPacketMsg(
  buf: Uint8Array,
  off: number,
  channelId: number,
  eof: boolean,
  data: Uint8Array,
  dataStart: number,
  dataEnd: number,
): number {
  const dataLen = dataEnd - dataStart;
  off = writePacketMsgHeader(buf, off, channelId, eof, dataLen);
  if (dataLen > 0) {
    buf.set(dataLen === data.length ? data : byteView(data, dataStart, dataEnd), off);
    off += dataLen;
  }
  return off;
}

/** Longest header writePacketMsgHeader writes (prefix up to the data bytes), for any int32 sizes. */
export const MAX_PACKET_MSG_HEADER_BYTES = 32;

/**
 * Writes everything of the delimited Packet{packet_msg{channelId, eof, data}} that precedes the
 * `dataLen` data bytes (length prefix, tags, lengths); returns the offset where the data goes.
 */
export function writePacketMsgHeader(buf: Uint8Array, off: number, channelId: number, eof: boolean, dataLen: number): number {
  const body = packetMsgBodySize(channelId, eof, dataLen);
  off = writeUvarint(buf, off, 1 + uvarintLength(body) + body);
  buf[off++] = 0x1a;
  off = writeUvarint(buf, off, body);
  if (channelId !== 0) {
    buf[off++] = 0x08;
    off = writeUvarint(buf, off, channelId);
  }
  if (eof) {
    buf[off++] = 0x10;
    buf[off++] = 0x01;
  }
  if (dataLen > 0) {
    buf[off++] = 0x1a;
    off = writeUvarint(buf, off, dataLen);
  }
  return off;
}

/**
 * A plain Uint8Array view of buf[start..end). Cheaper than Buffer#subarray on the hot path
 * (no Buffer species construction) and never a copy.
 */
export function byteView(buf: Uint8Array, start: number, end: number): Uint8Array {
  return new Uint8Array(buf.buffer, buf.byteOffset + start, end - start);
}

/** Convenience for tests and tools: one delimited PacketMsg as a fresh buffer. */
export function encodeDelimitedPacketMsg(channelId: number, eof: boolean, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(delimitedPacketMsgSize(channelId, eof, data.length));
  writeDelimitedPacketMsg(out, 0, channelId, eof, data, 0, data.length);
  return out;
}

export const PACKET_PING = 1;
export const PACKET_PONG = 2;
export const PACKET_MSG = 3;

/** Decoder output, reused across packets to keep the receive path allocation-free. */
export interface DecodedPacket {
  kind: number;
  channelId: number;
  eof: boolean;
  /** The data is buf[dataStart..dataEnd) of the buffer handed to decodePacket. */
  dataStart: number;
  dataEnd: number;
}

export function newDecodedPacket(): DecodedPacket {
  return { kind: 0, channelId: 0, eof: false, dataStart: 0, dataEnd: 0 };
}

// Results of the last readVarint, kept in module state so the hot path allocates nothing.
let varintValue = 0;
let varintLow32 = 0;

/** Reads a varint at `pos` (at most 10 bytes, like gogoproto); returns the position after it. */
function readVarint(buf: Uint8Array, pos: number, end: number): number {
  let value = 0;
  let low = 0;
  let mul = 1;
  for (let i = 0; i < 10; i++) {
    if (pos >= end) throw new ErrMalformedPacket('truncated varint');
    const b = buf[pos++];
    if (i < 5) low |= (b & 0x7f) << (7 * i);
    value += (b & 0x7f) * mul;
    mul *= 128;
    if (b < 0x80) {
      varintValue = value;
      varintLow32 = low | 0;
      return pos;
    }
  }
  throw new ErrMalformedPacket('varint longer than 10 bytes');
}

/** Reads a length-delimited field's length and checks it fits; returns the start of its bytes. */
function readLength(buf: Uint8Array, pos: number, end: number): number {
  pos = readVarint(buf, pos, end);
  if (varintValue > end - pos) throw new ErrMalformedPacket('length-delimited field runs past the end');
  return pos;
}

/** Skips one field of wire type `wireType` whose tag was already read; returns the next position. */
function skipField(buf: Uint8Array, pos: number, end: number, wireType: number, field: number): number {
  switch (wireType) {
    case 0:
      return readVarint(buf, pos, end);
    case 1:
      if (end - pos < 8) throw new ErrMalformedPacket('truncated fixed64');
      return pos + 8;
    case 2:
      pos = readLength(buf, pos, end);
      return pos + varintValue;
    case 5:
      if (end - pos < 4) throw new ErrMalformedPacket('truncated fixed32');
      return pos + 4;
    case 3: {
      // A group: skip fields until its matching end-group tag.
      for (;;) {
        if (pos >= end) throw new ErrMalformedPacket('unterminated group');
        pos = readVarint(buf, pos, end);
        const innerWire = varintLow32 & 7;
        const innerField = Math.floor(varintValue / 8);
        if (innerField === 0) throw new ErrMalformedPacket('illegal field number 0');
        if (innerWire === 4) {
          if (innerField !== field) throw new ErrMalformedPacket('mismatched end group');
          return pos;
        }
        pos = skipField(buf, pos, end, innerWire, innerField);
      }
    }
    case 4:
      throw new ErrMalformedPacket('end group without start group');
    default:
      throw new ErrMalformedPacket(`illegal wire type ${wireType}`);
  }
}

/** Validates a message whose fields we do not use (PacketPing, PacketPong): all are skipped. */
function skipMessage(buf: Uint8Array, pos: number, end: number): void {
  while (pos < end) {
    pos = readVarint(buf, pos, end);
    const field = Math.floor(varintValue / 8);
    if (field === 0) throw new ErrMalformedPacket('illegal field number 0');
    pos = skipField(buf, pos, end, varintLow32 & 7, field);
  }
}

function decodePacketMsg(buf: Uint8Array, pos: number, end: number, out: DecodedPacket): void {
  out.channelId = 0;
  out.eof = false;
  out.dataStart = pos;
  out.dataEnd = pos;
  while (pos < end) {
    pos = readVarint(buf, pos, end);
    const wireType = varintLow32 & 7;
    const field = Math.floor(varintValue / 8);
    if (field === 0) throw new ErrMalformedPacket('illegal field number 0 in PacketMsg');
    if (field === 1 || field === 2) {
      if (wireType !== 0) throw new ErrMalformedPacket(`PacketMsg field ${field} has wire type ${wireType}`);
      pos = readVarint(buf, pos, end);
      // int32 semantics: the low 32 bits, signed (a negative id arrives as a 10-byte varint).
      if (field === 1) out.channelId = varintLow32;
      else out.eof = varintValue !== 0;
    } else if (field === 3) {
      if (wireType !== 2) throw new ErrMalformedPacket(`PacketMsg field 3 has wire type ${wireType}`);
      pos = readLength(buf, pos, end);
      out.dataStart = pos;
      out.dataEnd = pos + varintValue;
      pos = out.dataEnd;
    } else {
      pos = skipField(buf, pos, end, wireType, field);
    }
  }
}

/**
 * Decodes one Packet from buf[start..end) into `out`. Throws ErrMalformedPacket on bad protobuf
 * and ErrUnknownPacketType when no known oneof field is present.
 */
export function decodePacket(buf: Uint8Array, start: number, end: number, out: DecodedPacket): void {
  let pos = start;
  let kind = 0;
  while (pos < end) {
    pos = readVarint(buf, pos, end);
    const wireType = varintLow32 & 7;
    const field = Math.floor(varintValue / 8);
    if (field === 0) throw new ErrMalformedPacket('illegal field number 0 in Packet');
    if (field >= 1 && field <= 3) {
      if (wireType !== 2) throw new ErrMalformedPacket(`Packet field ${field} has wire type ${wireType}`);
      pos = readLength(buf, pos, end);
      const fieldEnd = pos + varintValue;
      if (field === PACKET_MSG) decodePacketMsg(buf, pos, fieldEnd, out);
      else skipMessage(buf, pos, fieldEnd);
      kind = field;
      pos = fieldEnd;
    } else {
      pos = skipField(buf, pos, end, wireType, field);
    }
  }
  if (kind === 0) throw new ErrUnknownPacketType();
  out.kind = kind;
}
