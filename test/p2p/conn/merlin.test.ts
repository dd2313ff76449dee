import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { MerlinTranscript, Strobe128 } from '../../../p2p/conn/merlin.js';

const VECTORS = '../shared/vectors/cometbft/';
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

interface MerlinVector { ops: unknown; out: string; source: string }
const vectors = (JSON.parse(readFileSync(VECTORS + 'derived-test-tables.json', 'utf8')) as { merlin: MerlinVector[] }).merlin;

/** Runs a vector whose ops are a list of [init|append|challenge, ...] steps; returns the last challenge. */
function runOps(ops: [string, string, string | number][]): string {
  let t: MerlinTranscript | undefined;
  let last = '';
  for (const [op, a, b] of ops) {
    if (op === 'init') t = new MerlinTranscript(a);
    else if (op === 'append') t!.appendMessage(a, String(b));
    else if (op === 'challenge') last = hex(t!.challengeBytes(a, Number(b)));
    else throw new Error(`unknown op ${op}`);
  }
  return last;
}

describe('MerlinTranscript', () => {
  it('has the three vectors of derived-test-tables.json', () => {
    expect(vectors.length).toBe(3);
  });

  it('reproduces the gtank/dalek simple transcript vector', () => {
    const v = vectors[0];
    expect(runOps(v.ops as [string, string, string][])).toBe(v.out);
    expect(v.out.startsWith('d5a21972')).toBe(true);
  });

  it('reproduces the gtank complex transcript vector (32 rounds, 1024-byte messages cross the rate)', () => {
    const v = vectors[1];
    expect(typeof v.ops).toBe('string');
    const t = new MerlinTranscript('test protocol');
    t.appendMessage('step1', 'some data');
    const big = new Uint8Array(1024).fill(0x63);
    let c: Uint8Array = new Uint8Array(0);
    for (let i = 0; i < 32; i++) {
      c = t.challengeBytes('challenge', 32);
      t.appendMessage('bigdata', big);
      t.appendMessage('challengedata', c);
    }
    expect(hex(c)).toBe(v.out);
  });

  it('reproduces the third-party (NOIR) vector', () => {
    const v = vectors[2];
    expect(runOps(v.ops as [string, string, string][])).toBe(v.out);
  });

  it('changes the challenge when any input changes', () => {
    const base = (): MerlinTranscript => new MerlinTranscript('test protocol');
    const a = base();
    a.appendMessage('some label', 'some data');
    const b = base();
    b.appendMessage('some label', 'some datb');
    const c = base();
    c.appendMessage('some lbel', 'some data');
    const outs = [a, b, c].map((t) => hex(t.challengeBytes('challenge', 32)));
    expect(new Set(outs).size).toBe(3);
  });

  it('gives long challenges that cross the 166-byte rate consistently with short ones', () => {
    const t1 = new MerlinTranscript('x');
    const long = t1.challengeBytes('c', 400);
    expect(long.length).toBe(400);
    const t2 = new MerlinTranscript('x');
    // A PRF of a different length binds the length, so outputs differ from the first byte on.
    expect(hex(t2.challengeBytes('c', 32))).not.toBe(hex(long.subarray(0, 32)));
  });

  it('rejects a STROBE continuation with different flags', () => {
    const s = new Strobe128('p');
    s.metaAd(new Uint8Array([1]), false);
    expect(() => s.ad(new Uint8Array([1]), true)).toThrow(/continuation/);
  });
});

describe('MerlinTranscript.clone', () => {
  it('continues exactly like the original and independently of it', () => {
    const base = new MerlinTranscript('test protocol');
    const copy = base.clone();
    base.appendMessage('some label', 'some data');
    copy.appendMessage('some label', 'some data');
    expect(hex(copy.challengeBytes('challenge', 32))).toBe(vectors[0].out);
    // base was not affected by copy's challenge
    expect(hex(base.challengeBytes('challenge', 32))).toBe(vectors[0].out);
  });
});
