/**
 * The PEX wire format: `Message` oneof { PexRequest = 1, PexAddrs = 2 } on channel 0x00, through
 * the generated protobuf code. Bytes match CometBFT (`0a00` is a PexRequest). Decoding separates
 * "not protobuf" from "a bad address inside"; validation decides which addresses are acceptable.
 */
import { NetAddress } from '../p2p/net-address.js';
import { switchyard } from '../p2p/proto/gen/wire.js';
import { ErrPexInvalidAddress, ErrPexMalformedMessage, ErrPexTooManyAddrs, ErrPexUnknownMessage } from './errors.js';
import { MAX_ADDRS_PER_MESSAGE, MAX_PEX_MESSAGE_BYTES } from './params.js';

/** An address entry as it came off the wire, not yet judged. */
export interface WireAddress {
  readonly id: string;
  readonly ip: string;
  readonly port: number;
}

export type PexMessage = { kind: 'request' } | { kind: 'addrs'; addrs: WireAddress[] };

const PEX_REQUEST_BYTES = Uint8Array.from(switchyard.p2p.Message.encode({ pexRequest: {} }).finish());

/** A wrapped PexRequest: always the two bytes `0a 00`. A fresh copy each call. */
export function encodePexRequest(): Uint8Array {
  return PEX_REQUEST_BYTES.slice();
}

/** Decodes one PEX channel message. Throws ErrPexMalformedMessage or ErrPexUnknownMessage. */
export function decodePexMessage(bytes: Uint8Array, peerId = ''): PexMessage {
  let msg: switchyard.p2p.Message;
  try {
    // A plain view, not a Buffer: protobufjs's Buffer reader silently truncates overlong strings.
    msg = switchyard.p2p.Message.decode(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  } catch (err) {
    throw new ErrPexMalformedMessage(peerId, err instanceof Error ? err.message : String(err));
  }
  if (msg.sum === 'pexRequest') return { kind: 'request' };
  if (msg.sum === 'pexAddrs') {
    const addrs = (msg.pexAddrs?.addrs ?? []).map((a) => ({ id: a.id ?? '', ip: a.ip ?? '', port: a.port ?? 0 }));
    return { kind: 'addrs', addrs };
  }
  throw new ErrPexUnknownMessage(peerId);
}

export interface EncodedAddrs {
  readonly bytes: Uint8Array;
  /** How many of the given addresses fit (the first `count`). */
  readonly count: number;
}

/** Size of a protobuf varint. */
function varintSize(n: number): number {
  let size = 1;
  while (n >= 0x80) {
    n = Math.floor(n / 128);
    size++;
  }
  return size;
}

/**
 * A wrapped PexAddrs with as many of `addrs` (in order) as fit in 250 entries and
 * MAX_PEX_MESSAGE_BYTES (64 000) bytes: the receiver's channel refuses anything larger.
 */
export function encodePexAddrs(addrs: readonly NetAddress[], maxBytes = MAX_PEX_MESSAGE_BYTES): EncodedAddrs {
  const protos: switchyard.p2p.INetAddress[] = [];
  let innerLen = 0;
  for (const addr of addrs) {
    if (protos.length >= MAX_ADDRS_PER_MESSAGE) break;
    const proto = wireProto(addr);
    const entryLen = switchyard.p2p.NetAddress.encode(proto).len;
    const nextInner = innerLen + 1 + varintSize(entryLen) + entryLen;
    if (1 + varintSize(nextInner) + nextInner > maxBytes) break;
    innerLen = nextInner;
    protos.push(proto);
  }
  const bytes = switchyard.p2p.Message.encode({ pexAddrs: { addrs: protos } }).finish();
  return { bytes, count: protos.length };
}

/**
 * The proto form with proto3 defaults left out: protobufjs writes fields that are set even when
 * they hold the default, and CometBFT (gogoproto) never does.
 */
function wireProto(addr: NetAddress): switchyard.p2p.INetAddress {
  const p: switchyard.p2p.INetAddress = {};
  if (addr.id !== '') p.id = addr.id;
  if (addr.ip !== '') p.ip = addr.ip;
  if (addr.port !== 0) p.port = addr.port;
  return p;
}

export interface ValidatedAddrs {
  /** Addresses fit for the book. */
  readonly accepted: NetAddress[];
  /** Well-formed addresses we do not store (unroutable in strict mode, port 0), with why. */
  readonly dropped: { address: NetAddress; reason: string }[];
}

/**
 * Judges every entry of a PexAddrs. A malformed entry (bad ID, IP that is not a literal, port over
 * 65 535, unspecified/reserved IP that `valid()` refuses) or more than 250 entries rejects the
 * whole message: an honest CometBFT never sends those, so the sender is banned. Well-formed but
 * unusable entries (unroutable in strict mode, port 0) are only dropped: CometBFT nodes running
 * with `addr_book_strict = false` legitimately gossip private addresses, and banning them would
 * ban honest peers.
 */
export function validatePexAddrs(addrs: readonly WireAddress[], options: { strict: boolean }): ValidatedAddrs {
  if (addrs.length > MAX_ADDRS_PER_MESSAGE) throw new ErrPexTooManyAddrs(addrs.length, MAX_ADDRS_PER_MESSAGE);
  const accepted: NetAddress[] = [];
  const dropped: { address: NetAddress; reason: string }[] = [];
  addrs.forEach((wire, index) => {
    let address: NetAddress;
    try {
      address = NetAddress.fromProto(wire);
    } catch (err) {
      throw new ErrPexInvalidAddress(index, describe(wire), err instanceof Error ? err.message : String(err));
    }
    const problem = address.validProblem();
    if (problem !== undefined) throw new ErrPexInvalidAddress(index, describe(wire), problem);
    if (address.port === 0) dropped.push({ address, reason: 'port 0 cannot be dialed' });
    else if (options.strict && !address.routable()) dropped.push({ address, reason: 'not routable (strict mode)' });
    else accepted.push(address);
  });
  return { accepted, dropped };
}

function describe(wire: WireAddress): string {
  const ip = wire.ip.length > 64 ? `${wire.ip.slice(0, 64)}…` : wire.ip;
  const id = wire.id.length > 64 ? `${wire.id.slice(0, 64)}…` : wire.id;
  return `${id}@${ip}:${wire.port}`;
}
