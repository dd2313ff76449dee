import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  ErrNetAddressBadField,
  ErrNetAddressFromProto,
  ErrNetAddressInvalid,
  ErrNetAddressLookup,
  ErrNetAddressLookupNeeded,
  ErrNetAddressNoId,
  NetAddress,
  type HostLookup,
} from '../../p2p/net-address.js';
import {
  formatIp,
  isHurricaneElectric,
  isLocalIp,
  isLoopback,
  isOnionCat,
  isRfc1918,
  isRfc3849,
  isRfc3927,
  isRfc3964,
  isRfc4193,
  isRfc4380,
  isRfc4843,
  isRfc4862,
  isRfc6052,
  isRfc6145,
  isRoutableIp,
  isUnspecified,
  ipv4Mapped,
  parseIp,
} from '../../p2p/ip-ranges.js';

const tables = JSON.parse(readFileSync('../shared/vectors/cometbft/derived-test-tables.json', 'utf8'));
const goVectors = JSON.parse(readFileSync('../shared/vectors/cometbft/go-generated-vectors.json', 'utf8'));

const ID = 'deadbeefdeadbeefdeadbeefdeadbeefdeadbeef';

/** A lookup that never touches the network: known names map to fixed IPs, anything else fails like a resolver. */
const fakeLookup: HostLookup = async (host) => {
  const table: Record<string, string> = { 'seed.example.org': '203.0.113.9', 'v6.example.org': '2001:DB8::5', 'zoned.example': 'fe80::1%eth0' };
  const ip = table[host];
  if (ip === undefined) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: 'ENOTFOUND' });
  return ip;
};

describe('NetAddress.parse: CometBFT TestNewNetAddressString table', () => {
  const cases: [string, string | null][] = tables.netaddress_parse.cases;
  it.each(cases)('%j -> %j', (input, expected) => {
    if (expected === null) {
      expect(() => NetAddress.parse(input)).toThrow();
      try {
        NetAddress.parse(input);
      } catch (err) {
        // Every failing case here fails without DNS, for the reason Go gives.
        expect(err).not.toBeInstanceOf(ErrNetAddressLookupNeeded);
        const goError: string = tables.netaddress_parse.go_errors[input];
        if (goError.includes('does not contain ID')) expect(err).toBeInstanceOf(ErrNetAddressNoId);
        else expect(err).toBeInstanceOf(ErrNetAddressInvalid);
      }
    } else {
      expect(NetAddress.parse(input).toString()).toBe(expected);
    }
  });
});

describe('NetAddress.parse: Go-generated extra cases', () => {
  const cases: Array<{ input: string; go: string | null; err_type?: string; local?: boolean; routable?: boolean; valid?: string | null }> =
    goVectors.netaddress_parse_extra.cases;
  it.each(cases.map((c) => [c.input, c] as const))('%j', async (input, c) => {
    if (c.go === null) {
      if (c.err_type === 'p2p.ErrNetAddressLookup') {
        // Needs DNS: parse refuses to look up; resolve (with a resolver that knows no such host) fails as a lookup.
        expect(() => NetAddress.parse(input)).toThrow(ErrNetAddressLookupNeeded);
        await expect(NetAddress.resolve(input, fakeLookup)).rejects.toBeInstanceOf(ErrNetAddressLookup);
        return;
      }
      const expectedClass = c.err_type === 'p2p.ErrNetAddressNoID' ? ErrNetAddressNoId : ErrNetAddressInvalid;
      expect(() => NetAddress.parse(input)).toThrow(expectedClass);
      await expect(NetAddress.resolve(input, fakeLookup)).rejects.toBeInstanceOf(expectedClass);
      return;
    }
    const addr = NetAddress.parse(input);
    expect(addr.toString()).toBe(c.go);
    expect(addr.local()).toBe(c.local);
    expect(addr.routable()).toBe(c.routable);
    expect(addr.validProblem()).toBe(c.valid ?? undefined);
    expect((await NetAddress.resolve(input, fakeLookup)).toString()).toBe(c.go);
  });
});

