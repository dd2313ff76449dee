/**
 * IP addresses as 16 bytes, and the address ranges CometBFT's address book and NetAddress
 * classify by. IPv4 is always held in its IPv4-mapped IPv6 form (`::ffff:a.b.c.d`), the way Go's
 * `net.IP` does after parsing, so every predicate takes the same 16-byte shape.
 *
 * Range membership follows Go's `IPNet.Contains`: an IPv4 range only ever contains IPv4
 * (including IPv4-mapped) addresses, and an IPv6 range never contains an IPv4-mapped address.
 */

export const IP_BYTE_LENGTH = 16;

/** One CIDR range: the 16-byte prefix and how many leading bits must match. */
interface IpRange {
  readonly family: 4 | 6;
  readonly prefix: Uint8Array;
  readonly bits: number;
}

const V4_MAPPED_PREFIX = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff];

/**
 * Parses an IP literal the way Go's `net.ParseIP` does: dotted-quad IPv4 (no leading zeros,
 * each part 0..255) or IPv6 text (hex groups of up to 4 digits, one `::`, an optional trailing
 * dotted IPv4 part). Zones (`%eth0`) and brackets are not accepted. Returns 16 bytes, or
 * undefined when `text` is not an IP literal.
 */
export function parseIp(text: string): Uint8Array | undefined {
  if (text.includes(':')) return parseIpv6(text);
  const v4 = parseIpv4Parts(text);
  if (v4 === undefined) return undefined;
  return ipv4Mapped(v4[0], v4[1], v4[2], v4[3]);
}

/** The 16-byte IPv4-mapped form of a.b.c.d. */
export function ipv4Mapped(a: number, b: number, c: number, d: number): Uint8Array {
  const out = new Uint8Array(IP_BYTE_LENGTH);
  out.set(V4_MAPPED_PREFIX);
  out[12] = a;
  out[13] = b;
  out[14] = c;
  out[15] = d;
  return out;
}

function parseIpv4Parts(text: string): [number, number, number, number] | undefined {
  const parts = text.split('.');
  if (parts.length !== 4) return undefined;
  const out: number[] = [];
  for (const part of parts) {
    if (!/^[0-9]{1,3}$/.test(part)) return undefined;
    // Go (since 1.17) rejects leading zeros: "010" could mean octal to other parsers.
    if (part.length > 1 && part[0] === '0') return undefined;
    const value = Number(part);
    if (value > 255) return undefined;
    out.push(value);
  }
  return out as [number, number, number, number];
}

function parseIpv6(text: string): Uint8Array | undefined {
  const out = new Uint8Array(IP_BYTE_LENGTH);
  const doubleColon = text.indexOf('::');
  if (doubleColon !== -1 && text.indexOf('::', doubleColon + 1) !== -1) return undefined;
  const head = doubleColon === -1 ? text : text.slice(0, doubleColon);
  const tail = doubleColon === -1 ? '' : text.slice(doubleColon + 2);
  const headBytes = parseIpv6Groups(head, doubleColon === -1);
  if (headBytes === undefined) return undefined;
  if (doubleColon === -1) {
    if (headBytes.length !== IP_BYTE_LENGTH) return undefined;
    out.set(headBytes);
    return out;
  }
  const tailBytes = parseIpv6Groups(tail, true);
  if (tailBytes === undefined) return undefined;
  // '::' stands for at least one zero group.
  if (headBytes.length + tailBytes.length > IP_BYTE_LENGTH - 2) return undefined;
  out.set(headBytes, 0);
  out.set(tailBytes, IP_BYTE_LENGTH - tailBytes.length);
  return out;
}

/**
 * Parses colon-separated hex groups (possibly empty text). `mayEndWithIpv4` allows a final dotted
 * IPv4 part (only legal at the very end of the address).
 */
function parseIpv6Groups(text: string, mayEndWithIpv4: boolean): number[] | undefined {
  if (text === '') return [];
  const groups = text.split(':');
  const bytes: number[] = [];
  for (let i = 0; i < groups.length; i++) {
    const group = groups[i];
    if (i === groups.length - 1 && mayEndWithIpv4 && group.includes('.')) {
      const v4 = parseIpv4Parts(group);
      if (v4 === undefined) return undefined;
      bytes.push(...v4);
      continue;
    }
    if (!/^[0-9a-fA-F]{1,4}$/.test(group)) return undefined;
    const value = parseInt(group, 16);
    bytes.push(value >> 8, value & 0xff);
  }
  if (bytes.length > IP_BYTE_LENGTH) return undefined;
  return bytes;
}

