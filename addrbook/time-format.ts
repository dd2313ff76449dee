/**
 * RFC 3339 timestamps as CometBFT writes them (Go's RFC3339Nano: trailing fraction zeros
 * trimmed, UTC as 'Z'), with Go's zero time for "never". We keep millisecond precision.
 */
import { ZERO_TIME_MS } from './known-address.js';

export const GO_ZERO_TIME = '0001-01-01T00:00:00Z';

export function formatTime(ms: number): string {
  if (ms === ZERO_TIME_MS) return GO_ZERO_TIME;
  const iso = new Date(ms).toISOString(); // YYYY-MM-DDTHH:MM:SS.mmmZ
  if (iso.length !== 24) throw new RangeError(`time ${ms} is outside the years 0000-9999`);
  let frac = iso.slice(19, 23); // '.mmm'
  while (frac.endsWith('0')) frac = frac.slice(0, -1);
  if (frac === '.') frac = '';
  return iso.slice(0, 19) + frac + 'Z';
}

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(?:([Zz])|([+-])(\d{2}):(\d{2}))$/;

const digit = (s: string, i: number): number => {
  const c = s.charCodeAt(i) - 48;
  return c >= 0 && c <= 9 ? c : NaN;
};
const num = (s: string, from: number, to: number): number => {
  let v = 0;
  for (let i = from; i < to; i++) v = v * 10 + digit(s, i);
  return v;
};

/**
 * The common shape 'YYYY-MM-DDTHH:MM:SS[.f...]Z' (years 1000-9999) without a regex: loading a full
 * book parses 60 000 of these. Returns NaN when the text has another shape.
 */
function parseUtcFast(s: string): number {
  const n = s.length;
  if (n < 20 || s.charCodeAt(n - 1) !== 90 /* Z */ || s[4] !== '-' || s[7] !== '-' || s[10] !== 'T' || s[13] !== ':' || s[16] !== ':') return NaN;
  const year = num(s, 0, 4);
  const month = num(s, 5, 7);
  const day = num(s, 8, 10);
  const hour = num(s, 11, 13);
  const minute = num(s, 14, 16);
  const second = num(s, 17, 19);
  let ms = 0;
  if (n > 20) {
    if (s[19] !== '.' || n - 21 > 9 || n === 21) return NaN;
    for (let i = 20; i < n - 1; i++) if (Number.isNaN(digit(s, i))) return NaN;
    ms = num(s, 20, Math.min(23, n - 1)) * (n - 21 >= 3 ? 1 : n - 21 === 2 ? 10 : 100);
  } else if (n !== 20) return NaN;
  if (!(year >= 1000) || month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 59) return NaN;
  const t = Date.UTC(year, month - 1, day, hour, minute, second, ms);
  return new Date(t).getUTCDate() === day ? t : NaN;
}

/** Parses an RFC 3339 time (any offset, up to nanoseconds) to epoch ms, truncating below 1 ms. */
export function parseTime(text: unknown): number {
  if (typeof text !== 'string') throw new TypeError('a time must be an RFC 3339 string');
  if (text === GO_ZERO_TIME) return ZERO_TIME_MS;
  const fast = parseUtcFast(text);
  if (!Number.isNaN(fast)) return fast;
  const m = RFC3339.exec(text);
  if (!m) throw new TypeError(`not an RFC 3339 time: ${JSON.stringify(text)}`);
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number);
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 59) {
    throw new TypeError(`time out of range: ${text}`);
  }
  const ms = m[7] ? Number(m[7].padEnd(3, '0').slice(0, 3)) : 0;
  const d = new Date(0);
  d.setUTCFullYear(year, month - 1, day);
  d.setUTCHours(hour, minute, second, ms);
  if (d.getUTCDate() !== day) throw new TypeError(`no such day: ${text}`);
  let t = d.getTime();
  if (!m[8]) {
    const sign = m[9] === '-' ? -1 : 1;
    const offsetMin = Number(m[10]) * 60 + Number(m[11]);
    t -= sign * offsetMin * 60_000;
  }
  return t;
}
