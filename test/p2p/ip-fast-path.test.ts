/**
 * The IPv4 fast paths (allocation-free dotted-quad parser, 32-bit value predicates, NetAddress
 * holding IPv4 without a byte array) must agree exactly with the general 16-byte code they skip.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  formatIp,
  invalidIpProblem,
  invalidIpv4ValueProblem,
  ipv4MappedOf,
  ipv4ValueOf,
  isBroadcast4,
  isLocalIp,
  isLocalIpv4Value,
  isRfc1918,
  isRfc3849,
  isRfc3927,
  isRfc4193,
  isRfc4843,
  isRfc4862,
  isRoutableIp,
  isRoutableIpv4Value,
  isUnspecified,
  parseIp,
  parseIpv4Value,
} from '../../p2p/ip-ranges.js';
import { ErrNetAddressBadField, ErrNetAddressFromProto, NetAddress } from '../../p2p/net-address.js';

const ID = '0123456789abcdef0123456789abcdef01234567';

/** The obvious strict dotted-quad parser (split + regex), as the reference. */
function referenceV4(text: string): number {
  const parts = text.split('.');
  if (parts.length !== 4) return -1;
  let v = 0;
  for (const p of parts) {
    if (!/^(0|[1-9][0-9]{0,2})$/.test(p) || Number(p) > 255) return -1;
    v = v * 256 + Number(p);
  }
  return v;
}

/** Routability composed from the range predicates, the way isRoutableIp reads for IPv6. */
function referenceRoutable(ip: Uint8Array): boolean {
  if (isUnspecified(ip) || isRfc3849(ip) || isBroadcast4(ip)) return false;
  return !(isRfc1918(ip) || isRfc3927(ip) || isRfc4862(ip) || isRfc4193(ip) || isRfc4843(ip) || isLocalIp(ip));
}

const octet = fc.oneof(fc.integer({ min: 0, max: 255 }), fc.constantFrom(0, 10, 127, 169, 172, 192, 254, 255, 15, 16, 31, 32, 168));
const v4Value = fc.tuple(octet, octet, octet, octet).map(([a, b, c, d]) => a * 0x1000000 + ((b << 16) | (c << 8) | d));

describe('parseIpv4Value', () => {
  it.each([
    ['1.2.3.4', 0x01020304],
    ['0.0.0.0', 0],
    ['255.255.255.255', 0xffffffff],
    ['203.0.113.7', 0xcb007107],
  ])('%s -> %d', (text, value) => {
    expect(parseIpv4Value(text)).toBe(value);
  });

  it.each(['', '1.2.3', '1.2.3.4.', '.1.2.3.4', '1..2.3', '01.2.3.4', '1.2.3.00', '256.0.0.0', '1.2.3.1000', '1.2.3.4 ', '+1.2.3.4', '1.2.3.a', '::1', '1.2.3.4%e'])(
    'rejects %j',
    (text) => {
      expect(parseIpv4Value(text)).toBe(-1);
    },
  );

  it('reads a range of a longer text', () => {
    expect(parseIpv4Value('x1.2.3.4y', 1, 8)).toBe(0x01020304);
  });

  it('agrees with the split-and-regex reference, and what it accepts is canonical (property)', () => {
    const text = fc.string({ unit: fc.constantFrom('0', '1', '2', '5', '9', '.', '.', ':', 'a', ' '), maxLength: 17 });
    fc.assert(
      fc.property(fc.oneof(text, v4Value.map((v) => formatIp(ipv4MappedOf(v)))), (t) => {
        const v = parseIpv4Value(t);
        expect(v).toBe(referenceV4(t));
        if (v >= 0) {
          expect(formatIp(parseIp(t)!)).toBe(t);
          expect(Array.from(ipv4MappedOf(v))).toEqual(Array.from(parseIp(t)!));
        }
      }),
      { numRuns: 20_000 },
    );
  });
});

