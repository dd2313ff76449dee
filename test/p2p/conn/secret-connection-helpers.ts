/** Shared fixtures for the SecretConnection tests: vector files, identities, stream helpers. */
import { createPrivateKey, sign as nodeSign } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Duplex } from 'node:stream';
import { once } from 'node:events';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { ed25519 } from '@noble/curves/ed25519.js';
import type { LocalIdentity } from '../../../p2p/conn/secret-connection.js';
import { readDelimited, encodeDelimited } from '../../../p2p/conn/delimited.js';
import { createFrameAead, FRAME_PLAINTEXT_BYTES as PLAIN, FRAME_SEALED_BYTES as SEALED } from '../../../p2p/conn/frame-aead.js';
import { computeChallenge, deriveSecrets, generateEphemeralKeyPair, sortEphemeralKeys, x25519SharedSecret } from '../../../p2p/conn/handshake-crypto.js';
import { switchyard } from '../../../p2p/proto/gen/wire.js';

export const VECTORS_DIR = '../shared/vectors/cometbft/';

export const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
export const unhex = (s: string): Buffer => Buffer.from(s, 'hex');

export function readVectorJson<T>(name: string): T {
  return JSON.parse(readFileSync(VECTORS_DIR + name, 'utf8')) as T;
}

export interface HandshakeSide {
  ed25519_seed: string;
  ed25519_pubkey: string;
  ed25519_privkey_64: string;
  node_id: string;
  ephemeral_x25519_private: string;
  ephemeral_x25519_public: string;
  wire_ephemeral_key_msg_length_delimited: string;
  sorted_lo: string;
  sorted_hi: string;
  loc_is_least: boolean;
  dh_secret: string;
  hkdf_output_96: string;
  recv_key: string;
  send_key: string;
  challenge: string;
  challenge_signature: string;
  auth_sig_message_length_delimited: string;
  first_frame_plaintext_1028_zero_padded: string;
  first_frame_sealed_1044_nonce0: string;
}

/** One piece of a Go-recorded byte stream (go-generated-vectors.json): a handshake message or a frame. */
export interface RecordedSegment {
  phase: string;
  offset: number;
  length: number;
  hex: string;
  nonce?: number;
  plaintext_frame_hex?: string;
  chunk_length?: number;
  chunk_hex?: string;
  padding_has_nonzero_stale_bytes?: boolean;
}

/** All the bytes one side sent in a Go-recorded conversation, cut into segments. */
export interface RecordedStream {
  hex: string;
  segments: RecordedSegment[];
  total_length: number;
}

/** One side's keys in a Go-recorded conversation. */
export interface RecordedKeys {
  ed25519_seed: string;
  ed25519_pubkey: string;
  ephemeral_x25519_private: string;
  ephemeral_x25519_public: string;
  node_id: string;
  send_key: string;
  recv_key: string;
}

export function handshakeVector(): { side_A: HandshakeSide; side_B: HandshakeSide } {
  return readVectorJson('derived-secret-connection-handshake.json');
}

const ED25519_PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');

/** An Ed25519 identity from a 32-byte seed, signing with node:crypto (fast enough for benchmarks). */
export function identityFromSeed(seed: Uint8Array): LocalIdentity {
  const key = createPrivateKey({ key: Buffer.concat([ED25519_PKCS8_PREFIX, seed]), format: 'der', type: 'pkcs8' });
  return {
    publicKey: ed25519.getPublicKey(seed),
    sign: (message) => nodeSign(null, message, key),
  };
}

/** Collects everything written into `stream` (its readable side). */
export function collect(stream: Duplex): { bytes: () => Buffer; chunks: Buffer[] } {
  const chunks: Buffer[] = [];
  stream.on('data', (c: Buffer) => chunks.push(c));
  return { bytes: () => Buffer.concat(chunks), chunks };
}