describe('NetAddress.parse errors users see', () => {
  it('name the offending text and the expected form', () => {
    expect(() => NetAddress.parse('127.0.0.1:8080')).toThrow(/"127\.0\.0\.1:8080" does not contain an ID; expected <id>@<host>:<port>/);
    expect(() => NetAddress.parse(`${ID}@127.0.0.1:99999`)).toThrow(/invalid address "127\.0\.0\.1:99999": port 99999 is out of range 0\.\.65535/);
    expect(() => NetAddress.parse(`${ID}@::1:26656`)).toThrow(/too many colons.*brackets/);
    expect(() => NetAddress.parse('deadbeef@127.0.0.1:1')).toThrow(/20 bytes/);
  });

  it('carry structured fields', () => {
    try {
      NetAddress.parse(`${ID}@127.0.0.1:x`);
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(ErrNetAddressInvalid);
      expect((err as ErrNetAddressInvalid).address).toBe('127.0.0.1:x');
      expect((err as ErrNetAddressInvalid).reason).toMatch(/not a decimal number/);
      expect((err as Error).name).toBe('ErrNetAddressInvalid');
    }
  });

  it('a host name in parse is a lookup-needed error naming the host, checked after the port', () => {
    try {
      NetAddress.parse(`tcp://${ID}@seed.example.org:26656`);
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(ErrNetAddressLookupNeeded);
      expect((err as ErrNetAddressLookupNeeded).host).toBe('seed.example.org');
    }
    // A bad port is reported without any lookup.
    expect(() => NetAddress.parse(`${ID}@seed.example.org:http`)).toThrow(ErrNetAddressInvalid);
  });

  it('rejects brackets in the wrong place and zones', () => {
    for (const bad of ['[::1:26656', '[::1]x:1', '[::1]]:1', 'a[b:1', '[fe80::1%eth0]:1', '[::1]:']) {
      expect(() => NetAddress.parse(`${ID}@${bad}`), bad).toThrow();
    }
  });
});

describe('NetAddress.resolve', () => {
  it('uses the first address the lookup returns', async () => {
    const addr = await NetAddress.resolve(`${ID}@seed.example.org:26656`, fakeLookup);
    expect(addr.toString()).toBe(`${ID}@203.0.113.9:26656`);
    const v6 = await NetAddress.resolve(`${ID}@v6.example.org:1`, fakeLookup);
    expect(v6.toString()).toBe(`${ID}@[2001:db8::5]:1`);
    expect(v6.valid()).toBe(false);
  });

  it('drops a zone from a resolver answer', async () => {
    expect((await NetAddress.resolve(`${ID}@zoned.example:1`, fakeLookup)).ip).toBe('fe80::1');
  });

  it('does not call the lookup for IP literals', async () => {
    let calls = 0;
    const counting: HostLookup = async (h) => {
      calls++;
      return fakeLookup(h);
    };
    expect((await NetAddress.resolve(`${ID}@[::ffff:10.0.0.1]:5`, counting)).toString()).toBe(`${ID}@10.0.0.1:5`);
    expect(calls).toBe(0);
  });

  it('a failing lookup is ErrNetAddressLookup with the host and the cause', async () => {
    const err = await NetAddress.resolve(`${ID}@nowhere.invalid:1`, fakeLookup).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ErrNetAddressLookup);
    expect((err as ErrNetAddressLookup).host).toBe('nowhere.invalid');
    expect(((err as Error).cause as { code: string }).code).toBe('ENOTFOUND');
  });

  it('a resolver answer that is not an IP is a lookup error', async () => {
    await expect(NetAddress.resolve(`${ID}@x.example:1`, async () => 'not-an-ip')).rejects.toBeInstanceOf(ErrNetAddressLookup);
  });

  it('resolves localhost with the system resolver (no network needed)', async () => {
    const addr = await NetAddress.resolve(`${ID}@localhost:26656`);
    expect(addr.local()).toBe(true);
  });
});

