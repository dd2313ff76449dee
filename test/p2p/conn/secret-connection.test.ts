/** SecretConnection round trips: in-memory pairs and real TCP on 127.0.0.1. */
import { describe, expect, it } from 'vitest';
import { once } from 'node:events';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { createServer, connect, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { createDuplexPair } from '../../../p2p/conn/duplex-pair.js';
import { encodeDelimited, readDelimited } from '../../../p2p/conn/delimited.js';
import { SecretConnection, type SecretConnectionOptions } from '../../../p2p/conn/secret-connection.js';
import { FRAME_SEALED_BYTES, type FrameAeadKind } from '../../../p2p/conn/frame-aead.js';
import { nodeIdFromPubKey } from '../../../p2p/node-id.js';
import { VirtualClock } from '../../../p2p/clock.js';
import { SeededRng } from '../../../p2p/rng.js';
import { identityFromSeed, readBytes, VECTORS_DIR, waitFor } from './secret-connection-helpers.js';

const clock = new VirtualClock();
const idA = identityFromSeed(Buffer.alloc(32, 0xa1));
const idB = identityFromSeed(Buffer.alloc(32, 0xb2));

async function pair(
  opts: { a?: SecretConnectionOptions; b?: SecretConnectionOptions; highWaterMark?: number } = {},
): Promise<[SecretConnection, SecretConnection, Duplex, Duplex]> {
  const [rawA, rawB] = createDuplexPair(opts.highWaterMark);
  const [a, b] = await Promise.all([
    SecretConnection.handshake({ clock }, rawA, idA, opts.a),
    SecretConnection.handshake({ clock }, rawB, idB, opts.b),
  ]);
  return [a, b, rawA, rawB];
}

async function tcpPair(): Promise<[SecretConnection, SecretConnection, Socket, Socket]> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as { port: number }).port;
  const accepted = once(server, 'connection') as Promise<[Socket]>;
  const dialer = connect(port, '127.0.0.1');
  await once(dialer, 'connect');
  const [listener] = await accepted;
  server.close();
  const [a, b] = await Promise.all([
    SecretConnection.handshake({ clock }, dialer, idA),
    SecretConnection.handshake({ clock }, listener, idB),
  ]);
  return [a, b, dialer, listener];
}

/** Parses a Go fuzz corpus file: 'go test fuzz v1' then one []byte("...") literal. */
function parseGoFuzzBytes(text: string): Buffer {
  const lines = text.split('\n');
  expect(lines[0]).toBe('go test fuzz v1');
  const m = /^\[\]byte\("(.*)"\)$/.exec(lines[1]);
  if (!m) throw new Error(`not a []byte literal: ${lines[1]}`);
  const body = m[1];
  const out: number[] = [];
  const simple: Record<string, number> = { a: 7, b: 8, f: 12, n: 10, r: 13, t: 9, v: 11, '\\': 92, "'": 39, '"': 34 };
  for (let i = 0; i < body.length; i++) {
    const ch = body[i];
    if (ch !== '\\') {
      out.push(...Buffer.from(ch, 'utf8'));
      continue;
    }
    const e = body[++i];
    if (e in simple) out.push(simple[e]);
    else if (e === 'x') {
      out.push(parseInt(body.slice(i + 1, i + 3), 16));
      i += 2;
    } else if (e >= '0' && e <= '7') {
      out.push(parseInt(body.slice(i, i + 3), 8));
      i += 2;
    } else if (e === 'u' || e === 'U') {
      const n = e === 'u' ? 4 : 8;
      out.push(...Buffer.from(String.fromCodePoint(parseInt(body.slice(i + 1, i + 1 + n), 16)), 'utf8'));
      i += n;
    } else throw new Error(`unknown Go escape \\${e}`);
  }
  return Buffer.from(out);
}