/** True for IPv4-mapped addresses (`::ffff:0:0/96`), i.e. what Go's `To4()` accepts. */
export function isIpv4(ip: Uint8Array): boolean {
  for (let i = 0; i < 12; i++) if (ip[i] !== V4_MAPPED_PREFIX[i]) return false;
  return true;
}

/**
 * Go's `net.IP.String()`: IPv4 (and IPv4-mapped) in dotted form; other IPv6 in RFC 5952 form —
 * lowercase hex, the longest run of two or more zero groups (the first on a tie) shortened to `::`,
 * no embedded dotted part.
 */
export function formatIp(ip: Uint8Array): string {
  if (ip.length !== IP_BYTE_LENGTH) throw new RangeError(`an IP address has ${IP_BYTE_LENGTH} bytes here, got ${ip.length}`);
  if (isIpv4(ip)) return `${ip[12]}.${ip[13]}.${ip[14]}.${ip[15]}`;
  const groups: number[] = [];
  for (let i = 0; i < 8; i++) groups.push((ip[2 * i] << 8) | ip[2 * i + 1]);
  let bestStart = -1;
  let bestLength = 1; // a single zero group is never shortened
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLength) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j;
  }
  if (bestStart === -1) return groups.map((g) => g.toString(16)).join(':');
  const left = groups.slice(0, bestStart).map((g) => g.toString(16)).join(':');
  const right = groups.slice(bestStart + bestLength).map((g) => g.toString(16)).join(':');
  return `${left}::${right}`;
}

function range(cidr: string): IpRange {
  const slash = cidr.indexOf('/');
  const text = cidr.slice(0, slash);
  const bits = Number(cidr.slice(slash + 1));
  const prefix = parseIp(text);
  if (prefix === undefined) throw new Error(`bad built-in range ${cidr}`);
  const family = text.includes(':') ? 6 : 4;
  // IPv4 prefix lengths count from the IPv4 part, which starts at bit 96 of the mapped form.
  return { family, prefix, bits: family === 4 ? 96 + bits : bits };
}

/** Whether `ip` (16 bytes) lies in `r`, with Go's rule that families never mix. */
function inRange(ip: Uint8Array, r: IpRange): boolean {
  if (isIpv4(ip) !== (r.family === 4)) return false;
  const fullBytes = r.bits >> 3;
  for (let i = 0; i < fullBytes; i++) if (ip[i] !== r.prefix[i]) return false;
  const restBits = r.bits & 7;
  if (restBits === 0) return true;
  const mask = (0xff << (8 - restBits)) & 0xff;
  return (ip[fullBytes] & mask) === (r.prefix[fullBytes] & mask);
}

const RFC1918_RANGES = [range('10.0.0.0/8'), range('172.16.0.0/12'), range('192.168.0.0/16')];
const RFC3927_RANGE = range('169.254.0.0/16');
const RFC3849_RANGE = range('2001:db8::/32');
const RFC3964_RANGE = range('2002::/16');
const RFC4193_RANGE = range('fc00::/7');
const RFC4380_RANGE = range('2001::/32');
const RFC4843_RANGE = range('2001:10::/28');
const RFC4862_RANGE = range('fe80::/64');
const RFC6052_RANGE = range('64:ff9b::/96');
const RFC6145_RANGE = range('::ffff:0:0:0/96');
const ONION_CAT_RANGE = range('fd87:d87e:eb43::/48');
const HURRICANE_ELECTRIC_RANGE = range('2001:470::/32');
const ZERO4_RANGE = range('0.0.0.0/8');

