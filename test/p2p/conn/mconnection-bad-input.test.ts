/**
 * Bad input from the peer: each case stops the connection with a typed reason through onError,
 * delivers nothing bad, and keeps memory bounded.
 */
import { describe, expect, it } from 'vitest';
import { switchyard } from '../../../p2p/proto/gen/wire.js';
import * as protobuf from 'protobufjs/minimal.js';
import {
  ErrMalformedPacket,
  ErrPacketTooLarge,
  ErrRecvMessageTooLarge,
  ErrUnknownChannel,
  ErrUnknownPacketType,
} from '../../../p2p/conn/mconnection-errors.js';
import { encodeDelimitedPacketMsg } from '../../../p2p/conn/packet-codec.js';
import { pattern, withRawPeer } from './mconnection-helpers.js';

const delimited = (packet: switchyard.p2p.IPacket): Uint8Array =>
  switchyard.p2p.Packet.encode(packet, protobuf.Writer.create().fork()).ldelim().finish();

async function expectStopped<T extends Error>(t: ReturnType<typeof withRawPeer>, cls: new (...args: never[]) => T): Promise<T> {
  await t.clock.settle();
  expect(t.side.errors.length).toBe(1);
  expect(t.side.errors[0]).toBeInstanceOf(cls);
  expect(t.mconn.running).toBe(false);
  expect(t.side.conn.destroyed).toBe(true);
  await t.clock.advanceAsync(100_000);
  expect(t.side.errors.length).toBe(1); // reported once
  expect(t.clock.pendingTimers()).toBe(0);
  return t.side.errors[0] as T;
}

describe('unknown channels', () => {
  it('TestMConnectionReadErrorUnknownChannel: a channel the receiver lacks stops it', async () => {
    const t = withRawPeer([{ id: 0x01, priority: 1 }]);
    expect(t.mconn.trySend(0x02, Buffer.from('x'))).toBe(false); // local send on a channel we lack fails locally
    t.peer.write(encodeDelimitedPacketMsg(0x02, true, Buffer.from('hello')));
    const err = await expectStopped(t, ErrUnknownChannel);
    expect(err.channelId).toBe(0x02);
    expect(t.side.received).toEqual([]);
  });

  it('TestMConnectionChannelOverflow: channel 1 is delivered; 1025 (byte 1 if truncated) is rejected', async () => {
    const t = withRawPeer([{ id: 0x01, priority: 1 }]);
    t.peer.write(delimited({ packetMsg: { channelId: 1, eof: true, data: Buffer.from('ok') } }));
    await t.clock.settle();
    expect(t.side.received.map(([c, m]) => [c, m.toString()])).toEqual([[1, 'ok']]);
    t.peer.write(delimited({ packetMsg: { channelId: 1025, eof: true, data: Buffer.from('bad') } }));
    const err = await expectStopped(t, ErrUnknownChannel);
    expect(err.channelId).toBe(1025);
    expect(t.side.received.length).toBe(1);
  });

  it('a negative channel id is rejected', async () => {
    const t = withRawPeer([{ id: 0x01, priority: 1 }]);
    t.peer.write(delimited({ packetMsg: { channelId: -1, eof: true, data: Buffer.from('x') } }));
    expect((await expectStopped(t, ErrUnknownChannel)).channelId).toBe(-1);
  });
});

describe('packet size', () => {
  it('TestMConnectionReadErrorLongMessage: exactly the maximum payload is accepted; max+100 stops', async () => {
    const t = withRawPeer([{ id: 0x01, priority: 1 }]);
    t.peer.write(encodeDelimitedPacketMsg(0x01, true, pattern(1024)));
    await t.clock.settle();
    expect(t.side.received.length).toBe(1);
    expect(t.side.errors).toEqual([]);
    t.peer.write(encodeDelimitedPacketMsg(0x01, true, pattern(1124)));
    const err = await expectStopped(t, ErrPacketTooLarge);
    expect(err.limit).toBe(1034);
    expect(err.size).toBe(1134);
    expect(t.side.received.length).toBe(1);
  });

  it('rejects from the length prefix alone, before any body arrives', async () => {
    const t = withRawPeer([{ id: 0x01, priority: 1 }]);
    t.peer.write('8b08'); // 1035, no body follows
    expect((await expectStopped(t, ErrPacketTooLarge)).size).toBe(1035);
    const huge = withRawPeer([{ id: 0x01, priority: 1 }]);
    huge.peer.write('ffffffff0f'); // 4 GiB announced
    await expectStopped(huge, ErrPacketTooLarge);
  });

  it('a custom payload size moves the read limit with it', async () => {
    const t = withRawPeer([{ id: 0x01, priority: 1 }], { maxPacketMsgPayloadSize: 100 });
    t.peer.write(encodeDelimitedPacketMsg(0x01, true, pattern(100)));
    await t.clock.settle();
    expect(t.side.received.length).toBe(1);
    t.peer.write(encodeDelimitedPacketMsg(0x01, true, pattern(101)));
    expect((await expectStopped(t, ErrPacketTooLarge)).limit).toBe(108);
  });
});

