import { describe, expect, it } from 'vitest';
import { once } from 'node:events';
import { createDuplexPair } from '../../../p2p/conn/duplex-pair.js';

describe('createDuplexPair', () => {
  it('carries bytes both ways', async () => {
    const [a, b] = createDuplexPair();
    const gotB: Buffer[] = [];
    const gotA: Buffer[] = [];
    b.on('data', (c: Buffer) => gotB.push(c));
    a.on('data', (c: Buffer) => gotA.push(c));
    a.write(Buffer.from('hello'));
    b.write(Buffer.from('world'));
    await new Promise((r) => setImmediate(r));
    expect(Buffer.concat(gotB).toString()).toBe('hello');
    expect(Buffer.concat(gotA).toString()).toBe('world');
  });

  it('applies backpressure until the reader drains', async () => {
    const [a, b] = createDuplexPair(1024);
    let writes = 0;
    while (a.write(Buffer.alloc(512))) writes++;
    expect(writes).toBeLessThan(10);
    let received = 0;
    b.on('data', (c: Buffer) => (received += c.length));
    await once(a, 'drain');
    expect(received).toBeGreaterThan(0);
  });

  it('ending one side ends the other, destroying one side closes both', async () => {
    const [a, b] = createDuplexPair();
    b.resume();
    a.end();
    await once(b, 'end');
    const [c, d] = createDuplexPair();
    d.resume();
    c.destroy();
    await once(d, 'close');
    expect(d.destroyed).toBe(true);
  });
});
