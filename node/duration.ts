/**
 * Go-style duration strings as CometBFT's config uses them ("100ms", "0s", "10m", "1h30m").
 * Parsed to milliseconds; negative durations are refused because no config duration may be.
 */

const UNIT_MS: Record<string, number> = {
  ns: 1e-6,
  us: 1e-3,
  'µs': 1e-3, // U+00B5 micro sign, accepted by Go
  'μs': 1e-3, // U+03BC Greek mu, accepted by Go
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
};

/** The accepted form, for error messages. */
export const DURATION_FORM = 'a duration such as "100ms", "3s", "10m" or "1h30m" (units ns, us, ms, s, m, h; not negative)';

/** Milliseconds for a Go duration string, or a reason it is not one. */
export function parseDurationMs(text: string): { ms: number } | { problem: string } {
  const s = text.trim();
  if (s === '') return { problem: 'empty duration' };
  if (s.startsWith('-')) return { problem: 'negative duration' };
  const body = s.startsWith('+') ? s.slice(1) : s;
  // Go accepts a bare "0" without a unit, and nothing else without one.
  if (body === '0') return { ms: 0 };
  const part = /(\d+\.?\d*|\.\d+)(ns|us|µs|μs|ms|s|m|h)/y;
  let total = 0;
  let pos = 0;
  while (pos < body.length) {
    part.lastIndex = pos;
    const m = part.exec(body);
    if (!m) {
      return { problem: /^\d+(\.\d*)?$/.test(body.slice(pos)) ? 'missing unit' : `cannot parse "${body.slice(pos)}"` };
    }
    total += Number(m[1]) * UNIT_MS[m[2]];
    pos = part.lastIndex;
  }
  if (!Number.isFinite(total)) return { problem: 'duration too large' };
  return { ms: total };
}

/** Milliseconds to the shortest Go-style string ("1h30m", "100ms", "0s"): used in generated text. */
export function formatDurationMs(ms: number): string {
  if (ms === 0) return '0s';
  let rest = ms;
  let out = '';
  for (const [unit, size] of [['h', 3_600_000], ['m', 60_000], ['s', 1000]] as const) {
    if (rest >= size) {
      const n = Math.floor(rest / size);
      out += `${n}${unit}`;
      rest -= n * size;
    }
  }
  if (rest > 0) out += `${rest}ms`;
  return out;
}
