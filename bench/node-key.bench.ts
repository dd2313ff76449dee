/**
 * node_key_sign_us (lower is better): one Ed25519 signature of a 32-byte handshake challenge by
 * NodeKey with its default backend (libsodium where sodium-native loads). Baseline: the same
 * key signing through node:crypto (the fallback backend), measured in the same run.
 * Median of 7 rounds of 5 000 signatures each, after a warm-up.
 */
import { NodeKey, type NodeKeyBackend } from '../p2p/node-key.js';
import { median, report } from './harness.js';

const SIGNATURES_PER_ROUND = 5_000;
const ROUNDS = 7;

function perSignatureUs(backend: NodeKeyBackend | undefined, seed: Uint8Array, challenge: Uint8Array): number {
  const key = NodeKey.fromSeed(seed, backend);
  for (let i = 0; i < 1_000; i++) key.sign(challenge);
  const rounds: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < SIGNATURES_PER_ROUND; i++) key.sign(challenge);
    rounds.push(Number(process.hrtime.bigint() - t0) / 1000 / SIGNATURES_PER_ROUND);
  }
  return median(rounds);
}

export async function run(): Promise<void> {
  const seed = new Uint8Array(32).map((_, i) => i + 1);
  const challenge = new Uint8Array(32).map((_, i) => 255 - i);
  const baseline = perSignatureUs('node-crypto', seed, challenge);
  const value = perSignatureUs(undefined, seed, challenge);
  report('node_key_sign_us', value, 'us', baseline);
}
