import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { groupKey, formatIPv6 } from '../../addrbook/group-key.js';
import { NetAddress } from '../../p2p/net-address.js';

const tables = JSON.parse(readFileSync('../shared/vectors/cometbft/derived-test-tables.json', 'utf8'));
const goVectors = JSON.parse(readFileSync('../shared/vectors/cometbft/go-generated-vectors.json', 'utf8'));
const ID = 'b7e361b509d8e8be425af6423f231af79bb3c30b';

describe('groupKey (CometBFT group_key_* vectors)', () => {
  it.each(tables.group_key_non_strict.cases as [string, string][])('non-strict %s -> %s', (ip, want) => {
    expect(groupKey(new NetAddress(ID, ip, 26656), false)).toBe(want);
  });
  it.each(tables.group_key_strict.cases as [string, string][])('strict %s -> %s', (ip, want) => {
    expect(groupKey(new NetAddress(ID, ip, 26656), true)).toBe(want);
  });
  it.each(goVectors.group_key_extra.cases as Record<string, string | boolean>[])('go extra $ip', (c) => {
    const ip = c.ip as string;
    expect(groupKey(new NetAddress(ID, ip, 26656), false)).toBe(c.non_strict_with_id);
    expect(groupKey(new NetAddress('', ip, 26656), false)).toBe(c.non_strict_without_id);
    expect(groupKey(new NetAddress(ID, ip, 26656), true)).toBe(c.strict_with_id);
    expect(groupKey(new NetAddress('', ip, 26656), true)).toBe(c.strict_without_id);
  });
  it('formats IPv6 like Go', () => {
    const b = (hex: string) => Uint8Array.from(hex.match(/../g)!.map((x) => parseInt(x, 16)));
    expect(formatIPv6(new Uint8Array(16))).toBe('::');
    expect(formatIPv6(b('20010db8000000000001000000000001'))).toBe('2001:db8::1:0:0:1');
    expect(formatIPv6(b('20010db8000100000000000000000000'))).toBe('2001:db8:1::');
    expect(formatIPv6(b('20010db8000000010001000100010001'))).toBe('2001:db8:0:1:1:1:1:1');
  });
});
