import { describe, expect, it } from 'vitest';
import type { Duplex } from 'node:stream';
import { createDuplexPair } from '../../../p2p/conn/duplex-pair.js';
import { OpenStreams } from '../../../p2p/transport/open-streams.js';

/** Resolves on 'close' (events.once would reject on the 'error' that may come first). */
const closed = (s: Duplex): Promise<void> => new Promise((resolve) => s.once('close', () => resolve()));

describe('OpenStreams', () => {
  it('counts live streams, stops counting a destroyed one at once and forgets it on close', async () => {
    const open = new OpenStreams();
    const [a, b] = createDuplexPair();
    open.add(a);
    open.add(b);
    expect(open.count()).toBe(2);
    expect(open.list()).toEqual([a, b]);
    const bothClosed = Promise.all([closed(a), closed(b)]);
    a.destroy();
    expect(open.count()).toBe(1); // a counts as gone at once; b is closed on the next tick
    expect(open.list()).toEqual([a, b]); // a stays listed until its 'close'
    await bothClosed;
    expect(open.count()).toBe(0);
    expect(open.list()).toEqual([]);
  });

  it('keeps an unobserved stream error from becoming an uncaught exception', async () => {
    const open = new OpenStreams();
    const [a] = createDuplexPair();
    open.add(a);
    const done = closed(a);
    a.destroy(new Error('boom'));
    await done;
    expect((a.errored as Error | null)?.message).toBe('boom');
    expect(open.list()).toEqual([]);
  });

  it('list() is a copy: destroying while iterating visits every stream', async () => {
    const open = new OpenStreams();
    const ends = [createDuplexPair()[0], createDuplexPair()[0], createDuplexPair()[0]];
    for (const s of ends) open.add(s);
    const allClosed = Promise.all(ends.map(closed));
    for (const s of open.list()) s.destroy();
    await allClosed;
    expect(ends.every((s) => s.destroyed)).toBe(true);
    expect(open.list()).toEqual([]);
  });
});
