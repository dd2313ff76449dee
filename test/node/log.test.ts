import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createNodeLogger } from '../../node/log.js';
import { levelFor, parseLogLevel, type LogLevels } from '../../node/log-level.js';
import { formatDurationMs, parseDurationMs } from '../../node/duration.js';

function levels(text: string): LogLevels {
  const r = parseLogLevel(text);
  if ('problem' in r) throw new Error(r.problem);
  return r;
}

describe('parseLogLevel (CometBFT syntax)', () => {
  it('accepts one level for everything', () => {
    expect(levels('debug')).toEqual({ defaultLevel: 'debug', modules: new Map() });
    expect(levels('none').defaultLevel).toBe('silent');
    expect(levels('ERROR').defaultLevel).toBe('error');
  });
  it('accepts module:level pairs with * as the default', () => {
    const l = levels('p2p:debug, pex:info ,*:error');
    expect(l.defaultLevel).toBe('error');
    expect(levelFor(l, 'p2p')).toBe('debug');
    expect(levelFor(l, 'pex')).toBe('info');
    expect(levelFor(l, 'addrbook')).toBe('error');
    expect(levelFor(l, undefined)).toBe('error');
    expect(levels('p2p:none').defaultLevel).toBe('info');
  });
  it('applies "p2p" to the Switch and transports unless they are named themselves', () => {
    const l = levels('p2p:debug,*:warn');
    expect(levelFor(l, 'switch')).toBe('debug');
    expect(levelFor(l, 'tcp-transport')).toBe('debug');
    expect(levelFor(levels('p2p:debug,switch:error'), 'switch')).toBe('error');
    expect(levelFor(l, 'pex')).toBe('warn');
  });
  it('rejects malformed values with a reason', () => {
    for (const [text, reason] of [
      ['', /empty/],
      ['loud', /unknown level "loud"/],
      ['p2p:', /not module:level/],
      [':info', /not module:level/],
      ['p2p:debug:x', /not module:level/],
      ['p2p:verbose', /unknown level "verbose" for module "p2p"/],
      ['p2p:debug,p2p:info', /listed twice/],
      ['p2p:debug,', /not module:level/],
    ] as const) {
      const r = parseLogLevel(text);
      expect('problem' in r ? r.problem : 'accepted', text).toMatch(reason);
    }
  });
});

describe('durations', () => {
  it('parses Go durations to milliseconds', () => {
    expect(parseDurationMs('100ms')).toEqual({ ms: 100 });
    expect(parseDurationMs('0s')).toEqual({ ms: 0 });
    expect(parseDurationMs('0')).toEqual({ ms: 0 });
    expect(parseDurationMs('10m')).toEqual({ ms: 600_000 });
    expect(parseDurationMs('1h30m')).toEqual({ ms: 5_400_000 });
    expect(parseDurationMs('1.5s')).toEqual({ ms: 1500 });
    expect(parseDurationMs('500us')).toEqual({ ms: 0.5 });
    expect(parseDurationMs('2µs')).toEqual({ ms: 0.002 });
    expect(parseDurationMs('+3s')).toEqual({ ms: 3000 });
  });
  it('rejects what Go rejects, and negatives', () => {
    for (const bad of ['', '100', '-1s', '1d', 's', '1s2', 'ms', '1 s', '1.2.3s']) {
      expect('problem' in parseDurationMs(bad), bad).toBe(true);
    }
  });
  it('formats milliseconds back', () => {
    expect(formatDurationMs(0)).toBe('0s');
    expect(formatDurationMs(5_400_000)).toBe('1h30m');
    expect(formatDurationMs(100)).toBe('100ms');
    expect(formatDurationMs(61_500)).toBe('1m1s500ms');
    for (const ms of [0, 1, 999, 1000, 60_000, 3_723_004]) {
      expect(parseDurationMs(formatDurationMs(ms))).toEqual({ ms });
    }
  });
});

function capture(): { stream: PassThrough; lines: () => string[] } {
  const stream = new PassThrough();
  let text = '';
  stream.on('data', (c: Buffer) => (text += c.toString('utf8')));
  return { stream, lines: () => text.split('\n').filter((l) => l.length > 0) };
}

describe('createNodeLogger', () => {
  it('applies per-module levels to child loggers and their children (json)', () => {
    const out = capture();
    const root = createNodeLogger({ levels: levels('p2p:debug,pex:error,*:info'), format: 'json', destination: out.stream });
    root.debug('root debug hidden');
    root.info('root info');
    const p2p = root.child({ module: 'p2p' });
    p2p.debug('p2p debug');
    p2p.child({ peer: 'x' }).debug('p2p peer debug');
    const pex = root.child({ module: 'pex' });
    pex.warn('pex warn hidden');
    pex.error('pex error');
    root.child({ module: 'addrbook' }).debug('addrbook debug hidden');
    const got = out.lines().map((l) => JSON.parse(l) as { msg: string; module?: string; peer?: string });
    expect(got.map((e) => e.msg)).toEqual(['root info', 'p2p debug', 'p2p peer debug', 'pex error']);
    expect(got[2]).toMatchObject({ module: 'p2p', peer: 'x' });
  });

  it('writes readable lines in plain format without colour off a terminal', () => {
    const out = capture();
    const root = createNodeLogger({ levels: levels('info'), format: 'plain', destination: out.stream });
    root.child({ module: 'pex' }).info({ peers: 3 }, 'dialing');
    const lines = out.lines();
    expect(lines[0]).toMatch(/INFO.*\[pex\] dialing/);
    expect(lines.join('\n')).toContain('peers: 3');
    expect(lines.join('\n')).not.toContain('\u001b[');
    expect(() => JSON.parse(lines[0])).toThrow();
  });

  it('is silent with "none"', () => {
    const out = capture();
    const root = createNodeLogger({ levels: levels('none'), format: 'json', destination: out.stream });
    root.error('x');
    root.child({ module: 'p2p' }).error('y');
    expect(out.lines()).toEqual([]);
  });
});
