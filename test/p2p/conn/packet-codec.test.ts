import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { readFileSync } from 'node:fs';
import * as protobuf from 'protobufjs/minimal.js';
import { switchyard } from '../../../p2p/proto/gen/wire.js';
import {
  PACKET_MSG,
  PACKET_PING,
  PACKET_PONG,
  PING_DELIMITED,
  PONG_DELIMITED,
  decodePacket,
  delimitedPacketMsgSize,
  encodeDelimitedPacketMsg,
  maxPacketMsgSize,
  newDecodedPacket,
  payloadSizeForChannel,
  packetMsgSize,
} from '../../../p2p/conn/packet-codec.js';
import { PacketReader } from '../../../p2p/conn/packet-reader.js';
import { ErrMalformedPacket, ErrPacketTooLarge, ErrUnknownPacketType } from '../../../p2p/conn/mconnection-errors.js';

const hex = (h: string): Uint8Array => Uint8Array.from(Buffer.from(h, 'hex'));
const toHex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

interface WireEntry { name: string; hex?: string; value?: number }
const wire = JSON.parse(readFileSync('../shared/vectors/cometbft/derived-wire-vectors.json', 'utf8')) as { entries: WireEntry[] };
const entry = (prefix: string): WireEntry => {
  const e = wire.entries.find((x) => x.name.startsWith(prefix));
  if (!e) throw new Error(`vector ${prefix} missing`);
  return e;
};

/** protobufjs's own length-delimited form (uvarint length, then the message). */
const generatedDelimited = (packet: switchyard.p2p.IPacket): Uint8Array =>
  switchyard.p2p.Packet.encode(packet, protobuf.Writer.create().fork()).ldelim().finish();

/** The generated (protobufjs) encoding of a PacketMsg, leaving defaults out like gogoproto. */
function generatedPacketMsg(channelId: number, eof: boolean, data: Uint8Array): Uint8Array {
  const msg: switchyard.p2p.IPacketMsg = {};
  if (channelId !== 0) msg.channelId = channelId;
  if (eof) msg.eof = true;
  if (data.length > 0) msg.data = data;
  return generatedDelimited({ packetMsg: msg });
}

function decode(bytes: Uint8Array) {
  const out = newDecodedPacket();
  decodePacket(bytes, 0, bytes.length, out);
  return { ...out, data: bytes.subarray(out.dataStart, out.dataEnd) };
}

describe('packet codec: CometBFT vectors (derived-wire-vectors.json)', () => {
  it('ping and pong are 0a00 / 1200 behind their length (02), as protobufjs delimits them', () => {
    expect(toHex(PING_DELIMITED)).toBe('02' + entry('Packet{packet_ping}').hex);
    expect(toHex(PONG_DELIMITED)).toBe('02' + entry('Packet{packet_pong}').hex);
    expect(toHex(PING_DELIMITED)).toBe(toHex(generatedDelimited({ packetPing: {} })));
    expect(toHex(PONG_DELIMITED)).toBe(toHex(generatedDelimited({ packetPong: {} })));
    expect(decode(hex(entry('Packet{packet_ping}').hex!)).kind).toBe(PACKET_PING);
    expect(decode(hex(entry('Packet{packet_pong}').hex!)).kind).toBe(PACKET_PONG);
  });

  it('TestConnVectors PacketMsg encodes and decodes exactly', () => {
    const e = entry('Packet{packet_msg{channel_id=1,eof=false');
    const data = Buffer.from('data transmitted over the wire');
    const delimited = encodeDelimitedPacketMsg(1, false, data);
    expect(toHex(delimited.subarray(1))).toBe(e.hex);
    expect(delimited[0]).toBe(hex(e.hex!).length);
    const d = decode(hex(e.hex!));
    expect(d).toMatchObject({ kind: PACKET_MSG, channelId: 1, eof: false });
    expect(Buffer.from(d.data).toString()).toBe('data transmitted over the wire');
  });

  it('channel 0 and eof=false are left out (PexRequest on 0x00; 0x20 with 010203)', () => {
    expect(toHex(encodeDelimitedPacketMsg(0, true, hex('0a00')))).toBe(entry('length-delimited Packet carrying PexRequest').hex);
    expect(toHex(encodeDelimitedPacketMsg(0x20, true, hex('010203')))).toBe(entry('length-delimited Packet{packet_msg{channel_id=0x20').hex);
  });

  it('max packet size is 1034 for the default 1024-byte payload', () => {
    expect(maxPacketMsgSize(1024)).toBe(entry('max encoded Packet size').value);
    expect(packetMsgSize(1, true, 1024)).toBe(1034);
  });
});

