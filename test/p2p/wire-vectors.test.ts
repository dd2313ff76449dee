/**
 * The protobuf layer against CometBFT's bytes: every standalone protobuf encoding in
 * derived-wire-vectors.json and go-generated-vectors.json is rebuilt from its field values by our
 * generated encoder (byte for byte) and decoded back to those values. Frame sealing is tested by
 * the SecretConnection suite and packet splitting by the MConnection suite; here only the messages.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { NetAddress } from '../../p2p/net-address.js';
import { nodeIdFromPubKey } from '../../p2p/node-id.js';
import { NodeKey } from '../../p2p/node-key.js';
import { decodeNodeInfo, encodeNodeInfo, type NodeInfo } from '../../p2p/node-info.js';
import { switchyard } from '../../p2p/proto/gen/wire.js';

const wire = JSON.parse(readFileSync('../shared/vectors/cometbft/derived-wire-vectors.json', 'utf8'));
const go = JSON.parse(readFileSync('../shared/vectors/cometbft/go-generated-vectors.json', 'utf8'));
const handshake = JSON.parse(readFileSync('../shared/vectors/cometbft/derived-secret-connection-handshake.json', 'utf8'));

const { Packet, Message, DefaultNodeInfo, AuthSigMessage, BytesValue } = switchyard.p2p;

type Entry = { name: string; hex?: string; value?: number; text?: string; fields?: Record<string, unknown>; node_id?: string; pubkey_base64?: string };
const entries: Entry[] = wire.entries;
function entry(prefix: string): Entry {
  const found = entries.filter((e) => e.name.startsWith(prefix));
  if (found.length !== 1) throw new Error(`expected one vector named ${prefix}..., found ${found.length}`);
  return found[0];
}

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const unhex = (h: string): Uint8Array => new Uint8Array(Buffer.from(h, 'hex'));

function uvarint(n: number): Uint8Array {
  const out: number[] = [];
  while (n >= 0x80) {
    out.push((n & 0x7f) | 0x80);
    n = Math.floor(n / 128);
  }
  out.push(n);
  return Uint8Array.from(out);
}

function delimited(body: Uint8Array): Uint8Array {
  return new Uint8Array(Buffer.concat([uvarint(body.length), body]));
}

/** Splits a stream of uvarint-length-delimited messages, checking nothing is left over. */
function splitDelimited(stream: Uint8Array): Uint8Array[] {
  const out: Uint8Array[] = [];
  let pos = 0;
  while (pos < stream.length) {
    let len = 0;
    let shift = 1;
    for (;;) {
      const b = stream[pos++];
      len += (b & 0x7f) * shift;
      shift *= 128;
      if (b < 0x80) break;
    }
    expect(pos + len).toBeLessThanOrEqual(stream.length);
    out.push(stream.subarray(pos, pos + len));
    pos += len;
  }
  return out;
}

/** A decode that takes a plain view (protobufjs's Buffer reader is lenient with truncated strings). */
function view(b: Uint8Array): Uint8Array {
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}

/** The Packet for a PacketMsg, leaving proto3 defaults out as CometBFT does. */
function packetMsg(channelId: number, eof: boolean, data: Uint8Array): Uint8Array {
  const msg: switchyard.p2p.IPacketMsg = { data };
  if (channelId !== 0) msg.channelId = channelId;
  if (eof) msg.eof = true;
  return Packet.encode({ packetMsg: msg }).finish();
}

function expectPacketMsg(bytes: Uint8Array, channelId: number, eof: boolean, data: Uint8Array): void {
  const decoded = Packet.decode(view(bytes));
  expect(decoded.sum).toBe('packetMsg');
  expect(decoded.packetMsg!.channelId ?? 0).toBe(channelId);
  expect(decoded.packetMsg!.eof ?? false).toBe(eof);
  expect(hex(decoded.packetMsg!.data!)).toBe(hex(data));
}

interface PexAddr { id: string; ip: string; port: number }
function pexAddrs(addrs: PexAddr[]): Uint8Array {
  return Message.encode({ pexAddrs: { addrs: addrs.map((a) => NetAddress.fromProto(a).toProto()) } }).finish();
}
function decodePexAddrs(bytes: Uint8Array): PexAddr[] {
  const msg = Message.decode(view(bytes));
  expect(msg.sum).toBe('pexAddrs');
  return (msg.pexAddrs!.addrs ?? []).map((a) => NetAddress.fromProto({ id: a.id ?? '', ip: a.ip ?? '', port: a.port ?? 0 }).toProto());
}

/** NodeInfo field values as the vector files write them (snake_case, channels as hex). */
function nodeInfoFromFields(f: any): NodeInfo {
  return {
    protocolVersion: { p2p: f.protocol_version.p2p, block: f.protocol_version.block, app: f.protocol_version.app },
    id: f.default_node_id,
    listenAddr: f.listen_addr,
    network: f.network,
    version: f.version,
    channels: unhex(f.channels),
    moniker: f.moniker,
    other: { txIndex: f.other.tx_index, rpcAddress: f.other.rpc_address },
  };
}

