/**
 * Conversation replay: a whole `Node` (Switch + PEX + AddrBook, injected transport, virtual
 * clock) plays one side of the conversation recorded between two real CometBFT v0.38.25 nodes
 * (go-generated-vectors.json, `conversation`) while a scripted peer plays the other side's
 * recorded bytes. The fixed ephemeral key reaches the handshake through the Switch's
 * test-only `ephemeralKeyProvider`; the NodeInfo fields come from the config as an operator
 * would set them (moniker, network, laddr, rpc laddr), the software version and `tx_index` 'on'
 * from the node's options.
 *
 * The Go nodes advertise the channels 40 20 21 22 23 30 38 60 61 00. Our nodes get stand-in
 * reactors for the nine consensus/mempool/evidence/state-sync channels as user reactors, and
 * Node's own PEX wiring (PEX is registered after the user reactors, so 0x00 comes last as in
 * CometBFT). The RPC address is advertised in NodeInfo but not served (no port is bound).
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { VirtualClock } from '../../p2p/clock.js';
import { FRAME_PLAINTEXT_BYTES, FRAME_SEALED_BYTES } from '../../p2p/conn/frame-aead.js';
import { NetAddress } from '../../p2p/net-address.js';
import { decodeNodeInfo, type NodeInfo } from '../../p2p/node-info.js';
import { NodeKey } from '../../p2p/node-key.js';
import type { Peer } from '../../p2p/peer.js';
import { switchyard } from '../../p2p/proto/gen/wire.js';
import { BaseReactor } from '../../p2p/reactor.js';
import { SeededRng } from '../../p2p/rng.js';
import { decodePexMessage } from '../../pex/pex-codec.js';
import { PexReactor } from '../../pex/pex-reactor.js';
import { initHome } from '../../node/home.js';
import { loadConfig } from '../../node/load-config.js';
import { Node } from '../../node/node.js';
import {
  frameChunk,
  hex,
  loadConversation,
  openFrame,
  pexAddrsEntries,
  privateKey64,
  ScriptedPeer,
  ScriptedTransport,
  sealFrame,
  unhex,
  VECTORS_DIR,
  type RecordedNodeInfo,
  type SideKeys,
} from './conversation-replay-helpers.js';

const conv = loadConversation();
const A_ADDR = { ip: '127.0.0.1', port: 26656 };
const B_ADDR = { ip: '127.0.0.1', port: 26666 };
/** The channels a CometBFT full node advertises before PEX's 0x00. */
const COMETBFT_OTHER_CHANNELS = [0x40, 0x20, 0x21, 0x22, 0x23, 0x30, 0x38, 0x60, 0x61];
const EPH_MSG_BYTES = 35;
/** Offsets of the recorded segments: ephemeral key, AuthSig frame, NodeInfo frame, packet frame. */
const [, AUTH_AT, NODE_INFO_AT, PACKET_AT] = conv.stream_A_to_B.segments.map((s) => s.offset);
const TOTAL = conv.stream_A_to_B.total_length;

/** Holds a channel of the Go node's set; nothing should arrive on it in this conversation. */
class StandInReactor extends BaseReactor {
  readonly received: number[] = [];
  constructor(id: number) {
    super([{ id, priority: 1, sendQueueCapacity: 1, recvMessageCapacity: 1024 }]);
  }
  override receive({ channelId }: { channelId: number }): void {
    this.received.push(channelId);
  }
}

interface ReplayNode {
  node: Node;
  pex: PexReactor<Peer>;
  standIns: StandInReactor[];
  keyCalls: () => number;
}

const homes: string[] = [];
const nodes: Node[] = [];
afterEach(async () => {
  await Promise.all(nodes.splice(0).map((n) => n.stop()));
  for (const h of homes.splice(0)) rmSync(h, { recursive: true, force: true });
});

