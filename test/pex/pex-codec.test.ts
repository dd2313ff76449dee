import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { NetAddress } from '../../p2p/net-address.js';
import {
  decodePexMessage,
  encodePexAddrs,
  encodePexRequest,
  validatePexAddrs,
} from '../../pex/pex-codec.js';
import { ErrPexInvalidAddress, ErrPexMalformedMessage, ErrPexTooManyAddrs, ErrPexUnknownMessage } from '../../pex/errors.js';
import { MAX_PEX_MESSAGE_BYTES } from '../../pex/params.js';

const VECTORS = '../shared/vectors/cometbft';
const wire = JSON.parse(readFileSync(`${VECTORS}/derived-wire-vectors.json`, 'utf8')) as {
  entries: { name: string; hex?: string }[];
};
const go = JSON.parse(readFileSync(`${VECTORS}/go-generated-vectors.json`, 'utf8')) as {
  conversation: {
    pex_addrs_sent_by_B: { id: string; ip: string; port: number }[];
    pex_addrs_message_hex: string;
  };
};
const vector = (prefix: string): string => {
  const e = wire.entries.find((x) => x.name.startsWith(prefix));
  if (!e?.hex) throw new Error(`vector ${prefix} missing`);
  return e.hex;
};
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const unhex = (h: string): Uint8Array => new Uint8Array(Buffer.from(h, 'hex'));
const ID = (c: string): string => c.repeat(40);

describe('PEX codec against CometBFT bytes', () => {
  it('a PexRequest is 0a00 both ways', () => {
    expect(hex(encodePexRequest())).toBe(vector('pex Message{pex_request{}}'));
    expect(decodePexMessage(unhex(vector('pex Message{pex_request{}}')))).toEqual({ kind: 'request' });
  });

  it('the one-address PexAddrs of TestPexVectors encodes and decodes byte for byte', () => {
    const h = vector("pex Message{pex_addrs{addrs=[{id='1'");
    const enc = encodePexAddrs([new NetAddress('1', '127.0.0.1', 9090)]);
    expect(hex(enc.bytes)).toBe(h);
    expect(enc.count).toBe(1);
    expect(decodePexMessage(unhex(h))).toEqual({ kind: 'addrs', addrs: [{ id: '1', ip: '127.0.0.1', port: 9090 }] });
  });

  it('an empty PexAddrs is 1200', () => {
    expect(hex(encodePexAddrs([]).bytes)).toBe(vector('pex Message{pex_addrs{}}'));
    expect(decodePexMessage(unhex('1200'))).toEqual({ kind: 'addrs', addrs: [] });
  });

  it('the PexAddrs a real v0.38.25 node sent in the recorded conversation (IPv4 + IPv6)', () => {
    const conv = go.conversation;
    const msg = decodePexMessage(unhex(conv.pex_addrs_message_hex));
    expect(msg).toEqual({ kind: 'addrs', addrs: conv.pex_addrs_sent_by_B });
    if (msg.kind !== 'addrs') throw new Error('unreachable');
    const { accepted, dropped } = validatePexAddrs(msg.addrs, { strict: true });
    expect(dropped).toEqual([]);
    expect(accepted.map((a) => a.toString())).toEqual(conv.pex_addrs_sent_by_B.map((a) => new NetAddress(a.id, a.ip, a.port).toString()));
    // Re-encoding what we accepted gives the Go bytes again.
    expect(hex(encodePexAddrs(accepted).bytes)).toBe(conv.pex_addrs_message_hex);
  });
});

