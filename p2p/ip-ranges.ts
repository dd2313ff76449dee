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

/**
 * Parses an IP literal the way Go's `net.ParseIP` does: dotted-quad IPv4 (no leading zeros,
 * each part 0..255) or IPv6 text (hex groups of up to 4 digits, one `::`, an optional trailing
 * dotted IPv4 part). Zones (`%eth0`) and brackets are not accepted. Returns 16 bytes, or
 * undefined when `text` is not an IP literal.
 */
export function parseIp(text: string): Uint8Array | undefined {
  const v4 = parseIpv4Value(text);
  if (v4 >= 0) return ipv4MappedOf(v4);
  return text.includes(':') ? parseIpv6(text) : undefined;
}

/** The 16-byte IPv4-mapped form of a.b.c.d. */
export function ipv4Mapped(a: number, b: number, c: number, d: number): Uint8Array {
  const out = new Uint8Array(IP_BYTE_LENGTH);
  out[10] = 0xff;
  out[11] = 0xff;
  out[12] = a;
  out[13] = b;
  out[14] = c;
  out[15] = d;
  return out;
}

/** The 16-byte IPv4-mapped form of a 32-bit IPv4 value (as parseIpv4Value returns it). */
export function ipv4MappedOf(value: number): Uint8Array {
  return ipv4Mapped((value / 0x1000000) & 0xff, (value >> 16) & 0xff, (value >> 8) & 0xff, value & 0xff);
}

/**
 * Parses a strict dotted quad in text[from, to) — exactly four decimal parts of 1 to 3 digits,
 * each 0..255, no leading zeros (Go since 1.17 rejects them: "010" means octal to other parsers),
 * nothing else — and returns its 32-bit value (0..2^32-1), or -1 when the text is not one.
 * A single pass over the characters, with no allocation: loading a full address book parses
 * 40 000 of these. A text it accepts is already in canonical form (formatIp would print it back
 * unchanged), which NetAddress relies on to skip formatting.
 */
export function parseIpv4Value(text: string, from = 0, to = text.length): number {
  let value = 0;
  let part = 0;
  let digits = 0;
  let dots = 0;
  for (let i = from; i < to; i++) {
    const c = text.charCodeAt(i);
    if (c === 46 /* . */) {
      if (digits === 0 || dots === 3) return -1;
      value = value * 256 + part;
      dots++;
      part = 0;
      digits = 0;
    } else if (c >= 48 && c <= 57) {
      // A second digit after a leading '0', or a fourth digit.
      if ((digits === 1 && part === 0) || digits === 3) return -1;
      part = part * 10 + (c - 48);
      if (part > 255) return -1;
      digits++;
    } else {
      return -1;
    }
  }
  if (digits === 0 || dots !== 3) return -1;
  return value * 256 + part;
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
      const v4 = parseIpv4Value(group);
      if (v4 < 0) return undefined;
      bytes.push((v4 / 0x1000000) & 0xff, (v4 >> 16) & 0xff, (v4 >> 8) & 0xff, v4 & 0xff);
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
  return (
    ip[10] === 0xff &&
    ip[11] === 0xff &&
    (ip[0] | ip[1] | ip[2] | ip[3] | ip[4] | ip[5] | ip[6] | ip[7] | ip[8] | ip[9]) === 0
  );
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
  if (isIpv4(ip)) return isRoutableIpv4Value(ipv4ValueOf(ip));
  if (invalidIpProblem(ip) !== undefined) return false;
  return !(isRfc1918(ip) || isRfc3927(ip) || isRfc4862(ip) || isRfc4193(ip) || isRfc4843(ip) || isLocalIp(ip));
}

/*
 * The same classifications for an IPv4 address held as its 32-bit value (0..2^32-1, as
 * parseIpv4Value returns it): NetAddress keeps IPv4 that way (no 16-byte array per address), and
 * the address book classifies every address it loads or hears of. Only IPv4 ranges can matter (an
 * IPv6 range never holds an IPv4 address); a test checks each against the 16-byte predicates.
 */

/** The 32-bit value of an IPv4(-mapped) 16-byte address (the caller checked isIpv4). */
export function ipv4ValueOf(ip: Uint8Array): number {
  return ip[12] * 0x1000000 + ((ip[13] << 16) | (ip[14] << 8) | ip[15]);
}

/** invalidIpProblem for an IPv4 value: unspecified 0.0.0.0 or broadcast 255.255.255.255. */
export function invalidIpv4ValueProblem(v: number): string | undefined {
  return v === 0 || v === 0xffffffff ? 'invalid IP' : undefined;
}

/** isLocalIp for an IPv4 value: 0.0.0.0/8 or loopback 127/8. */
export function isLocalIpv4Value(v: number): boolean {
  const a = (v / 0x1000000) | 0;
  return a === 0 || a === 127;
}

/** isRoutableIp for an IPv4 value. */
export function isRoutableIpv4Value(v: number): boolean {
  const a = (v / 0x1000000) | 0;
  const b = (v >> 16) & 0xff;
  if (a === 0 || a === 127) return false; // 0.0.0.0/8 (includes unspecified) and loopback: local
  if (v === 0xffffffff) return false; // broadcast
  if (a === 10 || (a === 172 && (b & 0xf0) === 16) || (a === 192 && b === 168)) return false; // RFC 1918
  if (a === 169 && b === 254) return false; // RFC 3927 link-local
  return true;
}