/** Private IPv4: 10/8, 172.16/12, 192.168/16. */
export function isRfc1918(ip: Uint8Array): boolean {
  return RFC1918_RANGES.some((r) => inRange(ip, r));
}
/** IPv4 link-local 169.254/16. */
export const isRfc3927 = (ip: Uint8Array): boolean => inRange(ip, RFC3927_RANGE);
/** IPv6 documentation prefix 2001:db8::/32. */
export const isRfc3849 = (ip: Uint8Array): boolean => inRange(ip, RFC3849_RANGE);
/** 6to4 2002::/16 (an IPv4 address in bytes 2..5). */
export const isRfc3964 = (ip: Uint8Array): boolean => inRange(ip, RFC3964_RANGE);
/** IPv6 unique local fc00::/7. */
export const isRfc4193 = (ip: Uint8Array): boolean => inRange(ip, RFC4193_RANGE);
/** Teredo 2001::/32 (the client's IPv4 address, inverted, in the last 4 bytes). */
export const isRfc4380 = (ip: Uint8Array): boolean => inRange(ip, RFC4380_RANGE);
/** ORCHID 2001:10::/28. */
export const isRfc4843 = (ip: Uint8Array): boolean => inRange(ip, RFC4843_RANGE);
/** IPv6 link-local fe80::/64 (the range CometBFT checks). */
export const isRfc4862 = (ip: Uint8Array): boolean => inRange(ip, RFC4862_RANGE);
/** NAT64 well-known prefix 64:ff9b::/96. */
export const isRfc6052 = (ip: Uint8Array): boolean => inRange(ip, RFC6052_RANGE);
/** IPv4-translated ::ffff:0:0:0/96 (not the IPv4-mapped ::ffff:0:0/96). */
export const isRfc6145 = (ip: Uint8Array): boolean => inRange(ip, RFC6145_RANGE);
/** OnionCat (Tor) fd87:d87e:eb43::/48. */
export const isOnionCat = (ip: Uint8Array): boolean => inRange(ip, ONION_CAT_RANGE);
/** Hurricane Electric's 2001:470::/32, which the address book groups by /36 instead of /32. */
export const isHurricaneElectric = (ip: Uint8Array): boolean => inRange(ip, HURRICANE_ELECTRIC_RANGE);
/** 0.0.0.0/8 ("this network"). */
export const isZero4 = (ip: Uint8Array): boolean => inRange(ip, ZERO4_RANGE);

/** Loopback: 127/8 for IPv4, ::1 for IPv6. */
export function isLoopback(ip: Uint8Array): boolean {
  if (isIpv4(ip)) return ip[12] === 127;
  for (let i = 0; i < 15; i++) if (ip[i] !== 0) return false;
  return ip[15] === 1;
}

/** Unspecified: 0.0.0.0 or ::. */
export function isUnspecified(ip: Uint8Array): boolean {
  if (isIpv4(ip)) return ip[12] === 0 && ip[13] === 0 && ip[14] === 0 && ip[15] === 0;
  return ip.every((b) => b === 0);
}

/** IPv4 limited broadcast 255.255.255.255. */
export function isBroadcast4(ip: Uint8Array): boolean {
  return isIpv4(ip) && ip[12] === 255 && ip[13] === 255 && ip[14] === 255 && ip[15] === 255;
}

/** CometBFT's "local": loopback or 0.0.0.0/8. */
export function isLocalIp(ip: Uint8Array): boolean {
  return isLoopback(ip) || isZero4(ip);
}

/**
 * Why `ip` cannot be an address at all (unspecified, documentation prefix, broadcast), or
 * undefined. This is the IP half of CometBFT's `NetAddress.Valid()`.
 */
export function invalidIpProblem(ip: Uint8Array): string | undefined {
  if (isUnspecified(ip) || isRfc3849(ip) || isBroadcast4(ip)) return 'invalid IP';
  return undefined;
}

/**
 * CometBFT's routability of an IP (the ID check of `Routable()` is the caller's): valid and not
 * private (RFC 1918), link-local (RFC 3927, RFC 4862), unique local (RFC 4193), ORCHID (RFC 4843)
 * or local.
 */
export function isRoutableIp(ip: Uint8Array): boolean {
  if (invalidIpProblem(ip) !== undefined) return false;
  return !(isRfc1918(ip) || isRfc3927(ip) || isRfc4862(ip) || isRfc4193(ip) || isRfc4843(ip) || isLocalIp(ip));
}
