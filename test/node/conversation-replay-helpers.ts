/**
 * Helpers for replaying the Go-recorded CometBFT conversation (go-generated-vectors.json,
 * `conversation`) against a whole node: the vector's types, a scripted transport whose single
 * connection is played by a recorded stream, and frame decryption with the recorded keys.
 */
import { readFileSync } from 'node:fs';
import type { Duplex } from 'node:stream';
import { createDuplexPair } from '../../p2p/conn/duplex-pair.js';
import { createFrameAead, FRAME_PLAINTEXT_BYTES, FRAME_SEALED_BYTES } from '../../p2p/conn/frame-aead.js';
import { ErrConnectionRefused, ErrTransportClosed } from '../../p2p/transport/transport-errors.js';
import type { ConnectionHandler, RawConnection, Transport, TransportAddress } from '../../p2p/transport/transport.js';

// The vector file's shapes and byte helpers are shared with the SecretConnection vector tests.
import {
  hex,
  unhex,
  VECTORS_DIR,
  type RecordedKeys,
  type RecordedStream,
} from '../p2p/conn/secret-connection-helpers.js';

export { hex, unhex, VECTORS_DIR, type RecordedStream };
export type SideKeys = RecordedKeys;

export interface RecordedNodeInfo {
  channels: string;
  default_node_id: string;
  listen_addr: string;
  moniker: string;
  network: string;
  other: { rpc_address: string; tx_index: string };
  protocol_version: { app: number; block: number; p2p: number };
  version: string;
}

export interface Conversation {
  keys_A: SideKeys;
  keys_B: SideKeys;
  node_info_A: RecordedNodeInfo;
  node_info_B: RecordedNodeInfo;
  node_info_A_length_delimited_hex: string;
  node_info_B_length_delimited_hex: string;
  pex_request_packet_length_delimited_hex: string;
  pex_addrs_sent_by_B: { id: string; ip: string; port: number }[];
  pex_addrs_message_hex: string;
  pex_addrs_packet_length_delimited_hex: string;
  stream_A_to_B: RecordedStream;
  stream_B_to_A: RecordedStream;
}

export function loadConversation(): Conversation {
  const doc = JSON.parse(readFileSync(VECTORS_DIR + 'go-generated-vectors.json', 'utf8')) as { conversation: Conversation };
  return doc.conversation;
}

/** The 64-byte `seed‖pubkey` private key of a side, as node_key.json stores it. */
export function privateKey64(keys: SideKeys): Buffer {
  return Buffer.concat([unhex(keys.ed25519_seed), unhex(keys.ed25519_pubkey)]);
}

/**
 * The other end of our node's one connection, played from a recording: segment i is written
 * once our node has written `segments[i].offset` bytes (what the Go side had read from its peer
 * at that point: the streams have equal segment sizes), and after `beforeSegment(i)` resolves.
 * Everything our node writes is kept in `received`.
 */
export class ScriptedPeer {
  readonly chunks: Buffer[] = [];
  private receivedBytes = 0;
  private readonly waiters: { bytes: number; resolve: () => void; reject: (err: Error) => void }[] = [];
  private closed = false;
  /** Resolves once every segment has been written (rejects if the stream fails first). */
  readonly done: Promise<void>;

  constructor(
    readonly end: Duplex,
    readonly recording: RecordedStream,
    beforeSegment: (index: number) => Promise<void> = () => Promise.resolve(),
  ) {
    end.on('data', (c: Buffer) => {
      this.chunks.push(Buffer.from(c));
      this.receivedBytes += c.length;
      for (const w of this.waiters.splice(0)) {
        if (this.receivedBytes >= w.bytes) w.resolve();
        else this.waiters.push(w);
      }
    });
    end.on('error', () => undefined);
    // Our node hung up: whoever waits for more of its bytes fails now instead of hanging.
    end.once('close', () => {
      this.closed = true;
      for (const w of this.waiters.splice(0)) w.reject(new Error(`connection closed after ${this.receivedBytes} of ${w.bytes} bytes`));
    });
    this.done = (async () => {
      await Promise.resolve();
      for (const [i, seg] of recording.segments.entries()) {
        await this.untilReceived(seg.offset);
        await beforeSegment(i);
        if (end.destroyed) throw new Error(`connection closed before segment ${i} (${seg.phase})`);
        end.write(unhex(seg.hex));
      }
    })();
    // Reported to whoever awaits `done`; not an unhandled rejection when a test failed earlier.
    this.done.catch(() => undefined);
  }

  get received(): Buffer {
    return Buffer.concat(this.chunks);
  }

  untilReceived(bytes: number): Promise<void> {
    if (this.receivedBytes >= bytes) return Promise.resolve();
    if (this.closed) return Promise.reject(new Error(`connection closed after ${this.receivedBytes} of ${bytes} bytes`));
    return new Promise((resolve, reject) => this.waiters.push({ bytes, resolve, reject }));
  }
}

/**
 * A transport with no network: `listen` only reports the configured address, a dial to
 * `scripted` hands the far end of a fresh in-memory pipe to `onDial`, every other dial is
 * refused, and `inject` delivers an inbound connection to the listener.
 */
