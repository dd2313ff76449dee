/**
 * Byte-for-byte compatibility with CometBFT v0.38.25: the Go-generated packet split of a
 * 2500-byte message and the MConnection packets of a recorded two-node conversation.
 */
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { VirtualClock } from '../../../p2p/clock.js';
import { createDuplexPair } from '../../../p2p/conn/duplex-pair.js';
import { MConnection } from '../../../p2p/conn/mconnection.js';
import { encodeDelimitedPacketMsg } from '../../../p2p/conn/packet-codec.js';
import type { ChannelDescriptor } from '../../../p2p/conn/channel.js';

const hex = (h: string): Buffer => Buffer.from(h, 'hex');
interface Segment { phase: string; chunk_hex: string }
const go = JSON.parse(readFileSync('../shared/vectors/cometbft/go-generated-vectors.json', 'utf8')) as {
  packet_split: {
    message_hex: string; channel_id: number; raw_stream_hex: string;
    packets: { channel_id: number; data_length: number; eof: boolean; length_delimited_hex: string }[];
  };
  conversation: {
    pex_request_packet_length_delimited_hex: string; pex_addrs_message_hex: string; pex_addrs_packet_length_delimited_hex: string;
    stream_A_to_B: { segments: Segment[] }; stream_B_to_A: { segments: Segment[] };
  };
};

/** An MConnection on one end of a pipe; the test plays the raw peer on the other end. */
function withRawPeer(channels: ChannelDescriptor[]) {
  const clock = new VirtualClock(0);
  const [ours, raw] = createDuplexPair();
  const received: [number, Buffer][] = [];
  const errors: Error[] = [];
  const mconn = new MConnection({ clock }, ours, channels, {
    onReceive: (ch, m) => received.push([ch, Buffer.from(m)]),
    onError: (e) => errors.push(e),
  }, { sendRate: 0, recvRate: 0 });
  mconn.start();
  const wire: Buffer[] = [];
  raw.on('data', (c: Buffer) => wire.push(c));
  return { clock, raw, mconn, received, errors, wire };
}

describe('packet_split (Go-generated, 2500 bytes on channel 0x20)', () => {
  const v = go.packet_split;
  const message = hex(v.message_hex);

  it('our encoder reproduces each delimited packet and the raw stream', () => {
    const packets = v.packets.map((p, i) =>
      encodeDelimitedPacketMsg(v.channel_id, p.eof, message.subarray(i * 1024, i * 1024 + p.data_length)),
    );
    packets.forEach((p, i) => expect(Buffer.from(p).toString('hex')).toBe(v.packets[i].length_delimited_hex));
    expect(Buffer.concat(packets).toString('hex')).toBe(v.raw_stream_hex);
  });

  it('MConnection.send writes exactly the Go raw stream', async () => {
    const t = withRawPeer([{ id: 0x20, priority: 5 }]);
    expect(t.mconn.trySend(0x20, message)).toBe(true);
    await t.clock.settle();
    expect(Buffer.concat(t.wire).toString('hex')).toBe(v.raw_stream_hex);
    t.mconn.stop();
  });

  it('MConnection decodes the Go raw stream into the message, in any chunking', async () => {
    for (const cut of [1, 7, 1034, 2532]) {
      const t = withRawPeer([{ id: 0x20, priority: 5 }]);
      const stream = hex(v.raw_stream_hex);
      for (let i = 0; i < stream.length; i += cut) t.raw.write(stream.subarray(i, i + cut));
      await t.clock.settle();
      expect(t.errors).toEqual([]);
      expect(t.received.length).toBe(1);
      expect(t.received[0][0]).toBe(0x20);
      expect(t.received[0][1].equals(message)).toBe(true);
      t.mconn.stop();
    }
  });
});

describe('recorded conversation (Go-generated): MConnection packets', () => {
  const c = go.conversation;
  const packetChunk = (segments: Segment[]): Buffer => hex(segments.find((s) => s.phase.startsWith('mconn packet'))!.chunk_hex);

  it('A sent PexRequest on channel 0x00 and B sent PexAddrs: we decode both to the right message', async () => {
    const fromA = packetChunk(c.stream_A_to_B.segments);
    const fromB = packetChunk(c.stream_B_to_A.segments);
    expect(fromA.toString('hex')).toBe(c.pex_request_packet_length_delimited_hex);
    expect(fromB.toString('hex')).toBe(c.pex_addrs_packet_length_delimited_hex);
    for (const [chunk, expected] of [[fromA, '0a00'], [fromB, c.pex_addrs_message_hex]] as const) {
      const t = withRawPeer([{ id: 0x00, priority: 1 }]);
      t.raw.write(chunk);
      await t.clock.settle();
      expect(t.errors).toEqual([]);
      expect(t.received.map(([ch, m]) => [ch, m.toString('hex')])).toEqual([[0, expected]]);
      t.mconn.stop();
    }
  });

  it('our MConnection writes the same packet bytes for the same messages', async () => {
    for (const [message, expected] of [
      [hex('0a00'), c.pex_request_packet_length_delimited_hex],
      [hex(c.pex_addrs_message_hex), c.pex_addrs_packet_length_delimited_hex],
    ] as const) {
      const t = withRawPeer([{ id: 0x00, priority: 1, sendQueueCapacity: 10 }]);
      expect(await t.mconn.send(0x00, message)).toBe(true);
      await t.clock.settle();
      expect(Buffer.concat(t.wire).toString('hex')).toBe(expected);
      t.mconn.stop();
    }
  });
});
