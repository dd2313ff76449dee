/**
 * Group keys: the "neighbourhood" of an address used by bucket placement, so that one network
 * operator (one /16, one IPv6 /32) can only reach a few buckets. Identical to CometBFT's
 * `groupKeyFor` (checked against the group_key_* vector tables). The range predicates and Go's IP
 * text form come from p2p/ip-ranges.ts.
 */
import {
  formatIp,
  isHurricaneElectric,
  isIpv4,
  isOnionCat,
  isRfc3964,
  isRfc4380,
  isRfc6052,
  isRfc6145,
} from '../p2p/ip-ranges.js';

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
  if (isIpv4(ip)) return slash16(ip[12], ip[13]);
  // RFC 6145 (::ffff:0:0:0/96) and RFC 6052 (64:ff9b::/96) embed an IPv4 address in the last 4 bytes.
  if (isRfc6145(ip) || isRfc6052(ip)) return slash16(ip[12], ip[13]);
  // RFC 3964 6to4 (2002::/16): the IPv4 address is in bytes 2..5.
  if (isRfc3964(ip)) return slash16(ip[2], ip[3]);
  // RFC 4380 Teredo (2001::/32): the client's IPv4 address, inverted, in the last 4 bytes.
  if (isRfc4380(ip)) return slash16(ip[12] ^ 0xff, ip[13] ^ 0xff);
  // OnionCat Tor (fd87:d87e:eb43::/48): four bits of the onion name.
  if (isOnionCat(ip)) return `tor:${ip[6] & 0x0f}`;
  // Other IPv6: /32, or /36 inside Hurricane Electric's 2001:470::/32 (it hands out /36 blocks).
  const masked = new Uint8Array(16);
  masked.set(ip.subarray(0, 4));
  if (isHurricaneElectric(ip)) masked[4] = ip[4] & 0xf0;
  return formatIp(masked);
}

function slash16(a: number, b: number): string {
  return `${a}.${b}.0.0`;
}