describe('derived-wire-vectors.json', () => {
  it('covers every entry', () => {
    // 13 entries, each asserted below; a new entry in the file must get a test.
    expect(entries).toHaveLength(13);
  });

  it('Packet{ping} and Packet{pong}', () => {
    const ping = entry('Packet{packet_ping}');
    const pong = entry('Packet{packet_pong}');
    expect(hex(Packet.encode({ packetPing: {} }).finish())).toBe(ping.hex);
    expect(hex(Packet.encode({ packetPong: {} }).finish())).toBe(pong.hex);
    expect(Packet.decode(unhex(ping.hex!)).sum).toBe('packetPing');
    expect(Packet.decode(unhex(pong.hex!)).sum).toBe('packetPong');
  });

  it('Packet{msg} channel 1, eof false', () => {
    const e = entry('Packet{packet_msg{channel_id=1');
    const data = new TextEncoder().encode('data transmitted over the wire');
    expect(hex(packetMsg(1, false, data))).toBe(e.hex);
    expectPacketMsg(unhex(e.hex!), 1, false, data);
  });

  it('PEX request and one-address PexAddrs', () => {
    const req = entry('pex Message{pex_request{}}');
    expect(hex(Message.encode({ pexRequest: {} }).finish())).toBe(req.hex);
    expect(Message.decode(unhex(req.hex!)).sum).toBe('pexRequest');
    const one = entry("pex Message{pex_addrs{addrs=[{id='1'");
    const addrs = [{ id: '1', ip: '127.0.0.1', port: 9090 }];
    expect(hex(pexAddrs(addrs))).toBe(one.hex);
    expect(decodePexAddrs(unhex(one.hex!))).toEqual(addrs);
  });

  it('empty PexAddrs', () => {
    const e = entry('pex Message{pex_addrs{}}');
    expect(hex(pexAddrs([]))).toBe(e.hex);
    expect(decodePexAddrs(unhex(e.hex!))).toEqual([]);
  });

  it('length-delimited packets: PexRequest on channel 0x00, PacketMsg on 0x20', () => {
    const pex = entry('length-delimited Packet carrying PexRequest');
    const pexRequest = Message.encode({ pexRequest: {} }).finish();
    expect(hex(delimited(packetMsg(0, true, pexRequest)))).toBe(pex.hex);
    const [body] = splitDelimited(unhex(pex.hex!));
    expectPacketMsg(body, 0, true, pexRequest);

    const ch20 = entry('length-delimited Packet{packet_msg{channel_id=0x20');
    expect(hex(delimited(packetMsg(0x20, true, unhex('010203'))))).toBe(ch20.hex);
    expectPacketMsg(splitDelimited(unhex(ch20.hex!))[0], 0x20, true, unhex('010203'));
  });

  it('max Packet size for a 1024-byte payload', () => {
    const e = entry('max encoded Packet size');
    expect(packetMsg(0x01, true, new Uint8Array(1024)).length).toBe(e.value);
  });

  it('DefaultNodeInfo full example (length-delimited) and minimal', () => {
    const full = entry('DefaultNodeInfo example');
    const info = nodeInfoFromFields(full.fields);
    expect(hex(delimited(encodeNodeInfo(info)))).toBe(full.hex);
    const [body] = splitDelimited(unhex(full.hex!));
    expect(decodeNodeInfo(body)).toEqual(info);
    // Also through the generated type directly, as a second reader.
    expect(DefaultNodeInfo.decode(view(body)).moniker).toBe('node-a');

    const minimal = entry('DefaultNodeInfo minimal');
    const minInfo = nodeInfoFromFields(minimal.fields);
    expect(hex(encodeNodeInfo(minInfo))).toBe(minimal.hex);
    expect(decodeNodeInfo(unhex(minimal.hex!))).toEqual(minInfo);
  });

  it('node_key.json and node IDs', () => {
    const nk = entry('node_key.json');
    const key = NodeKey.fromJson(nk.text!);
    expect(key.id).toBe(nk.node_id);
    expect(key.toJson()).toBe(nk.text);
    const pair = entry('node id from ed25519 pubkey');
    expect(nodeIdFromPubKey(Buffer.from(pair.pubkey_base64!, 'base64'))).toBe(pair.node_id);
  });
});

