import { describe, expect, it } from 'vitest';
import { PeerSet, type PeerSetMember } from '../../p2p/peer-set.js';
import { ErrPeerRemovalFailed, ErrPeerSetDuplicate } from '../../p2p/switch-errors.js';

const fakePeer = (n: number, ip = `10.0.0.${n}`): PeerSetMember => ({
  id: n.toString(16).padStart(40, '0'),
  remoteIP: () => ip,
  removalFailed: false,
});

describe('PeerSet', () => {
  it('adds and removes one peer', () => {
    const set = new PeerSet();
    const p = fakePeer(1);
    expect(set.has(p.id)).toBe(false);
    expect(set.get(p.id)).toBeUndefined();
    set.add(p);
    expect(set.size).toBe(1);
    expect(set.has(p.id)).toBe(true);
    expect(set.get(p.id)).toBe(p);
    expect(set.remove(p)).toBe(true);
    expect(set.size).toBe(0);
    expect(set.has(p.id)).toBe(false);
    // Removing twice fails and flags the object.
    expect(set.remove(p)).toBe(false);
    expect(p.removalFailed).toBe(true);
  });

  it('adds and removes many from the front and the back, staying consistent', () => {
    const set = new PeerSet();
    const peers = Array.from({ length: 100 }, (_, i) => fakePeer(i + 1));
    for (const p of peers) set.add(p);
    expect(set.size).toBe(100);
    for (let i = 0; i < 50; i++) {
      expect(set.remove(peers[i])).toBe(true);
      expect(set.remove(peers[99 - i])).toBe(true);
      expect(set.size).toBe(100 - 2 * (i + 1));
      for (let j = i + 1; j < 99 - i; j++) expect(set.has(peers[j].id)).toBe(true);
    }
    expect(set.list()).toEqual([]);
  });

  it('refuses a duplicate ID, also from a different object', () => {
    const set = new PeerSet();
    set.add(fakePeer(1));
    expect(() => set.add(fakePeer(1))).toThrow(ErrPeerSetDuplicate);
    expect(set.size).toBe(1);
  });

  it('refuses a peer whose removal failed, and remove() of a different object with the same ID fails', () => {
    const set = new PeerSet();
    const early = fakePeer(1);
    expect(set.remove(early)).toBe(false);
    expect(() => set.add(early)).toThrow(ErrPeerRemovalFailed);
    const real = fakePeer(2);
    set.add(real);
    const impostor = { ...fakePeer(2) };
    expect(set.remove(impostor)).toBe(false);
    expect(set.has(real.id)).toBe(true);
  });

  it('hasIP looks at remote IPs', () => {
    const set = new PeerSet();
    set.add(fakePeer(1, '192.0.2.1'));
    expect(set.hasIP('192.0.2.1')).toBe(true);
    expect(set.hasIP('192.0.2.2')).toBe(false);
  });

  it('list() is a snapshot that later changes do not touch', () => {
    const set = new PeerSet();
    const a = fakePeer(1);
    const b = fakePeer(2);
    set.add(a);
    const before = set.list();
    expect(set.list()).toBe(before); // cached while unchanged
    set.add(b);
    set.remove(a);
    expect(before).toEqual([a]);
    expect(set.list()).toEqual([b]);
    expect(Object.isFrozen(before)).toBe(true);
  });
});

describe('PeerSet against a model (property)', () => {
  it('agrees with a Map under random add/remove/hasIP sequences', async () => {
    const fc = await import('fast-check');
    fc.assert(
      fc.property(
        fc.array(fc.record({ op: fc.constantFrom('add', 'remove', 'addStale'), n: fc.integer({ min: 1, max: 12 }) }), { maxLength: 200 }),
        (ops) => {
          const set = new PeerSet();
          const model = new Map<string, PeerSetMember>();
          for (const { op, n } of ops) {
            const id = n.toString(16).padStart(40, '0');
            if (op === 'add') {
              const p = fakePeer(n, `10.0.${n % 3}.1`);
              if (model.has(id)) expect(() => set.add(p)).toThrow(ErrPeerSetDuplicate);
              else {
                set.add(p);
                model.set(id, p);
              }
            } else if (op === 'remove') {
              const p = model.get(id);
              if (p) {
                expect(set.remove(p)).toBe(true);
                model.delete(id);
              } else expect(set.remove(fakePeer(n))).toBe(false);
            } else {
              // A stale object with a live ID never removes the live one.
              const stale = fakePeer(n);
              expect(set.remove(stale)).toBe(false);
              expect(set.has(id)).toBe(model.has(id));
            }
            expect(set.size).toBe(model.size);
            expect(set.list().map((p) => p.id)).toEqual([...model.keys()]);
            for (const ip of ['10.0.0.1', '10.0.1.1', '10.0.2.1']) {
              expect(set.hasIP(ip)).toBe([...model.values()].some((p) => p.remoteIP() === ip));
            }
          }
        },
      ),
      { numRuns: 200 },
    );
  });
});