describe('SecretConnection handshake', () => {
  it('authenticates both sides over an in-memory pair', async () => {
    const [a, b] = await pair();
    expect(Buffer.from(a.remotePubKey)).toEqual(Buffer.from(idB.publicKey));
    expect(Buffer.from(b.remotePubKey)).toEqual(Buffer.from(idA.publicKey));
    expect(a.remoteNodeId).toBe(nodeIdFromPubKey(idB.publicKey));
    expect(b.remoteNodeId).toBe(nodeIdFromPubKey(idA.publicKey));
    a.destroy();
    b.destroy();
  });

  it('uses fresh ephemeral keys: two sessions between the same nodes start with different bytes', async () => {
    const firstWrites: Buffer[] = [];
    for (let i = 0; i < 2; i++) {
      const [rawA, rawB] = createDuplexPair();
      const write = rawA.write.bind(rawA);
      rawA.write = ((c: Buffer, ...rest: never[]) => (firstWrites.push(Buffer.from(c)), write(c, ...rest))) as typeof rawA.write;
      const [a, b] = await Promise.all([SecretConnection.handshake({ clock }, rawA, idA), SecretConnection.handshake({ clock }, rawB, idB)]);
      a.destroy();
      b.destroy();
    }
    const ephemeral = firstWrites.filter((w) => w.length === 35);
    expect(ephemeral.length).toBe(2);
    expect(ephemeral[0].equals(ephemeral[1])).toBe(false);
  });

  it('works over TCP on 127.0.0.1 in both directions', async () => {
    const [a, b, s1, s2] = await tcpPair();
    expect(a.remoteNodeId).toBe(nodeIdFromPubKey(idB.publicKey));
    const msgA = randomBytes(5000);
    const msgB = randomBytes(3000);
    a.write(msgA);
    b.write(msgB);
    const [gotB, gotA] = await Promise.all([readBytes(b, msgA.length), readBytes(a, msgB.length)]);
    expect(gotB.equals(msgA)).toBe(true);
    expect(gotA.equals(msgB)).toBe(true);
    a.destroy();
    await once(s2, 'close');
    expect(s1.destroyed).toBe(true);
    b.destroy();
  });

  it('earlyData goes out in the AuthSig write, as the same frames and bytes as writing it afterwards', async () => {
    const ephA = Buffer.alloc(32, 0x11);
    const ephB = Buffer.alloc(32, 0x22);
    const early = encodeDelimited(Buffer.alloc(300, 0x5a)); // a NodeInfo-sized message
    /** Runs a handshake and returns every raw write A made, and what B reads first afterwards. */
    const run = async (useEarly: boolean): Promise<{ writes: Buffer[]; firstRead: Buffer }> => {
      const [rawA, rawB] = createDuplexPair();
      const writes: Buffer[] = [];
      const write = rawA.write.bind(rawA) as (chunk: Buffer, ...rest: unknown[]) => boolean;
      rawA.write = ((chunk: Buffer, ...rest: unknown[]) => {
        writes.push(Buffer.from(chunk));
        return write(chunk, ...rest);
      }) as typeof rawA.write;
      const [a, b] = await Promise.all([
        SecretConnection.handshake({ clock }, rawA, idA, { ephemeralPrivateKey: ephA, ...(useEarly ? { earlyData: early } : {}) }),
        SecretConnection.handshake({ clock }, rawB, idB, { ephemeralPrivateKey: ephB }),
      ]);
      if (!useEarly) a.write(early);
      const firstRead = await readDelimited(b, { maxBytes: 1000 });
      a.destroy();
      b.destroy();
      return { writes, firstRead };
    };
    const withEarly = await run(true);
    const after = await run(false);
    expect(withEarly.firstRead.equals(Buffer.alloc(300, 0x5a))).toBe(true);
    expect(after.firstRead.equals(Buffer.alloc(300, 0x5a))).toBe(true);
    // Two raw writes (key, then AuthSig + early data) instead of three, carrying identical bytes.
    expect(withEarly.writes.length).toBe(2);
    expect(after.writes.length).toBe(3);
    expect(Buffer.concat(withEarly.writes).equals(Buffer.concat(after.writes))).toBe(true);
    expect(withEarly.writes[1].length).toBe(2 * FRAME_SEALED_BYTES);
  });

  it('keeps no timer once the handshake is over', async () => {
    const c = new VirtualClock();
    const [rawA, rawB] = createDuplexPair();
    const [a, b] = await Promise.all([SecretConnection.handshake({ clock: c }, rawA, idA), SecretConnection.handshake({ clock: c }, rawB, idB)]);
    expect(c.pendingTimers()).toBe(0);
    a.destroy();
    b.destroy();
  });
});