function makeReplayNode(
  keys: SideKeys,
  info: RecordedNodeInfo,
  deps: { clock: VirtualClock; transport: ScriptedTransport },
  opts: { strict: boolean; persistentPeers?: string },
): ReplayNode {
  const home = mkdtempSync(join(tmpdir(), 'sy-replay-'));
  homes.push(home);
  initHome(home, {
    moniker: info.moniker,
    network: info.network,
    'p2p.laddr': info.listen_addr,
    'p2p.addr_book_strict': opts.strict,
    'p2p.persistent_peers': opts.persistentPeers ?? '',
    'rpc.laddr': '',
  });
  const loaded = loadConfig(home);
  // Advertised in NodeInfo like the Go node's, but not bound: the test opens no real port.
  const config = { ...loaded, rpc: { ...loaded.rpc, laddr: info.other.rpc_address } };
  let calls = 0;
  const rng = new SeededRng(7);
  const node = new Node(
    { clock: deps.clock, rng, transport: deps.transport },
    {
      config,
      nodeKey: NodeKey.fromPrivateKey(privateKey64(keys)),
      version: info.version,
      reactors: COMETBFT_OTHER_CHANNELS.map((id) => ({ name: `stand-in-${id.toString(16)}`, reactor: new StandInReactor(id) })),
      tuning: {
        nodeInfo: { txIndex: info.other.tx_index },
        switch: {
          dialJitterMaxMs: 1,
          ephemeralKeyProvider: () => {
            calls++;
            return unhex(keys.ephemeral_x25519_private);
          },
        },
      },
    },
  );
  const pex = node.pex as unknown as PexReactor<Peer>;
  nodes.push(node);
  const standIns = COMETBFT_OTHER_CHANNELS.map((id) => node.sw.reactor(`stand-in-${id.toString(16)}`) as StandInReactor);
  return { node, pex, standIns, keyCalls: () => calls };
}

/** Real event-loop turns until `predicate` holds (no virtual time passes). */
async function until(predicate: () => boolean, what: string, turns = 5000): Promise<void> {
  for (let i = 0; i < turns; i++) {
    if (predicate()) return;
    await new Promise((r) => setImmediate(r));
  }
  throw new Error(`not reached: ${what}`);
}

function expectRecordedNodeInfo(got: NodeInfo, want: RecordedNodeInfo): void {
  expect(got.id).toBe(want.default_node_id);
  expect(got.listenAddr).toBe(want.listen_addr);
  expect(got.network).toBe(want.network);
  expect(got.version).toBe(want.version);
  expect(got.moniker).toBe(want.moniker);
  expect(hex(got.channels)).toBe(want.channels);
  expect(got.other).toEqual({ txIndex: want.other.tx_index, rpcAddress: want.other.rpc_address });
  expect(got.protocolVersion).toEqual(want.protocol_version);
}

const recordedAddrs = conv.pex_addrs_sent_by_B.map((a) => new NetAddress(a.id, a.ip, a.port));

/** Plays B from its recording against our node as A, which dials B through persistent_peers. */
async function replayAsDialer(strict: boolean): Promise<ReplayNode & { b: ScriptedPeer; transport: ScriptedTransport }> {
  const clock = new VirtualClock();
  let b: ScriptedPeer | undefined;
  const transport = new ScriptedTransport(A_ADDR, { remote: B_ADDR, onDial: (far) => (b = new ScriptedPeer(far, conv.stream_B_to_A)) });
  const replay = makeReplayNode(conv.keys_A, conv.node_info_A, { clock, transport }, {
    strict,
    persistentPeers: `${conv.keys_B.node_id}@${B_ADDR.ip}:${B_ADDR.port}`,
  });
  await replay.node.start();
  // dialPeersAsync's jitter (at most 1 ms here) is on the virtual clock.
  await clock.advanceAsync(1);
  await until(() => b !== undefined, 'the dial to B');
  await b!.done;
  await until(() => replay.node.sw.peers.has(conv.keys_B.node_id), 'B added as a peer');
  await b!.untilReceived(TOTAL);
  // PexAddrs was written after our PexRequest arrived: let our node read and handle it.
  await until(() => replay.pex.stats.addrsReceived + replay.pex.stats.bans > 0 || !replay.node.sw.peers.has(conv.keys_B.node_id), 'B\'s PexAddrs handled');
  await clock.settle(10);
  return { ...replay, b: b!, transport };
}