/** Resolves once `predicate` holds, polling on real event-loop turns (bounded). */
export async function waitFor(predicate: () => boolean, turns = 2000, maxMs = 10_000): Promise<void> {
  // `turns` quick event-loop turns first; then, since several callers wait on real TCP, keep
  // polling (every millisecond) up to a real-time deadline: a turn count alone is a deadline that
  // shrinks with CPU speed and load.
  const deadline = Date.now() + maxMs;
  for (let i = 0; ; i++) {
    if (predicate()) return;
    if (i >= turns && Date.now() > deadline) break;
    await new Promise((r) => (i < turns ? setImmediate(r) : setTimeout(r, 1)));
  }
  throw new Error('condition not reached');
}

/** Reads exactly `n` bytes from a readable in flowing mode. */
export function readBytes(stream: Duplex, n: number): Promise<Buffer> {
  if (n === 0) return Promise.resolve(Buffer.alloc(0));
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    let got = 0;
    const onData = (c: Buffer): void => {
      parts.push(c);
      got += c.length;
      if (got >= n) {
        stream.off('data', onData);
        stream.off('error', reject);
        stream.pause();
        const all = Buffer.concat(parts);
        if (all.length > n) stream.unshift(all.subarray(n));
        resolve(all.subarray(0, n));
      }
    };
    stream.on('data', onData);
    stream.once('error', reject);
    stream.resume();
  });
}

// ---- a scripted (possibly malicious) peer speaking the handshake by hand ----


export interface ScriptedPeer {
  raw: Duplex;
  challenge: Uint8Array;
  /** Seals a 1028-byte plaintext frame (length field as given, data, zero padding) with the next send nonce. */
  sealFrame(data: Uint8Array, lengthField?: number): Buffer;
  recvKey: Uint8Array;
  sendKey: Uint8Array;
}

/** Does the clear-text key exchange on `raw` and derives the session keys, like an honest peer. */
export async function scriptedKeyExchange(raw: Duplex, nonceStart = 0n): Promise<ScriptedPeer> {
  const eph = generateEphemeralKeyPair();
  raw.write(encodeDelimited(switchyard.p2p.BytesValue.encode({ value: eph.publicKey }).finish()));
  const body = await readDelimited(raw, { maxBytes: 1 << 20 });
  const theirs = switchyard.p2p.BytesValue.decode(new Uint8Array(body)).value!;
  const dh = x25519SharedSecret(eph.privateKey, theirs)!;
  const { lo, hi, localIsLeast } = sortEphemeralKeys(eph.publicKey, theirs);
  const { sendKey, recvKey } = deriveSecrets(dh, localIsLeast);
  const aead = createFrameAead(sendKey, 'node:crypto');
  let counter = nonceStart;
  return {
    raw,
    challenge: computeChallenge(lo, hi, dh),
    sendKey,
    recvKey,
    sealFrame(data, lengthField = data.length) {
      const frame = Buffer.alloc(SEALED);
      frame.writeUInt32LE(lengthField, 0);
      frame.set(data.subarray(0, PLAIN - 4), 4);
      const nonce = Buffer.alloc(12);
      nonce.writeBigUInt64LE(counter, 4);
      counter++;
      aead.sealFrame(frame, 0, nonce);
      return frame;
    },
  };
}

/** The delimited AuthSigMessage bytes for a public key message and a signature. */
export function authSigBytes(pubKey: switchyard.crypto.IPublicKey | null, sig: Uint8Array): Buffer {
  return encodeDelimited(switchyard.p2p.AuthSigMessage.encode({ pubKey, sig }).finish());
}

export { SEALED as FRAME_SEALED };

/**
 * Two connected raw TCP sockets on 127.0.0.1 (dialer, accepted). The listening server is pushed
 * onto `servers` so the caller's afterEach can close it.
 */
export async function rawTcpPair(servers: Server[]): Promise<[Socket, Socket]> {
  const server = createServer();
  servers.push(server);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  const accepted = once(server, 'connection') as Promise<[Socket]>;
  const dialer = connect(port, '127.0.0.1');
  await once(dialer, 'connect');
  const [listener] = await accepted;
  return [dialer, listener];
}
