/** Uvarint-length-delimited reads that never take bytes beyond their message. */
import { describe, expect, it } from 'vitest';
import { createDuplexPair } from '../../../p2p/conn/duplex-pair.js';
import {
  encodeDelimited,
  encodeUvarint,
  ErrDelimitedMessageTooLarge,
  ErrDelimitedMessageTruncated,
  ErrDelimitedVarintMalformed,
  readDelimited,
  writeDelimited,
} from '../../../p2p/conn/delimited.js';
import { readBytes } from './secret-connection-helpers.js';

describe('encodeUvarint', () => {
  it('matches protobuf varints', () => {
    expect(encodeUvarint(0).toString('hex')).toBe('00');
    expect(encodeUvarint(127).toString('hex')).toBe('7f');
    expect(encodeUvarint(128).toString('hex')).toBe('8001');
    expect(encodeUvarint(300).toString('hex')).toBe('ac02');
    expect(encodeUvarint(1034).toString('hex')).toBe('8a08');
    expect(encodeUvarint(2 ** 32).toString('hex')).toBe('8080808010');
    expect(() => encodeUvarint(-1)).toThrow(RangeError);
  });

  it('encodeDelimited prefixes the length (the 35-byte ephemeral key message shape)', () => {
    expect(encodeDelimited(new Uint8Array(34)).subarray(0, 1).toString('hex')).toBe('22');
    expect(encodeDelimited(new Uint8Array(34)).length).toBe(35);
  });
});

describe('readDelimited', () => {
  it('reads consecutive messages from one chunk and leaves the rest in the stream', async () => {
    const [a, b] = createDuplexPair();
    const big = Buffer.alloc(300, 7);
    a.write(Buffer.concat([encodeDelimited(Buffer.from('first')), encodeDelimited(big), encodeDelimited(new Uint8Array(0)), Buffer.from('rest of the stream')]));
    expect((await readDelimited(b, { maxBytes: 1000 })).toString()).toBe('first');
    expect((await readDelimited(b, { maxBytes: 1000 })).equals(big)).toBe(true);
    expect((await readDelimited(b, { maxBytes: 1000 })).length).toBe(0);
    expect((await readBytes(b, 18)).toString()).toBe('rest of the stream');
  });

  it('works when the bytes arrive one at a time', async () => {
    const [a, b] = createDuplexPair();
    const msg = encodeDelimited(Buffer.alloc(200, 3));
    const reading = readDelimited(b, { maxBytes: 1000 });
    for (const byte of msg) {
      a.write(Buffer.from([byte]));
      await new Promise((r) => setImmediate(r));
    }
    expect((await reading).equals(Buffer.alloc(200, 3))).toBe(true);
  });

  it('writeDelimited and readDelimited round-trip', async () => {
    const [a, b] = createDuplexPair();
    await writeDelimited(a, Buffer.from('node info'));
    expect((await readDelimited(b, { maxBytes: 10240, what: 'NodeInfo' })).toString()).toBe('node info');
  });

  it('fails with typed errors naming the message', async () => {
    const [a1, b1] = createDuplexPair();
    a1.write(encodeUvarint(10241));
    await expect(readDelimited(b1, { maxBytes: 10240, what: 'NodeInfo' })).rejects.toMatchObject({ name: 'ErrDelimitedMessageTooLarge', what: 'NodeInfo', size: 10241, limit: 10240 });

    const [a2, b2] = createDuplexPair();
    a2.end(Buffer.from([0x05, 1, 2]));
    const t = readDelimited(b2, { maxBytes: 100 });
    await expect(t).rejects.toBeInstanceOf(ErrDelimitedMessageTruncated);
    await expect(t).rejects.toMatchObject({ part: 'body', receivedBytes: 2, expectedBytes: 5 });

    const [a3, b3] = createDuplexPair();
    a3.end(Buffer.from([0x80, 0x80]));
    await expect(readDelimited(b3, { maxBytes: 100 })).rejects.toMatchObject({ part: 'length', receivedBytes: 2 });

    const [a4, b4] = createDuplexPair();
    a4.write(Buffer.from(Array(11).fill(0x80)));
    await expect(readDelimited(b4, { maxBytes: Number.MAX_SAFE_INTEGER })).rejects.toBeInstanceOf(ErrDelimitedVarintMalformed);

    const [, b5] = createDuplexPair();
    const failing = readDelimited(b5, { maxBytes: 100 });
    b5.destroy(new Error('socket died'));
    await expect(failing).rejects.toThrow('socket died');
  });

  it('rejects a too-large length before reading any body byte', async () => {
    const [a, b] = createDuplexPair();
    a.write(Buffer.concat([encodeUvarint(5000), Buffer.from('body bytes')]));
    await expect(readDelimited(b, { maxBytes: 4999 })).rejects.toBeInstanceOf(ErrDelimitedMessageTooLarge);
    expect((await readBytes(b, 10)).toString()).toBe('body bytes');
  });

  it('an abort rejects with the reason and removes every listener', async () => {
    const [, b] = createDuplexPair();
    const before = ['readable', 'end', 'error', 'close'].map((e) => b.listenerCount(e));
    const ac = new AbortController();
    const reading = readDelimited(b, { maxBytes: 100, signal: ac.signal });
    await new Promise((r) => setImmediate(r));
    ac.abort(new Error('deadline'));
    await expect(reading).rejects.toThrow('deadline');
    expect(['readable', 'end', 'error', 'close'].map((e) => b.listenerCount(e))).toEqual(before);
  });
});