describe('conversation replay: our node as A (the dialer) against B\'s recorded stream', () => {
  it('writes A\'s ephemeral key, AuthSig and NodeInfo byte for byte, and a PexRequest that decrypts to A\'s chunk', async () => {
    const { node, b, transport, keyCalls, standIns } = await replayAsDialer(false);
    const out = b.received;
    const rec = conv.stream_A_to_B;
    // Exactly the four writes of the Go node: nothing else (no ping: no virtual time passed).
    expect(out.length).toBe(TOTAL);
    expect(transport.dials).toEqual([B_ADDR]);
    expect(keyCalls()).toBe(1);

    expect(hex(out.subarray(0, EPH_MSG_BYTES))).toBe(rec.segments[0].hex);
    expect(hex(out.subarray(AUTH_AT, AUTH_AT + FRAME_SEALED_BYTES))).toBe(rec.segments[1].hex);
    expect(hex(out.subarray(NODE_INFO_AT, NODE_INFO_AT + FRAME_SEALED_BYTES))).toBe(rec.segments[2].hex);
    expect(hex(frameChunk(openFrame(out, NODE_INFO_AT, conv.keys_A.send_key, 1)))).toBe(conv.node_info_A_length_delimited_hex);

    // The PexRequest frame: Go's padding holds stale NodeInfo bytes (its reused frame buffer), ours
    // is zero. Same chunk; and zeroing Go's padding and sealing gives exactly our bytes.
    const seg = rec.segments[3];
    expect(seg.padding_has_nonzero_stale_bytes).toBe(true);
    const ours = openFrame(out, PACKET_AT, conv.keys_A.send_key, 2);
    expect(hex(frameChunk(ours))).toBe(seg.chunk_hex);
    expect(hex(frameChunk(ours))).toBe(conv.pex_request_packet_length_delimited_hex);
    const goPlain = unhex(seg.plaintext_frame_hex!);
    expect(hex(ours.subarray(0, 4 + seg.chunk_length!))).toBe(hex(goPlain.subarray(0, 4 + seg.chunk_length!)));
    expect(ours.subarray(4 + seg.chunk_length!).every((x) => x === 0)).toBe(true);
    const goZeroPadded = Buffer.alloc(FRAME_PLAINTEXT_BYTES);
    goPlain.copy(goZeroPadded, 0, 0, 4 + seg.chunk_length!);
    expect(hex(sealFrame(goZeroPadded, conv.keys_A.send_key, 2))).toBe(hex(out.subarray(PACKET_AT, PACKET_AT + FRAME_SEALED_BYTES)));
    expect(hex(sealFrame(goPlain, conv.keys_A.send_key, 2))).toBe(seg.hex);

    // Our node's view of B: authenticated, outbound, and B's NodeInfo exactly as recorded.
    const peer = node.sw.peers.get(conv.keys_B.node_id)!;
    expect(peer.outbound).toBe(true);
    expect(peer.persistent).toBe(true);
    expectRecordedNodeInfo(peer.nodeInfo, conv.node_info_B);
    // Node's own PEX wiring gives CometBFT's channel order: the user reactors' channels, then 0x00.
    expect(hex(node.sw.nodeInfo().channels)).toBe(conv.node_info_A.channels);
    expect(node.sw.reactor('pex')).toBe(node.pex);
    for (const r of standIns) expect(r.received).toEqual([]);
  });

  it('with addr_book_strict = false, accepts B\'s PexAddrs and keeps all 3 addresses (as the Go node did)', async () => {
    const { node, pex } = await replayAsDialer(false);
    expect(pex.stats.requestsSent).toBe(1);
    expect(pex.stats.addrsReceived).toBe(3);
    expect(pex.stats.bans).toBe(0);
    expect(node.sw.peers.has(conv.keys_B.node_id)).toBe(true);
    for (const a of recordedAddrs) expect(node.addrBook.hasAddress(a), a.toString()).toBe(true);
    // The book holds B's 3 addresses and B's own (from persistent_peers), nothing else.
    expect(node.addrBook.size()).toBe(4);
    expect(node.addrBook.hasAddress(new NetAddress(conv.keys_B.node_id, B_ADDR.ip, B_ADDR.port))).toBe(true);
  });

  it('with addr_book_strict = true, also keeps all 3: CometBFT counts RFC 5737 documentation ranges as routable', async () => {
    const { node, pex } = await replayAsDialer(true);
    // Routable() excludes only RFC 1918/3927/4862/4193/4843 and local addresses, as in CometBFT.
    expect(recordedAddrs.map((a) => a.routable())).toEqual([true, true, true]);
    expect(pex.stats.bans).toBe(0);
    expect(node.sw.peers.has(conv.keys_B.node_id)).toBe(true);
    expect(pex.stats.addrsReceived).toBe(3);
    for (const a of recordedAddrs) expect(node.addrBook.hasAddress(a), a.toString()).toBe(true);
    // The one difference strictness makes here: B's own loopback address (from persistent_peers)
    // is not routable, so a strict book keeps it out.
    expect(node.addrBook.size()).toBe(3);
    expect(node.addrBook.hasAddress(new NetAddress(conv.keys_B.node_id, B_ADDR.ip, B_ADDR.port))).toBe(false);
  });
});

