/**
 * Group keys: the "neighbourhood" of an address used by bucket placement, so that one network
 * operator (one /16, one IPv6 /32) can only reach a few buckets. Identical to CometBFT's
 * `groupKeyFor` (checked against the group_key_* vector tables).
 */

/** What grouping needs from an address (NetAddress provides it). */
export interface GroupKeyInput {
  /** 16 bytes; IPv4 as ::ffff:a.b.c.d. */
  ipBytes(): Uint8Array;
  local(): boolean;
  routable(): boolean;
}

export const GROUP_LOCAL = 'local';
export const GROUP_UNROUTABLE = 'unroutable';

export function groupKey(addr: GroupKeyInput, routabilityStrict: boolean): string {
  if (routabilityStrict && addr.local()) return GROUP_LOCAL;
  if (routabilityStrict && !addr.routable()) return GROUP_UNROUTABLE;
  return groupKeyOfIp(addr.ipBytes());
}

/** The grouping of a 16-byte IP, without the strict-mode local/unroutable cases. */
export function groupKeyOfIp(ip: Uint8Array): string {
  if (ip.length !== 16) throw new RangeError(`groupKeyOfIp needs 16 bytes, got ${ip.length}`);
  if (isIPv4Mapped(ip)) return slash16(ip[12], ip[13]);
  // RFC 6145 (::ffff:0:0:0/96) and RFC 6052 (64:ff9b::/96) embed an IPv4 address in the last 4 bytes.
  if (isRfc6145(ip) || isRfc6052(ip)) return slash16(ip[12], ip[13]);
  // RFC 3964 6to4 (2002::/16): the IPv4 address is in bytes 2..5.
  if (ip[0] === 0x20 && ip[1] === 0x02) return slash16(ip[2], ip[3]);
  // RFC 4380 Teredo (2001::/32): the client's IPv4 address, inverted, in the last 4 bytes.
  if (ip[0] === 0x20 && ip[1] === 0x01 && ip[2] === 0 && ip[3] === 0) return slash16(ip[12] ^ 0xff, ip[13] ^ 0xff);
  // OnionCat Tor (fd87:d87e:eb43::/48): four bits of the onion name.
  if (ip[0] === 0xfd && ip[1] === 0x87 && ip[2] === 0xd8 && ip[3] === 0x7e && ip[4] === 0xeb && ip[5] === 0x43) {
    return `tor:${ip[6] & 0x0f}`;
  }
  // Other IPv6: /32, or /36 inside Hurricane Electric's 2001:470::/32 (it hands out /36 blocks).
  const he = ip[0] === 0x20 && ip[1] === 0x01 && ip[2] === 0x04 && ip[3] === 0x70;
  const masked = new Uint8Array(16);
  masked.set(ip.subarray(0, 4));
  if (he) masked[4] = ip[4] & 0xf0;
  return formatIPv6(masked);
}

function isIPv4Mapped(ip: Uint8Array): boolean {
  for (let i = 0; i < 10; i++) if (ip[i] !== 0) return false;
  return ip[10] === 0xff && ip[11] === 0xff;
}

function isRfc6145(ip: Uint8Array): boolean {
  for (let i = 0; i < 8; i++) if (ip[i] !== 0) return false;
  return ip[8] === 0xff && ip[9] === 0xff && ip[10] === 0 && ip[11] === 0;
}

function isRfc6052(ip: Uint8Array): boolean {
  if (!(ip[0] === 0 && ip[1] === 0x64 && ip[2] === 0xff && ip[3] === 0x9b)) return false;
  for (let i = 4; i < 12; i++) if (ip[i] !== 0) return false;
  return true;
}

function slash16(a: number, b: number): string {
  return `${a}.${b}.0.0`;
}

/**
 * Go's IPv6 text form (RFC 5952): lowercase hex groups without leading zeros, the longest run of
 * two or more zero groups (the first on a tie) written as '::'.
 */
export function formatIPv6(ip: Uint8Array): string {
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((ip[i] << 8) | ip[i + 1]);
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  if (bestLen < 2) return groups.map((g) => g.toString(16)).join(':');
  const head = groups.slice(0, bestStart).map((g) => g.toString(16)).join(':');
  const tail = groups.slice(bestStart + bestLen).map((g) => g.toString(16)).join(':');
  return `${head}::${tail}`;
}