describe('IPv4 value predicates agree with the 16-byte ones (property)', () => {
  it('routable, local, invalid, value round trip', () => {
    fc.assert(
      fc.property(v4Value, (v) => {
        const bytes = ipv4MappedOf(v);
        expect(ipv4ValueOf(bytes)).toBe(v);
        expect(isRoutableIpv4Value(v)).toBe(referenceRoutable(bytes));
        expect(isRoutableIp(bytes)).toBe(referenceRoutable(bytes));
        expect(isLocalIpv4Value(v)).toBe(isLocalIp(bytes));
        expect(invalidIpv4ValueProblem(v)).toBe(invalidIpProblem(bytes));
      }),
      { numRuns: 20_000 },
    );
  });
});

describe('NetAddress with IPv4', () => {
  it('behaves the same whether the IP was written dotted or IPv4-mapped (property)', () => {
    fc.assert(
      fc.property(v4Value, fc.integer({ min: 0, max: 65535 }), (v, port) => {
        const dotted = formatIp(ipv4MappedOf(v));
        const a = new NetAddress(ID, dotted, port);
        const b = new NetAddress(ID, `::ffff:${dotted}`, port);
        for (const x of [a, b]) {
          expect(x.ip).toBe(dotted);
          expect(x.toString()).toBe(`${ID}@${dotted}:${port}`);
          expect(x.isIPv4()).toBe(true);
          expect(Array.from(x.ipBytes())).toEqual(Array.from(ipv4MappedOf(v)));
          expect(x.routable()).toBe(referenceRoutable(x.ipBytes()));
          expect(x.local()).toBe(isLocalIp(x.ipBytes()));
          expect(x.validProblem()).toBe(invalidIpProblem(x.ipBytes()));
        }
        expect(a.equals(b)).toBe(true);
      }),
      { numRuns: 5000 },
    );
  });

  it('ipBytes is a copy for IPv4 and IPv6 alike', () => {
    for (const ip of ['11.2.3.4', '2a01::1']) {
      const a = new NetAddress(ID, ip, 1);
      a.ipBytes().fill(0);
      expect(formatIp(a.ipBytes())).toBe(ip);
    }
  });

  it('a bad ID is never routable, whatever the IP', () => {
    expect(new NetAddress('xyz', '11.2.3.4', 1).routable()).toBe(false);
    expect(new NetAddress('', '11.2.3.4', 1).routable()).toBe(false);
    expect(new NetAddress(ID, '11.2.3.4', 1).routable()).toBe(true);
  });

  it('the constructor still refuses what is not an IP literal', () => {
    for (const ip of ['01.2.3.4', '1.2.3.4%eth0', '1.2.3', 'example.com', '', ' 1.2.3.4']) {
      expect(() => new NetAddress(ID, ip, 1)).toThrow(ErrNetAddressBadField);
    }
    expect(() => new NetAddress(ID, 42 as unknown as string, 1)).toThrow(ErrNetAddressBadField);
    // A zone on IPv6 is dropped, as before.
    expect(new NetAddress(ID, 'fe80::1%eth0', 1).ip).toBe('fe80::1');
  });

  it('fromProto parses once and keeps its own errors: zones, non-literals and bad ports refused', () => {
    expect(NetAddress.fromProto({ id: ID, ip: '::ffff:11.2.3.4', port: 5 }).toString()).toBe(`${ID}@11.2.3.4:5`);
    expect(NetAddress.fromProto({ id: ID, ip: '2A01:0::1', port: 5 }).ip).toBe('2a01::1');
    for (const p of [{ ip: 'fe80::1%eth0', port: 1 }, { ip: '1.2.3.04', port: 1 }, { ip: 'host', port: 1 }, { ip: '1.2.3.4', port: 65536 }, { ip: '1.2.3.4', port: -1 }, { ip: '1.2.3.4', port: 1.5 }]) {
      expect(() => NetAddress.fromProto({ id: ID, ...p })).toThrow(ErrNetAddressFromProto);
    }
  });
});