describe('packet codec: agrees with the generated protobuf code', () => {
  it('encodes every (channel, eof, size) like protobufjs, and decodes protobufjs output', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 255 }), fc.boolean(), fc.uint8Array({ maxLength: 1100 }), (ch, eof, data) => {
        const ours = encodeDelimitedPacketMsg(ch, eof, data);
        const theirs = generatedPacketMsg(ch, eof, data);
        expect(toHex(ours)).toBe(toHex(theirs));
        expect(ours.length).toBe(delimitedPacketMsgSize(ch, eof, data.length));
        const body = ours.subarray(ours.length - packetMsgSize(ch, eof, data.length));
        const d = decode(body);
        expect(d.kind).toBe(PACKET_MSG);
        expect(d.channelId).toBe(ch);
        expect(d.eof).toBe(eof);
        expect(toHex(d.data)).toBe(toHex(data));
        // And protobufjs reads our bytes the same way.
        const pj = switchyard.p2p.Packet.decode(new Uint8Array(body));
        expect(pj.sum).toBe('packetMsg');
        expect(pj.packetMsg!.channelId).toBe(ch);
      }),
      { numRuns: 300 },
    );
  });

  it('decodes a negative channel id (10-byte varint) and 1025 as written by protobufjs', () => {
    for (const ch of [-1, 1025, -2147483648]) {
      const bytes = switchyard.p2p.Packet.encode({ packetMsg: { channelId: ch, eof: true, data: hex('01') } }).finish();
      expect(decode(bytes).channelId).toBe(ch);
    }
  });

  it('channels from 0x80 get a payload one byte smaller so a full packet stays within 1034', () => {
    expect(payloadSizeForChannel(0x7f, 1024)).toBe(1024);
    expect(payloadSizeForChannel(0x80, 1024)).toBe(1023);
    expect(packetMsgSize(0xff, true, payloadSizeForChannel(0xff, 1024))).toBeLessThanOrEqual(1034);
  });
});

describe('packet codec: gogoproto decoding rules', () => {
  it('skips unknown fields and lets the last oneof field win', () => {
    // unknown varint field 9, then ping, then msg{ch 2, unknown fixed32 field 7, eof}
    const bytes = hex('4805' + '0a00' + '1a09' + '0802' + '3d01020304' + '1001');
    const d = decode(bytes);
    expect(d).toMatchObject({ kind: PACKET_MSG, channelId: 2, eof: true });
    expect(decode(hex('1a020801' + '0a00')).kind).toBe(PACKET_PING);
    expect(decode(hex('0a02' + '4801')).kind).toBe(PACKET_PING); // unknown field inside PacketPing
  });

  it('rejects an empty packet and a foreign message with no oneof as an unknown type', () => {
    expect(() => decode(new Uint8Array(0))).toThrow(ErrUnknownPacketType);
    expect(() => decode(hex('2001'))).toThrow(ErrUnknownPacketType);
  });

  it('rejects truncation, wrong wire types, field 0 and bad varints as malformed', () => {
    const bad = ['1a05080110', '08', '0a', '1a0208', '0801' + '1a0208', '0d00000000', '00', '1a03500101', 'ffffffffffffffffffff01', '0b', '0c', '0f', '1a021200'];
    // Note: '0801' is field 1 with wire type 0 (ping must be LEN) -> malformed.
    for (const h of bad) expect(() => decode(hex(h)), h).toThrow(ErrMalformedPacket);
  });

  it('never throws anything but the typed errors on random bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        try {
          decode(bytes);
        } catch (err) {
          expect(err instanceof ErrMalformedPacket || err instanceof ErrUnknownPacketType).toBe(true);
        }
      }),
      { numRuns: 2000 },
    );
  });
});

describe('PacketReader', () => {
  const collect = (reader: PacketReader, chunks: Uint8Array[]): string[] => {
    const out: string[] = [];
    for (const c of chunks) reader.feed(c, (b, s, e) => (out.push(toHex(b.subarray(s, e))), true));
    return out;
  };

  it('reassembles packets across any chunking', () => {
    const packets = [PING_DELIMITED, encodeDelimitedPacketMsg(3, true, new Uint8Array(1024).fill(7)), encodeDelimitedPacketMsg(0, false, hex('abcd')), PONG_DELIMITED];
    const stream = Buffer.concat(packets);
    const expected = packets.map((p) => toHex(p.subarray(p[0] < 0x80 ? 1 : 2)));
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 200 }), { maxLength: 30 }), (cuts) => {
        const chunks: Uint8Array[] = [];
        let pos = 0;
        for (const c of cuts) {
          if (pos >= stream.length) break;
          chunks.push(stream.subarray(pos, pos + c));
          pos += c;
        }
        if (pos < stream.length) chunks.push(stream.subarray(pos));
        const reader = new PacketReader(1034);
        expect(collect(reader, chunks)).toEqual(expected);
        expect(reader.bufferedBytes()).toBe(0);
      }),
    );
  });

  it('rejects an over-long length prefix before reading the body, even one byte at a time', () => {
    const reader = new PacketReader(1034);
    expect(() => reader.feed(hex('8b08'), () => true)).toThrow(ErrPacketTooLarge); // 1035
    const r2 = new PacketReader(1034);
    r2.feed(hex('80'), () => true);
    expect(() => r2.feed(hex('80'), () => true)).not.toThrow();
    expect(() => r2.feed(hex('01'), () => true)).toThrow(ErrPacketTooLarge); // 16384
    const r3 = new PacketReader(1034);
    expect(() => r3.feed(hex('8a08'), () => true)).not.toThrow(); // exactly 1034: waits for body
    expect(r3.bufferedBytes()).toBe(2);
    expect(() => new PacketReader(1034).feed(hex('8080808080808080808000'), () => true)).toThrow(ErrMalformedPacket);
    try {
      new PacketReader(1034).feed(hex('ffff03'), () => true);
    } catch (err) {
      expect(err).toBeInstanceOf(ErrPacketTooLarge);
      expect((err as ErrPacketTooLarge).limit).toBe(1034);
    }
  });

  it('stops handing out packets when the sink returns false', () => {
    const reader = new PacketReader(1034);
    let n = 0;
    reader.feed(Buffer.concat([PING_DELIMITED, PING_DELIMITED, PING_DELIMITED]), () => (n++, false));
    expect(n).toBe(1);
  });
});
