import { request } from 'node:http';
import { describe, expect, it } from 'vitest';
import { PrometheusRegistry, escapeLabelValue, formatSampleValue, noopMetrics } from '../../node/metrics.js';
import { MetricsServer } from '../../node/metrics-server.js';

describe('PrometheusRegistry', () => {
  it('exposes counters, gauges and collectors in the text format under the namespace', () => {
    const r = new PrometheusRegistry({ namespace: 'cometbft' });
    const sent = r.counter('p2p_peer_send_bytes_total', 'Bytes sent to a peer.', ['peer_id', 'chID']);
    const g = r.gauge('p2p_example', 'A gauge.');
    let peers = 3;
    r.collector('p2p_peers', 'Number of peers.', 'gauge', [], () => peers);
    sent.inc({ peer_id: 'aa', chID: '0x20' }, 10);
    sent.inc({ peer_id: 'aa', chID: '0x20' }, 5);
    sent.inc({ peer_id: 'bb', chID: '0x0' });
    g.set(undefined, 7);
    g.dec(undefined, 2);
    expect(r.expose()).toBe(
      [
        '# HELP cometbft_p2p_peer_send_bytes_total Bytes sent to a peer.',
        '# TYPE cometbft_p2p_peer_send_bytes_total counter',
        'cometbft_p2p_peer_send_bytes_total{peer_id="aa",chID="0x20"} 15',
        'cometbft_p2p_peer_send_bytes_total{peer_id="bb",chID="0x0"} 1',
        '# HELP cometbft_p2p_example A gauge.',
        '# TYPE cometbft_p2p_example gauge',
        'cometbft_p2p_example 5',
        '# HELP cometbft_p2p_peers Number of peers.',
        '# TYPE cometbft_p2p_peers gauge',
        'cometbft_p2p_peers 3',
        '',
      ].join('\n'),
    );
    peers = 4;
    expect(r.expose()).toContain('cometbft_p2p_peers 4\n');
  });

  it('computes collectors only when scraped', () => {
    const r = new PrometheusRegistry({ namespace: 'x' });
    let calls = 0;
    r.collector('book_size', 'Addresses per table.', 'gauge', ['table'], () => {
      calls++;
      return [
        { labels: { table: 'new' }, value: 12 },
        { labels: { table: 'old' }, value: 3 },
      ];
    });
    expect(calls).toBe(0);
    const text = r.expose();
    expect(calls).toBe(1);
    expect(text).toContain('x_book_size{table="new"} 12\nx_book_size{table="old"} 3\n');
  });

  it('escapes label values and help text; formats special values', () => {
    expect(escapeLabelValue('a"b\\c\nd')).toBe('a\\"b\\\\c\\nd');
    expect(formatSampleValue(NaN)).toBe('NaN');
    expect(formatSampleValue(Infinity)).toBe('+Inf');
    expect(formatSampleValue(-Infinity)).toBe('-Inf');
    expect(formatSampleValue(1.5)).toBe('1.5');
    const r = new PrometheusRegistry({ namespace: 'n' });
    r.counter('c_total', 'line one\nline \\two', ['l']).inc({ l: 'q"uote' });
    expect(r.expose()).toContain('# HELP n_c_total line one\\nline \\\\two\n# TYPE n_c_total counter\nn_c_total{l="q\\"uote"} 1\n');
  });

  it('rejects programming errors: bad names, duplicates, wrong labels, counters going down', () => {
    const r = new PrometheusRegistry({ namespace: 'n' });
    expect(() => new PrometheusRegistry({ namespace: 'bad-ns' })).toThrow(RangeError);
    expect(() => r.counter('bad name', 'h')).toThrow(/invalid metric name/);
    expect(() => r.counter('c', 'h', ['__reserved'])).toThrow(/invalid label name/);
    expect(() => r.counter('c2', 'h', ['a', 'a'])).toThrow(/duplicate label/);
    const c = r.counter('ok_total', 'h', ['a']);
    expect(() => r.gauge('ok_total', 'h')).toThrow(/registered twice/);
    expect(() => c.inc({ b: 'x' })).toThrow(/takes labels \[a\]/);
    expect(() => c.inc()).toThrow(/takes labels/);
    expect(() => c.inc({ a: 'x' }, -1)).toThrow(/only goes up/);
  });

  it('leaves out a collector that throws, reports it, and still serves the rest', () => {
    const errors: string[] = [];
    const r = new PrometheusRegistry({ namespace: 'n', onCollectError: (name) => errors.push(name) });
    r.collector('broken', 'h', 'gauge', [], () => {
      throw new Error('boom');
    });
    r.collector('wrong_labels', 'h', 'gauge', ['a'], () => [{ value: 1 }]);
    r.collector('fine', 'h', 'gauge', [], () => 1);
    expect(r.expose()).toBe('# HELP n_fine h\n# TYPE n_fine gauge\nn_fine 1\n');
    expect(errors).toEqual(['n_broken', 'n_wrong_labels']);
  });

  it('noopMetrics accepts everything', () => {
    noopMetrics.counter('a', 'h', ['x']).inc({ x: '1' });
    noopMetrics.gauge('b', 'h').set(undefined, 1);
    noopMetrics.collector('c', 'h', 'gauge', [], () => 1);
  });
});

function get(port: number, path: string, method = 'GET'): Promise<{ status: number; type: string | undefined; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, type: res.headers['content-type'], body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('MetricsServer', () => {
  it('serves /metrics on 127.0.0.1 and closes cleanly', async () => {
    const r = new PrometheusRegistry({ namespace: 'cometbft' });
    r.collector('p2p_peers', 'Number of peers.', 'gauge', [], () => 2);
    const server = new MetricsServer(r, { host: '127.0.0.1', port: 0 });
    const { port } = await server.listen();
    const res = await get(port, '/metrics');
    expect(res.status).toBe(200);
    expect(res.type).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(res.body).toContain('cometbft_p2p_peers 2\n');
    expect((await get(port, '/nope')).status).toBe(404);
    expect((await get(port, '/metrics', 'POST')).status).toBe(405);
    await server.close();
    await expect(get(port, '/metrics')).rejects.toThrow();
  });

  it('fails to listen on a port in use', async () => {
    const r = new PrometheusRegistry();
    const a = new MetricsServer(r, { host: '127.0.0.1', port: 0 });
    const { port } = await a.listen();
    const b = new MetricsServer(r, { host: '127.0.0.1', port });
    await expect(b.listen()).rejects.toThrow(/EADDRINUSE/);
    await a.close();
    await b.close();
  });
});

describe('exposition format (property)', () => {
  it('any label value and help text yields one well-formed line per sample', async () => {
    const fc = await import('fast-check');
    fc.assert(
      fc.property(fc.array(fc.string(), { minLength: 1, maxLength: 5 }), fc.string(), (values, help) => {
        const r = new PrometheusRegistry({ namespace: 'p' });
        const c = r.counter('x_total', help, ['v']);
        for (const v of values) c.inc({ v });
        const lines = r.expose().split('\n');
        expect(lines[0]).toMatch(/^# HELP p_x_total (?:[^\\\n]|\\\\|\\n)*$/);
        const samples = lines.filter((l) => l.startsWith('p_x_total{'));
        expect(samples).toHaveLength(new Set(values).size);
        for (const s of samples) expect(s).toMatch(/^p_x_total\{v="(?:[^"\\\n]|\\["\\n])*"\} \d+$/);
      }),
      { numRuns: 300 },
    );
  });
});