describe('NetAddress values', () => {
  it('canonical strings, dial strings, proto round trip', () => {
    const a = new NetAddress(ID, '2001:0DB8:0:0:0:0:0:1', 80);
    expect(a.ip).toBe('2001:db8::1');
    expect(a.dialString()).toBe('[2001:db8::1]:80');
    expect(a.toString()).toBe(`${ID}@[2001:db8::1]:80`);
    expect(NetAddress.fromProto(a.toProto()).equals(a)).toBe(true);
    const noId = new NetAddress('', '127.0.0.1', 8080);
    expect(noId.toString()).toBe('127.0.0.1:8080');
    expect(noId.validProblem()).toBe('invalid ID: no ID');
  });

  it('takes socket-style addresses: IPv4-mapped becomes dotted, a zone is dropped', () => {
    expect(new NetAddress(ID, '::ffff:127.0.0.1', 1).toString()).toBe(`${ID}@127.0.0.1:1`);
    expect(new NetAddress(ID, 'fe80::1%eth0', 1).ip).toBe('fe80::1');
    expect(() => new NetAddress(ID, '1.2.3.4%eth0', 1)).toThrow(ErrNetAddressBadField);
  });

  it('rejects bad fields in the constructor and fromProto', () => {
    expect(() => new NetAddress(ID, 'localhost', 1)).toThrow(ErrNetAddressBadField);
    expect(() => new NetAddress(ID, '1.2.3.4', 65536)).toThrow(ErrNetAddressBadField);
    expect(() => new NetAddress(ID, '1.2.3.4', 1.5)).toThrow(ErrNetAddressBadField);
    expect(() => NetAddress.fromProto({ id: ID, ip: 'nope', port: 1 })).toThrow(ErrNetAddressFromProto);
    expect(() => NetAddress.fromProto({ id: ID, ip: '1.2.3.4', port: 70000 })).toThrow(ErrNetAddressFromProto);
    // The ID is judged later by valid(), as CometBFT's PEX does.
    const short = NetAddress.fromProto({ id: '1', ip: '127.0.0.1', port: 9090 });
    expect(short.valid()).toBe(false);
    expect(short.validProblem()).toMatch(/invalid ID/);
  });

  it('equals compares everything; same matches dial string or ID', () => {
    const a = NetAddress.parse(`${ID}@1.2.3.4:1`);
    const b = NetAddress.parse(`${'ab'.repeat(20)}@1.2.3.4:1`);
    const c = NetAddress.parse(`${ID}@5.6.7.8:2`);
    expect(a.equals(NetAddress.parse(`tcp://${ID}@1.2.3.4:1`))).toBe(true);
    expect(a.equals(b)).toBe(false);
    expect(a.same(b)).toBe(true);
    expect(a.same(c)).toBe(true);
    expect(b.same(c)).toBe(false);
    expect(new NetAddress('', '1.1.1.1', 1).same(new NetAddress('', '2.2.2.2', 1))).toBe(false);
  });

  it('classifies as CometBFT does', () => {
    const at = (ip: string) => new NetAddress(ID, ip, 26656);
    expect(at('127.0.0.1').local()).toBe(true);
    expect(at('127.0.0.1').valid()).toBe(true);
    expect(at('127.0.0.1').routable()).toBe(false);
    expect(at('0.1.2.3').local()).toBe(true);
    expect(at('0.0.0.0').valid()).toBe(false);
    expect(at('::').valid()).toBe(false);
    expect(at('255.255.255.255').validProblem()).toBe('invalid IP');
    for (const ip of ['10.1.2.3', '172.16.1.2', '172.31.255.255', '192.168.1.2', '169.254.1.2', 'fe80::1234', 'fc00::1', 'fd00::1', '2001:10::1234', '::1']) {
      expect(at(ip).routable(), ip).toBe(false);
      expect(at(ip).valid(), ip).toBe(true);
    }
    for (const ip of ['172.32.0.1', '8.8.8.8', '2602:100::1', 'fe80:0:0:1::1', '2001:20::1', '100.64.0.1']) {
      expect(at(ip).routable(), ip).toBe(true);
    }
    expect(new NetAddress('', '8.8.8.8', 1).routable()).toBe(false);
    expect(at('::ffff:8.8.8.8').isIPv4()).toBe(true);
    expect(at('2602::1').isIPv4()).toBe(false);
    expect(Array.from(at('1.2.3.4').ipBytes())).toEqual([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 255, 255, 1, 2, 3, 4]);
  });

  it('parseMany collects every failure', () => {
    const { addresses, errors } = NetAddress.parseMany([`${ID}@1.2.3.4:1`, 'bad', `${ID}@[::1]:2`]);
    expect(addresses.map(String)).toEqual([`${ID}@1.2.3.4:1`, `${ID}@[::1]:2`]);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toBeInstanceOf(ErrNetAddressNoId);
  });
});