describe('SecretConnection data', () => {
  it('round-trips every seed of CometBFT FuzzP2PSecretConnection', async () => {
    const dir = VECTORS_DIR + 'FuzzP2PSecretConnection/';
    const files = readdirSync(dir);
    expect(files.length).toBe(7);
    const seeds = files.map((f) => parseGoFuzzBytes(readFileSync(dir + f, 'utf8')));
    expect(seeds.map((s) => s.toString())).toContain('{"a": 12, "tsp": 999, k: "blue"}');
    expect(seeds.map((s) => s.toString())).toContain('""');
    const [a, b] = await pair();
    for (const seed of seeds) {
      if (seed.length === 0) continue; // the Go fuzz target skips empty input
      a.write(seed);
      const got = await readBytes(b, seed.length);
      expect(got.equals(seed)).toBe(true);
    }
    a.destroy();
    b.destroy();
  });

  it('parses Go escapes in fuzz literals', () => {
    expect(parseGoFuzzBytes('go test fuzz v1\n[]byte("a\\x00\\n\\"\\\\\\101")').toString('latin1')).toBe('a\x00\n"\\A');
  });

  for (const [aeadA, aeadB] of [
    ['sodium-native', 'sodium-native'],
    ['node:crypto', 'node:crypto'],
    ['sodium-native', 'node:crypto'],
  ] as [FrameAeadKind, FrameAeadKind][]) {
    it(`moves large random payloads across many frames (${aeadA} ↔ ${aeadB})`, async () => {
      const [a, b] = await pair({ a: { aead: aeadA }, b: { aead: aeadB } });
      expect(a.aeadKind).toBe(aeadA);
      const rng = new SeededRng(7);
      const sizes = [1, 1023, 1024, 1025, 2048, 4097, 65536, 1_000_003, 3 * 1024 * 1024];
      const payloads = sizes.map((n) => Buffer.from(rng.bytes(n)));
      const total = payloads.reduce((s, p) => s + p.length, 0);
      const receiving = readBytes(b, total);
      for (const p of payloads) a.write(p);
      const got = await receiving;
      expect(got.equals(Buffer.concat(payloads))).toBe(true);
      a.destroy();
      b.destroy();
    });
  }

  it('delivers each write of at most 1024 bytes in a single read', async () => {
    const [a, b] = await pair();
    const rng = new SeededRng(11);
    for (let i = 0; i < 100; i++) {
      const msg = Buffer.from(rng.bytes(1 + rng.int(1024)));
      const got = once(b, 'data') as Promise<[Buffer]>;
      a.write(msg);
      const [chunk] = await got;
      expect(chunk.equals(msg)).toBe(true);
    }
    a.destroy();
    b.destroy();
  });

  it('never splits a write of at most 1024 bytes across reads, even when many are in flight', async () => {
    const [a, b] = await pair();
    const msgs = Array.from({ length: 300 }, (_, i) => Buffer.alloc(1 + ((i * 37) % 1024), i & 0xff));
    const boundaries = new Set<number>();
    let at = 0;
    const chunks: Buffer[] = [];
    b.on('data', (c: Buffer) => {
      chunks.push(c);
      at += c.length;
      boundaries.add(at);
    });
    for (const m of msgs) a.write(m);
    const total = msgs.reduce((s, m) => s + m.length, 0);
    await waitFor(() => at === total);
    // Every read boundary falls on a write boundary.
    const writeEnds = new Set<number>();
    let w = 0;
    for (const m of msgs) writeEnds.add((w += m.length));
    for (const bnd of boundaries) expect(writeEnds.has(bnd)).toBe(true);
    expect(Buffer.concat(chunks).equals(Buffer.concat(msgs))).toBe(true);
    a.destroy();
    b.destroy();
  });

  it('two interleaved writers of 100 full-size messages each: 200 intact messages (CometBFT TestConcurrentWrite)', async () => {
    const [a, b] = await pair();
    const received: Buffer[] = [];
    b.on('data', (c: Buffer) => {
      // Each 1024-byte write is one frame; a read may hold several, never a part of one.
      expect(c.length % 1024).toBe(0);
      for (let i = 0; i < c.length; i += 1024) received.push(c.subarray(i, i + 1024));
    });
    const writer = async (tag: number): Promise<void> => {
      for (let i = 0; i < 100; i++) {
        const msg = Buffer.alloc(1024, tag);
        msg.writeUInt16BE(i, 0);
        if (!a.write(msg)) await once(a, 'drain');
        if (i % 7 === 0) await new Promise((r) => setImmediate(r));
      }
    };
    await Promise.all([writer(1), writer(2)]);
    await waitFor(() => received.length === 200);
    for (const tag of [1, 2]) {
      const mine = received.filter((m) => m[1023] === tag);
      expect(mine.length).toBe(100);
      expect(mine.map((m) => m.readUInt16BE(0))).toEqual(Array.from({ length: 100 }, (_, i) => i));
      expect(mine.every((m) => m.subarray(2).every((x) => x === tag))).toBe(true);
    }
    a.destroy();
    b.destroy();
  });

  it('writes an empty buffer as no frame at all', async () => {
    const [a, b, , rawB] = await pair();
    let rawBytes = 0;
    rawB.on('data', (c: Buffer) => (rawBytes += c.length));
    void b;
    await new Promise<void>((r) => a.write(Buffer.alloc(0), () => r()));
    a.write(Buffer.from('x'));
    await waitFor(() => rawBytes > 0);
    expect(rawBytes).toBe(FRAME_SEALED_BYTES);
    a.destroy();
  });

  it('carries concurrent traffic in both directions over TCP', async () => {
    const [a, b] = await tcpPair();
    const fromA = randomBytes(4 * 1024 * 1024);
    const fromB = randomBytes(4 * 1024 * 1024);
    const recvB = readBytes(b, fromA.length);
    const recvA = readBytes(a, fromB.length);
    for (let i = 0; i < fromA.length; i += 100_000) {
      a.write(fromA.subarray(i, i + 100_000));
      b.write(fromB.subarray(i, i + 100_000));
    }
    const [gotB, gotA] = await Promise.all([recvB, recvA]);
    expect(gotB.equals(fromA)).toBe(true);
    expect(gotA.equals(fromB)).toBe(true);
    a.destroy();
    b.destroy();
  });

  it('reuses full-size seal buffers across connections without mixing up their bytes (two TCP pairs, 1 MiB writes, both ways)', async () => {
    // 1 MiB writes fill whole 256-frame socket batches, whose buffers go back to a pool shared by
    // every connection once the socket has written them; four writers at once must never see
    // each other's bytes or a buffer reused while still in flight.
    const pairs = [await tcpPair(), await tcpPair()];
    const flows = pairs.flatMap(([a, b]) => [
      { from: a, to: b, data: randomBytes(6 * 1024 * 1024) },
      { from: b, to: a, data: randomBytes(6 * 1024 * 1024) },
    ]);
    const received = flows.map((f) => readBytes(f.to, f.data.length));
    const writers = flows.map(async (f) => {
      for (let i = 0; i < f.data.length; i += 1024 * 1024) {
        if (!f.from.write(f.data.subarray(i, i + 1024 * 1024))) await once(f.from, 'drain');
      }
    });
    await Promise.all(writers);
    const got = await Promise.all(received);
    got.forEach((g, i) => expect(g.equals(flows[i].data)).toBe(true));
    for (const [a, b] of pairs) {
      a.destroy();
      b.destroy();
    }
  });

  it('applies backpressure: a reader that does not read stops the raw stream instead of buffering without bound', async () => {
    const [a, b, , rawB] = await pair({ highWaterMark: 16 * 1024, a: { highWaterMarkBytes: 16 * 1024 }, b: { highWaterMarkBytes: 16 * 1024 } });
    const chunk = Buffer.alloc(64 * 1024, 1);
    let writes = 0;
    while (a.write(chunk) && writes < 1000) writes++;
    // b never reads: its raw stream gets paused and its buffer holds a bounded amount.
    await waitFor(() => rawB.isPaused());
    for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
    expect(b.readableLength).toBeLessThan(512 * 1024);
    expect(rawB.isPaused()).toBe(true);
    const total = (writes + 1) * chunk.length;
    const got = await readBytes(b, total);
    expect(got.length).toBe(total);
    a.destroy();
    b.destroy();
  });

  it('ending one side ends the other side’s readable stream', async () => {
    const [a, b] = await pair();
    b.resume();
    a.end(Buffer.from('bye'));
    await once(b, 'end');
    a.destroy();
    b.destroy();
  });

  it('destroying the SecretConnection destroys the raw stream, and a closed raw stream closes it', async () => {
    const [a, b, rawA, rawB] = await pair();
    a.destroy();
    expect(rawA.destroyed).toBe(true);
    await once(b, 'close');
    expect(rawB.destroyed).toBe(true);
  });
});