export class ScriptedTransport implements Transport {
  readonly dials: TransportAddress[] = [];
  private handler: ConnectionHandler | undefined;
  private bound: TransportAddress | undefined;
  private closed = false;
  private readonly open = new Set<Duplex>();

  constructor(
    private readonly listenAt: TransportAddress,
    private readonly scripted?: { remote: TransportAddress; onDial: (farEnd: Duplex) => void },
  ) {}

  async listen(onConnection: ConnectionHandler): Promise<TransportAddress> {
    if (this.closed) throw new ErrTransportClosed('listen');
    this.handler = onConnection;
    this.bound = { ...this.listenAt };
    return this.bound;
  }

  async dial(remote: TransportAddress): Promise<RawConnection> {
    if (this.closed) throw new ErrTransportClosed('dial');
    this.dials.push({ ...remote });
    const s = this.scripted;
    if (!s || s.remote.ip !== remote.ip || s.remote.port !== remote.port) throw new ErrConnectionRefused(remote.ip, remote.port);
    const [ours, theirs] = this.pair();
    s.onDial(theirs);
    return { stream: ours, remote: { ...remote }, local: { ip: this.listenAt.ip, port: 40001 } };
  }

  /** Delivers an inbound connection from `remote`; returns its far end (the dialer's side). */
  inject(remote: TransportAddress): Duplex {
    if (!this.handler) throw new Error('inject before listen');
    const [ours, theirs] = this.pair();
    this.handler({ stream: ours, remote: { ...remote }, local: { ...this.listenAt } });
    return theirs;
  }

  async close(): Promise<void> {
    this.closed = true;
    this.bound = undefined;
    for (const s of this.open) s.destroy();
  }

  listenAddress(): TransportAddress | undefined {
    return this.bound;
  }

  openConnections(): number {
    return this.open.size;
  }

  private pair(): [Duplex, Duplex] {
    const [ours, theirs] = createDuplexPair();
    this.open.add(ours);
    ours.once('close', () => this.open.delete(ours));
    return [ours, theirs];
  }
}

/** The 1028-byte plaintext of the sealed frame at `offset` of `stream`, opened with `key` and frame counter `nonce`. */
export function openFrame(stream: Buffer, offset: number, key: string, nonce: number): Buffer {
  const sealed = Buffer.from(stream.subarray(offset, offset + FRAME_SEALED_BYTES));
  if (sealed.length !== FRAME_SEALED_BYTES) throw new Error(`no complete frame at offset ${offset}`);
  const n = Buffer.alloc(12);
  n.writeBigUInt64LE(BigInt(nonce), 4);
  const out = Buffer.alloc(FRAME_PLAINTEXT_BYTES);
  if (!createFrameAead(unhex(key), 'node:crypto').openFrameInto(sealed, 0, out, 0, n)) {
    throw new Error(`frame at offset ${offset} does not authenticate with nonce ${nonce}`);
  }
  return out;
}

/** Seals a 1028-byte plaintext frame with `key` and frame counter `nonce`. */
export function sealFrame(plaintext: Buffer, key: string, nonce: number): Buffer {
  const buf = Buffer.alloc(FRAME_SEALED_BYTES);
  plaintext.copy(buf, 0, 0, FRAME_PLAINTEXT_BYTES);
  const n = Buffer.alloc(12);
  n.writeBigUInt64LE(BigInt(nonce), 4);
  createFrameAead(unhex(key), 'node:crypto').sealFrame(buf, 0, n);
  return buf;
}

/** The data a plaintext frame carries (its little-endian length field, then that many bytes). */
export function frameChunk(plaintext: Buffer): Buffer {
  return plaintext.subarray(4, 4 + plaintext.readUInt32LE(0));
}

/**
 * Splits an encoded `Message{pex_addrs: PexAddrs{addrs...}}` into the raw bytes of each address
 * entry (field 1 of PexAddrs, tag and length included), so two messages can be compared entry by
 * entry regardless of order. Expects single-byte-tag, varint-length framing throughout.
 */
export function pexAddrsEntries(message: Uint8Array): Buffer[] {
  const buf = Buffer.from(message);
  let pos = 0;
  const readVarint = (): number => {
    let n = 0;
    let shift = 0;
    for (;;) {
      const b = buf[pos++];
      if (b === undefined) throw new Error('truncated varint');
      n += (b & 0x7f) * 2 ** shift;
      if (b < 0x80) return n;
      shift += 7;
    }
  };
  if (buf[pos++] !== 0x12) throw new Error('not a Message{pex_addrs}');
  const innerLen = readVarint();
  if (pos + innerLen !== buf.length) throw new Error('PexAddrs length does not match the message');
  const entries: Buffer[] = [];
  while (pos < buf.length) {
    const start = pos;
    if (buf[pos++] !== 0x0a) throw new Error(`unexpected field at ${start}`);
    const len = readVarint();
    pos += len;
    if (pos > buf.length) throw new Error('truncated entry');
    entries.push(buf.subarray(start, pos));
  }
  return entries;
}
