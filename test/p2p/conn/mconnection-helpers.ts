/** Shared fixtures for the MConnection tests: connected pairs and a scriptable raw peer. */
import type { Duplex } from 'node:stream';
import { VirtualClock } from '../../../p2p/clock.js';
import { createDuplexPair } from '../../../p2p/conn/duplex-pair.js';
import { MConnection, type MConnectionOptions } from '../../../p2p/conn/mconnection.js';
import type { ChannelDescriptor } from '../../../p2p/conn/channel.js';
import { PacketReader } from '../../../p2p/conn/packet-reader.js';
import { decodePacket, newDecodedPacket, PACKET_MSG, PACKET_PING, PACKET_PONG } from '../../../p2p/conn/packet-codec.js';

export interface Side {
  mconn: MConnection;
  conn: Duplex;
  received: [number, Buffer][];
  errors: Error[];
}

export function makeSide(clock: VirtualClock, conn: Duplex, channels: ChannelDescriptor[], opts: MConnectionOptions = {}): Side {
  const side: Side = { mconn: undefined as unknown as MConnection, conn, received: [], errors: [] };
  side.mconn = new MConnection(
    { clock },
    conn,
    channels,
    { onReceive: (ch, m) => side.received.push([ch, Buffer.from(m)]), onError: (e) => side.errors.push(e) },
    opts,
  );
  return side;
}

/** Two started MConnections over an in-memory pipe on one VirtualClock. */
export function connectedPair(channels: ChannelDescriptor[], opts: MConnectionOptions = {}, optsB: MConnectionOptions = opts) {
  const clock = new VirtualClock(1_000_000);
  const [a, b] = createDuplexPair();
  const A = makeSide(clock, a, channels, opts);
  const B = makeSide(clock, b, channels, optsB);
  A.mconn.start();
  B.mconn.start();
  return { clock, A, B };
}

export interface RawPacket {
  kind: 'ping' | 'pong' | 'msg';
  channelId: number;
  eof: boolean;
  data: Buffer;
}

/** The other end of an MConnection, played by the test: it sees decoded packets and writes raw bytes. */
export class RawPeer {
  readonly packets: RawPacket[] = [];
  bytes = 0;
  private readonly reader = new PacketReader(1 << 20);

  constructor(readonly conn: Duplex, read = true) {
    if (read) this.startReading();
  }

  startReading(): void {
    this.conn.on('data', (chunk: Buffer) => {
      this.bytes += chunk.length;
      this.reader.feed(chunk, (buf, s, e) => {
        const p = newDecodedPacket();
        decodePacket(buf, s, e, p);
        const kind = p.kind === PACKET_PING ? 'ping' : p.kind === PACKET_PONG ? 'pong' : 'msg';
        this.packets.push({
          kind,
          channelId: p.kind === PACKET_MSG ? p.channelId : -1,
          eof: p.eof,
          data: Buffer.from(buf.subarray(p.dataStart, p.dataEnd)),
        });
        return true;
      });
    });
  }

  count(kind: RawPacket['kind']): number {
    return this.packets.filter((p) => p.kind === kind).length;
  }

  write(bytes: Uint8Array | string): boolean {
    return this.conn.write(typeof bytes === 'string' ? Buffer.from(bytes, 'hex') : bytes);
  }
}

/** One started MConnection whose peer is a RawPeer. */
export function withRawPeer(
  channels: ChannelDescriptor[],
  opts: MConnectionOptions = {},
  { read = true, highWaterMark = 64 * 1024, clock = new VirtualClock(1_000_000) } = {},
) {
  const [ours, raw] = createDuplexPair(highWaterMark);
  const side = makeSide(clock, ours, channels, opts);
  const peer = new RawPeer(raw, read);
  side.mconn.start();
  return { clock, side, peer, mconn: side.mconn };
}

export const pattern = (n: number, seed = 0): Buffer => {
  const b = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + seed) & 0xff;
  return b;
};