describe('malformed packets', () => {
  it('TestMConnectionReadErrorBadEncoding: garbage bytes stop the connection', async () => {
    const t = withRawPeer([{ id: 0x01, priority: 1 }]);
    t.peer.write(Buffer.concat([Buffer.from([5]), Buffer.from('foo!!')]));
    await expectStopped(t, ErrMalformedPacket);
  });

  it('a truncated PacketMsg inside a correctly delimited packet is malformed', async () => {
    const t = withRawPeer([{ id: 0x01, priority: 1 }]);
    t.peer.write('051a05080110'); // msg claims 5 bytes, only 3 present
    await expectStopped(t, ErrMalformedPacket);
  });

  it('TestMConnectionReadErrorUnknownMsgType: a foreign protobuf (a block Header) stops the connection', async () => {
    // Header{version: {}, chain_id: "x", height: 2} as gogoproto writes it.
    const t = withRawPeer([{ id: 0x01, priority: 1 }]);
    t.peer.write('070a0012017818 02'.replace(/ /g, ''));
    await t.clock.settle();
    expect(t.side.errors.length).toBe(1);
    expect(t.side.errors[0] instanceof ErrMalformedPacket || t.side.errors[0] instanceof ErrUnknownPacketType).toBe(true);
  });

  it('a packet with no oneof set (empty, or only unknown fields) is an unknown packet type', async () => {
    const empty = withRawPeer([{ id: 0x01, priority: 1 }]);
    empty.peer.write('00');
    await expectStopped(empty, ErrUnknownPacketType);
    const unknownField = withRawPeer([{ id: 0x01, priority: 1 }]);
    unknownField.peer.write('022200'); // field 4 (LEN) with 0 bytes
    await expectStopped(unknownField, ErrUnknownPacketType);
  });
});

describe('receive capacity', () => {
  it('a message over the channel recvMessageCapacity stops the connection before it is buffered', async () => {
    const t = withRawPeer([{ id: 0x01, priority: 1, recvMessageCapacity: 4000 }]);
    t.peer.write(Buffer.concat([...Array(3)].map(() => encodeDelimitedPacketMsg(1, false, pattern(1024)))));
    await t.clock.settle();
    expect(t.side.errors).toEqual([]);
    t.peer.write(encodeDelimitedPacketMsg(1, true, pattern(1024)));
    const err = await expectStopped(t, ErrRecvMessageTooLarge);
    expect(err).toMatchObject({ channelId: 1, size: 4096, limit: 4000 });
  });

  it('exactly recvMessageCapacity is accepted', async () => {
    const t = withRawPeer([{ id: 0x01, priority: 1, recvMessageCapacity: 2048 }]);
    t.peer.write(Buffer.concat([encodeDelimitedPacketMsg(1, false, pattern(1024)), encodeDelimitedPacketMsg(1, true, pattern(1024, 1024))]));
    await t.clock.settle();
    expect(t.side.errors).toEqual([]);
    expect(t.side.received[0][1].equals(pattern(2048))).toBe(true);
    t.mconn.stop();
  });

  it('many small non-eof packets: stopped once the total passes the capacity, memory bounded', async () => {
    const cap = 64_000; // the PEX channel's capacity
    const t = withRawPeer([{ id: 0x00, priority: 1, recvMessageCapacity: cap }]);
    const small = encodeDelimitedPacketMsg(0, false, pattern(10));
    const burst = Buffer.concat(Array(1000).fill(small)); // 10 000 bytes of data per write
    const heapBefore = process.memoryUsage().heapUsed;
    for (let i = 0; i < 6; i++) t.peer.write(burst);
    await t.clock.settle();
    expect(t.side.errors).toEqual([]);
    for (let i = 0; i < 100 && t.mconn.running; i++) {
      t.peer.write(burst);
      await t.clock.settle(1);
    }
    const err = await expectStopped(t, ErrRecvMessageTooLarge);
    expect(err.size).toBe(cap + 10); // the first packet that would pass the capacity
    expect(process.memoryUsage().heapUsed - heapBefore).toBeLessThan(16 * 1024 * 1024);
  });

  it('empty non-eof packets never grow the reassembly buffer', async () => {
    const t = withRawPeer([{ id: 0x01, priority: 1, recvMessageCapacity: 100 }]);
    const empty = encodeDelimitedPacketMsg(1, false, new Uint8Array(0));
    t.peer.write(Buffer.concat(Array(10_000).fill(empty)));
    await t.clock.settle();
    t.peer.write(encodeDelimitedPacketMsg(1, true, pattern(100)));
    await t.clock.settle();
    expect(t.side.errors).toEqual([]);
    expect(t.side.received[0][1].equals(pattern(100))).toBe(true);
    t.mconn.stop();
  });
});