/**
 * Plays A from its recording against our node as B. `beforePexRequest` runs after our node added
 * A as a peer and before A's PexRequest frame is written.
 */
async function replayAsListener(beforePexRequest: (r: ReplayNode) => void): Promise<ReplayNode & { a: ScriptedPeer }> {
  const clock = new VirtualClock();
  const transport = new ScriptedTransport(B_ADDR);
  const replay = makeReplayNode(conv.keys_B, conv.node_info_B, { clock, transport }, { strict: false });
  await replay.node.start();
  // B's book holds the three addresses it answered with in the recording.
  for (const addr of recordedAddrs) expect(replay.node.addrBook.addAddress(addr, addr)).toBe(true);
  const far = transport.inject({ ip: A_ADDR.ip, port: 51234 });
  const a = new ScriptedPeer(far, conv.stream_A_to_B, async (i) => {
    if (i !== 3) return;
    await until(() => replay.node.sw.peers.has(conv.keys_A.node_id), 'A added as a peer');
    beforePexRequest(replay);
  });
  await a.done;
  await a.untilReceived(TOTAL);
  await clock.settle(10);
  return { ...replay, a };
}

/** Our answer to A's PexRequest: the delimited packet, its PEX message and the addresses in it. */
function ourPexAnswer(out: Buffer): { packet: Buffer; message: Uint8Array; addrs: string[] } {
  const packet = frameChunk(openFrame(out, PACKET_AT, conv.keys_B.send_key, 2));
  // A uvarint length, then the Packet.
  let pos = 0;
  let len = 0;
  for (let shift = 0; ; shift += 7) {
    const b = packet[pos++];
    len += (b & 0x7f) * 2 ** shift;
    if (b < 0x80) break;
  }
  expect(pos + len).toBe(packet.length);
  const msg = switchyard.p2p.Packet.decode(packet.subarray(pos)).packetMsg!;
  expect(msg.channelId ?? 0).toBe(0);
  expect(msg.eof).toBe(true);
  const decoded = decodePexMessage(msg.data!);
  if (decoded.kind !== 'addrs') throw new Error('expected PexAddrs');
  return { packet, message: msg.data!, addrs: decoded.addrs.map((x) => `${x.id}@${x.ip.includes(':') ? `[${x.ip}]` : x.ip}:${x.port}`) };
}