describe('PEX decode errors', () => {
  it('garbage is ErrPexMalformedMessage naming the peer', () => {
    const err = (() => {
      try {
        decodePexMessage(unhex('12ff'), 'peer1');
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(ErrPexMalformedMessage);
    expect((err as ErrPexMalformedMessage).peerId).toBe('peer1');
  });

  it('a Message with no known oneof member is ErrPexUnknownMessage', () => {
    expect(() => decodePexMessage(new Uint8Array(0))).toThrow(ErrPexUnknownMessage);
    // field 3 (unknown to CometBFT too), length 0
    expect(() => decodePexMessage(unhex('1a00'))).toThrow(ErrPexUnknownMessage);
  });
});

describe('PEX address validation', () => {
  const ok = { id: ID('a'), ip: '203.0.113.7', port: 26656 };
  const invalid: [string, { id: string; ip: string; port: number }][] = [
    ['IP not a literal', { ...ok, ip: 'example.com' }],
    ['empty IP', { ...ok, ip: '' }],
    ['port over 65535', { ...ok, port: 65536 }],
    ['huge port', { ...ok, port: 4294967295 }],
    ['short ID', { ...ok, id: 'abcd' }],
    ['non-hex ID', { ...ok, id: 'z'.repeat(40) }],
    ['empty ID', { ...ok, id: '' }],
    ['unspecified IPv4', { ...ok, ip: '0.0.0.0' }],
    ['unspecified IPv6', { ...ok, ip: '::' }],
    ['IPv4 broadcast', { ...ok, ip: '255.255.255.255' }],
  ];
  for (const [name, entry] of invalid) {
    it(`rejects the whole message for ${name}, naming the index`, () => {
      let caught: unknown;
      try {
        validatePexAddrs([ok, ok, entry], { strict: false });
      } catch (e) {
        caught = e;
      }
      expect(caught).toBeInstanceOf(ErrPexInvalidAddress);
      expect((caught as ErrPexInvalidAddress).index).toBe(2);
    });
  }

  it('drops unroutable addresses only in strict mode, and never bans for them', () => {
    const priv = { id: ID('b'), ip: '10.1.2.3', port: 26656 };
    const loop = { id: ID('c'), ip: '127.0.0.1', port: 26656 };
    const strict = validatePexAddrs([ok, priv, loop], { strict: true });
    expect(strict.accepted.map((a) => a.ip)).toEqual(['203.0.113.7']);
    expect(strict.dropped.map((d) => d.address.ip)).toEqual(['10.1.2.3', '127.0.0.1']);
    const loose = validatePexAddrs([ok, priv, loop], { strict: false });
    expect(loose.accepted).toHaveLength(3);
  });

  it('drops port 0 (cannot be dialed) without rejecting the message', () => {
    const r = validatePexAddrs([{ ...ok, port: 0 }], { strict: false });
    expect(r.accepted).toEqual([]);
    expect(r.dropped).toHaveLength(1);
  });

  it('more than 250 entries is ErrPexTooManyAddrs', () => {
    expect(() => validatePexAddrs(Array(251).fill(ok), { strict: false })).toThrow(ErrPexTooManyAddrs);
    expect(validatePexAddrs(Array(250).fill(ok), { strict: false }).accepted).toHaveLength(250);
  });
});

describe('PexAddrs size caps', () => {
  const many = (n: number): NetAddress[] =>
    Array.from({ length: n }, (_, i) => new NetAddress(ID('d'), `2001:4860:${(i >> 8).toString(16)}:${(i & 255).toString(16)}::abcd:ef01`, 65535));

  it('never more than 250 addresses', () => {
    const enc = encodePexAddrs(many(300));
    expect(enc.count).toBe(250);
    expect(enc.bytes.length).toBeLessThanOrEqual(MAX_PEX_MESSAGE_BYTES);
    const back = decodePexMessage(enc.bytes);
    expect(back.kind === 'addrs' && back.addrs.length).toBe(250);
  });

  it('never more bytes than the limit; keeps a prefix of the input', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 120 }), fc.integer({ min: 2, max: 6000 }), (n, maxBytes) => {
        const addrs = many(n);
        const enc = encodePexAddrs(addrs, maxBytes);
        expect(enc.bytes.length).toBeLessThanOrEqual(maxBytes);
        const back = decodePexMessage(enc.bytes);
        if (back.kind !== 'addrs') throw new Error('wrong kind');
        expect(back.addrs.map((a) => a.ip)).toEqual(addrs.slice(0, enc.count).map((a) => a.ip));
        // Maximal: one more address would not have fit.
        if (enc.count < n) expect(encodePexAddrs(addrs.slice(0, enc.count + 1), 1e9).bytes.length).toBeGreaterThan(maxBytes);
      }),
      { numRuns: 200 },
    );
  });
});

describe('PEX codec edge cases', () => {
  it('leaves proto3 defaults out like gogoproto (no empty id, no port 0)', () => {
    // Message{pex_addrs{addrs=[{ip='1.2.3.4'}]}}: 12 08 0a 06 12 04 "1.2.3.4"? -> ip is 7 chars
    const enc = encodePexAddrs([new NetAddress('', '1.2.3.4', 0)]);
    expect(hex(enc.bytes)).toBe('120b0a091207312e322e332e34');
  });

  it('a string running past the end of a Buffer is malformed, not silently truncated', () => {
    // PexAddrs with one NetAddress whose ip claims 9 bytes but the frame ends early.
    const bytes = Buffer.from('12070a05120931323337', 'hex');
    expect(() => decodePexMessage(bytes)).toThrow(ErrPexMalformedMessage);
  });
});