describe('IP parsing and formatting (Go net.ParseIP / IP.String)', () => {
  it.each([
    ['1.2.3.4', '1.2.3.4'],
    ['::ffff:1.2.3.4', '1.2.3.4'],
    ['::FFFF:0102:0304', '1.2.3.4'],
    ['::', '::'],
    ['::1', '::1'],
    ['1::', '1::'],
    ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
    ['2001:0:0:1:0:0:0:1', '2001:0:0:1::1'],
    ['1:0:2:0:3:0:4:0', '1:0:2:0:3:0:4:0'],
    ['1:2:3:4:5:6:7::', '1:2:3:4:5:6:7:0'],
    ['::1.2.3.4', '::102:304'],
    ['64:ff9b::0c01:0203', '64:ff9b::c01:203'],
    ['1:2:3:4:5:6:1.2.3.4', '1:2:3:4:5:6:102:304'],
  ])('%s -> %s', (input, expected) => {
    const ip = parseIp(input);
    expect(ip).toBeDefined();
    expect(formatIp(ip!)).toBe(expected);
  });

  it.each(['', '1.2.3', '1.2.3.4.5', '01.2.3.4', '256.1.1.1', '1.2.3.-1', ' 1.2.3.4', ':::', '1:::2', '1::2::3', ':1', '1:', '12345::',
    '1:2:3:4:5:6:7:8:9', '1:2:3:4:5:6:7::8', 'fe80::1%eth0', '[::1]', '::1.2.3', '1.2.3.4::', 'g::1', '::ffff:01.2.3.4'])('rejects %j', (input) => {
    expect(parseIp(input)).toBeUndefined();
  });

  it('format then parse gives back the same 16 bytes, and parse accepts what it prints (property)', () => {
    const ipBytes = fc.oneof(
      fc.uint8Array({ minLength: 16, maxLength: 16 }),
      fc.uint8Array({ minLength: 4, maxLength: 4 }).map((b) => ipv4Mapped(b[0], b[1], b[2], b[3])),
      // Sparse IPv6 addresses exercise the zero-run compression.
      fc.array(fc.constantFrom(0, 0, 0, 1, 0xffff), { minLength: 8, maxLength: 8 }).map((g) => Uint8Array.from(g.flatMap((x) => [x >> 8, x & 0xff]))),
    );
    fc.assert(
      fc.property(ipBytes, fc.integer({ min: 0, max: 65535 }), (bytes, port) => {
        const text = formatIp(bytes);
        expect(Array.from(parseIp(text)!)).toEqual(Array.from(bytes));
        expect(text).not.toMatch(/[A-F]|:::|(^|:)0[0-9a-f]/);
        const addr = new NetAddress(ID, text, port);
        expect(NetAddress.parse(addr.toString()).equals(addr)).toBe(true);
      }),
      { numRuns: 3000 },
    );
  });

  it('range predicates', () => {
    const ip = (t: string) => parseIp(t)!;
    expect(isRfc1918(ip('10.0.0.0'))).toBe(true);
    expect(isRfc1918(ip('172.15.0.1'))).toBe(false);
    expect(isRfc1918(ip('::ffff:192.168.0.1'))).toBe(true);
    expect(isRfc3927(ip('169.254.0.1'))).toBe(true);
    expect(isRfc3849(ip('2001:db8:ffff::'))).toBe(true);
    expect(isRfc3849(ip('2001:db9::'))).toBe(false);
    expect(isRfc3964(ip('2002:c01:203::'))).toBe(true);
    expect(isRfc4193(ip('fdff::1'))).toBe(true);
    expect(isRfc4193(ip('fe00::1'))).toBe(false);
    expect(isRfc4380(ip('2001:0:1234::1'))).toBe(true);
    expect(isRfc4380(ip('2001:1::1'))).toBe(false);
    expect(isRfc4843(ip('2001:1f::1'))).toBe(true);
    expect(isRfc4843(ip('2001:20::1'))).toBe(false);
    expect(isRfc4862(ip('fe80::ffff:1'))).toBe(true);
    expect(isRfc4862(ip('fe80:0:0:1::1'))).toBe(false);
    expect(isRfc6052(ip('64:ff9b::1.2.3.4'))).toBe(true);
    expect(isRfc6145(ip('::ffff:0:c01:203'))).toBe(true);
    // IPv4-mapped is not RFC 6145, and IPv6 ranges never contain IPv4 addresses (Go's family rule).
    expect(isRfc6145(ip('1.2.3.4'))).toBe(false);
    expect(isOnionCat(ip('fd87:d87e:eb43:1234::5678'))).toBe(true);
    expect(isOnionCat(ip('fd87:d87e:eb44::'))).toBe(false);
    expect(isHurricaneElectric(ip('2001:470:1f10::'))).toBe(true);
    expect(isHurricaneElectric(ip('2001:471::'))).toBe(false);
    expect(isLoopback(ip('127.255.0.1'))).toBe(true);
    expect(isLoopback(ip('::2'))).toBe(false);
    expect(isUnspecified(ip('0.0.0.0'))).toBe(true);
    expect(isUnspecified(ip('::'))).toBe(true);
    expect(isLocalIp(ip('0.255.255.255'))).toBe(true);
    expect(isRoutableIp(ip('203.0.113.1'))).toBe(true);
  });

  it('strict group-key classification of the CometBFT table agrees with local/routable', () => {
    for (const [text, group] of tables.group_key_strict.cases as [string, string][]) {
      const addr = new NetAddress(ID, text, 26656);
      if (group === 'local') expect(addr.local(), text).toBe(true);
      else expect(addr.local() || addr.routable(), text).toBe(false);
    }
  });
});
