import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { groupKey } from '../../addrbook/group-key.js';
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
});