describe('go-generated-vectors.json: conversation', () => {
  const conv = go.conversation;

  it('NodeInfo of A and B: field values -> exact length-delimited bytes -> same values', () => {
    for (const [fields, delimitedHex] of [
      [conv.node_info_A, conv.node_info_A_length_delimited_hex],
      [conv.node_info_B, conv.node_info_B_length_delimited_hex],
    ] as const) {
      const info = nodeInfoFromFields(fields);
      expect(hex(delimited(encodeNodeInfo(info)))).toBe(delimitedHex);
      expect(decodeNodeInfo(splitDelimited(unhex(delimitedHex))[0])).toEqual(info);
    }
    expect(conv.stream_A_to_B.segments[2].chunk_hex).toBe(conv.node_info_A_length_delimited_hex);
    expect(conv.stream_B_to_A.segments[2].chunk_hex).toBe(conv.node_info_B_length_delimited_hex);
  });

  it('the ephemeral-key BytesValue and the AuthSigMessage of each side', () => {
    for (const [stream, side] of [[conv.stream_A_to_B, handshake.side_A], [conv.stream_B_to_A, handshake.side_B]] as const) {
      const eph = BytesValue.encode({ value: unhex(side.ephemeral_x25519_public) }).finish();
      expect(hex(delimited(eph))).toBe(stream.segments[0].hex);
      expect(hex(BytesValue.decode(splitDelimited(unhex(stream.segments[0].hex))[0]).value!)).toBe(side.ephemeral_x25519_public);

      const key = NodeKey.fromSeed(unhex(side.ed25519_seed));
      const sig = key.sign(unhex(conv.challenge));
      const auth = AuthSigMessage.encode({ pubKey: { ed25519: key.publicKey }, sig }).finish();
      expect(hex(delimited(auth))).toBe(stream.segments[1].chunk_hex);
      const decoded = AuthSigMessage.decode(view(splitDelimited(unhex(stream.segments[1].chunk_hex))[0]));
      expect((decoded.pubKey as switchyard.crypto.PublicKey).sum).toBe('ed25519');
      expect(hex(decoded.pubKey!.ed25519!)).toBe(side.ed25519_pubkey);
      expect(hex(decoded.sig!)).toBe(side.challenge_signature);
    }
  });

  it('PexRequest packet sent by A', () => {
    const pexRequest = Message.encode({ pexRequest: {} }).finish();
    const packet = hex(delimited(packetMsg(0, true, pexRequest)));
    expect(packet).toBe(conv.pex_request_packet_length_delimited_hex);
    expect(conv.stream_A_to_B.segments[3].chunk_hex).toBe(packet);
    expectPacketMsg(splitDelimited(unhex(conv.stream_A_to_B.segments[3].chunk_hex))[0], 0, true, pexRequest);
  });

  it('PexAddrs with 3 addresses (IPv4 and IPv6) sent by B', () => {
    const addrs: PexAddr[] = conv.pex_addrs_sent_by_B;
    const message = pexAddrs(addrs);
    expect(hex(message)).toBe(conv.pex_addrs_message_hex);
    expect(hex(delimited(packetMsg(0, true, message)))).toBe(conv.pex_addrs_packet_length_delimited_hex);
    const [body] = splitDelimited(unhex(conv.stream_B_to_A.segments[3].chunk_hex));
    const packet = Packet.decode(view(body));
    expect(packet.packetMsg!.eof).toBe(true);
    expect(decodePexAddrs(packet.packetMsg!.data!)).toEqual(addrs);
  });
});

describe('go-generated-vectors.json: packet_split', () => {
  const split = go.packet_split;
  const message = Uint8Array.from({ length: split.message_length }, (_, i) => i % 251);

  it('the message pattern matches the recorded message', () => {
    expect(hex(message)).toBe(split.message_hex);
  });

  it('each PacketMsg is reproduced from its fields and decodes back', () => {
    let offset = 0;
    for (const p of split.packets) {
      const data = message.subarray(offset, offset + p.data_length);
      const bytes = delimited(packetMsg(p.channel_id, p.eof, data));
      expect(hex(bytes)).toBe(p.length_delimited_hex);
      expect(bytes.length).toBe(p.length_delimited_length);
      expectPacketMsg(splitDelimited(bytes)[0], p.channel_id, p.eof, data);
      offset += p.data_length;
    }
    expect(offset).toBe(split.message_length);
    expect(split.packets.map((p: { length_delimited_hex: string }) => p.length_delimited_hex).join('')).toBe(split.raw_stream_hex);
  });

  it('the plaintext chunks recorded inside the SecretConnection frames carry the same packets', () => {
    const chunks = split.secret_connection.stream_A_to_B.segments
      .filter((s: { phase: string }) => s.phase.startsWith('mconn packets'))
      .map((s: { chunk_hex: string }) => s.chunk_hex)
      .join('');
    expect(chunks).toBe(split.raw_stream_hex);
    const reassembled: Uint8Array[] = [];
    for (const body of splitDelimited(unhex(chunks))) {
      const p = Packet.decode(view(body));
      expect(p.packetMsg!.channelId).toBe(split.channel_id);
      reassembled.push(p.packetMsg!.data!);
    }
    expect(hex(Buffer.concat(reassembled))).toBe(split.message_hex);
  });
});