describe('conversation replay: our node as B (the listener) against A\'s recorded stream', () => {
  it('writes B\'s ephemeral key, AuthSig and NodeInfo byte for byte, and answers the PexRequest with its book', async () => {
    const { node, a, keyCalls, pex } = await replayAsListener(() => undefined);
    const out = a.received;
    const rec = conv.stream_B_to_A;
    expect(out.length).toBe(TOTAL);
    expect(keyCalls()).toBe(1);
    expect(hex(out.subarray(0, EPH_MSG_BYTES))).toBe(rec.segments[0].hex);
    expect(hex(out.subarray(AUTH_AT, AUTH_AT + FRAME_SEALED_BYTES))).toBe(rec.segments[1].hex);
    expect(hex(out.subarray(NODE_INFO_AT, NODE_INFO_AT + FRAME_SEALED_BYTES))).toBe(rec.segments[2].hex);

    const peer = node.sw.peers.get(conv.keys_A.node_id)!;
    expect(peer.outbound).toBe(false);
    expectRecordedNodeInfo(peer.nodeInfo, conv.node_info_A);
    expect(pex.stats.requestsAnswered).toBe(1);
    expect(pex.stats.bans).toBe(0);

    // What a real CometBFT B would answer (its Receive passes book.GetSelection()): the three
    // addresses, plus A's own self-reported address, which AddPeer put in the book on connect
    // (the Go recording used a fixed list of three instead).
    const { addrs } = ourPexAnswer(out);
    const aSelf = `${conv.keys_A.node_id}@${A_ADDR.ip}:${A_ADDR.port}`;
    expect(node.addrBook.hasAddress(NetAddress.parse(aSelf))).toBe(true);
    expect(new Set(addrs)).toEqual(new Set([...recordedAddrs.map((x) => x.toString()), aSelf]));
    expect(addrs.length).toBe(4);
  });

  it('with exactly the recorded three in the book, the answer is Go\'s PexAddrs up to the order of the entries', async () => {
    const { a } = await replayAsListener(({ node }) => {
      // Like for like with the recording's fixed list: drop the address AddPeer learned from A.
      node.addrBook.removeAddress(NetAddress.parse(`${conv.keys_A.node_id}@${A_ADDR.ip}:${A_ADDR.port}`));
    });
    const out = a.received;
    const { packet, message, addrs } = ourPexAnswer(out);
    expect(new Set(addrs)).toEqual(new Set(recordedAddrs.map((x) => x.toString())));
    const goEntries = pexAddrsEntries(unhex(conv.pex_addrs_message_hex)).map(hex);
    const ourEntries = pexAddrsEntries(message).map(hex);
    expect([...ourEntries].sort()).toEqual([...goEntries].sort());
    expect(packet.length).toBe(conv.stream_B_to_A.segments[3].chunk_length);

    // Go's framing around Go's entry bytes, in our order, zero-padded (as Go's frame was: no
    // stale bytes, the chunk is longer than every earlier one): sealed, it is exactly our frame.
    const goPacket = unhex(conv.pex_addrs_packet_length_delimited_hex);
    const prefixLen = goPacket.length - goEntries.reduce((n, e) => n + e.length / 2, 0);
    const reordered = Buffer.concat([goPacket.subarray(0, prefixLen), ...ourEntries.map(unhex)]);
    expect(hex(reordered.subarray(0, prefixLen))).toBe(hex(packet.subarray(0, prefixLen)));
    const plain = Buffer.alloc(FRAME_PLAINTEXT_BYTES);
    plain.writeUInt32LE(reordered.length, 0);
    reordered.copy(plain, 4);
    expect(conv.stream_B_to_A.segments[3].padding_has_nonzero_stale_bytes).toBe(false);
    expect(hex(sealFrame(plain, conv.keys_B.send_key, 2))).toBe(hex(out.subarray(PACKET_AT, PACKET_AT + FRAME_SEALED_BYTES)));
    // (The order comes from the book's shuffle on the seeded Rng; with Go's order this would be the
    // recorded frame itself, as the A side shows for the frames before it.)
  });
});

describe('the vector material the replays rest on', () => {
  it('the conversation\'s sides are A and B of the derived handshake: node keys (64-byte form), IDs, ephemeral keys', () => {
    const derived = JSON.parse(readFileSync(VECTORS_DIR + 'derived-secret-connection-handshake.json', 'utf8')) as Record<string, Record<string, string>>;
    for (const [keys, side] of [
      [conv.keys_A, derived.side_A],
      [conv.keys_B, derived.side_B],
    ] as const) {
      expect(hex(privateKey64(keys))).toBe(side.ed25519_privkey_64);
      expect(NodeKey.fromPrivateKey(privateKey64(keys)).id).toBe(side.node_id);
      expect(keys.ephemeral_x25519_private).toBe(side.ephemeral_x25519_private);
    }
  });


  it('decode (with our decoder) to the field values the vector lists, which the replays compare against', () => {
    for (const [info, want] of [
      [conv.node_info_A_length_delimited_hex, conv.node_info_A],
      [conv.node_info_B_length_delimited_hex, conv.node_info_B],
    ] as const) {
      const bytes = unhex(info);
      expectRecordedNodeInfo(decodeNodeInfo(bytes.subarray(2)), want);
    }
  });
});
