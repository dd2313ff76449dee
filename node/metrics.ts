/**
 * A small metrics interface and its Prometheus implementation, written by hand (text exposition
 * format 0.0.4). Components count through `Metrics`; values that already live somewhere (peer
 * counts, queue sizes, book sizes) are registered as collectors and computed only at scrape
 * time, so the hot path pays nothing for them.
 */

export type Labels = Readonly<Record<string, string>>;

export interface Counter {
  /** Adds `value` (default 1, must be >= 0) to the series with these labels. */
  inc(labels?: Labels, value?: number): void;
}

export interface Gauge {
  set(labels: Labels | undefined, value: number): void;
  inc(labels?: Labels, value?: number): void;
  dec(labels?: Labels, value?: number): void;
}

export interface Sample {
  labels?: Labels;
  value: number;
}

export type MetricType = 'counter' | 'gauge';

export interface Metrics {
  /** `name` without the namespace, e.g. "p2p_peer_send_bytes_total". */
  counter(name: string, help: string, labelNames?: readonly string[]): Counter;
  gauge(name: string, help: string, labelNames?: readonly string[]): Gauge;
  /** A metric whose samples `collect` computes at scrape time. */
  collector(name: string, help: string, type: MetricType, labelNames: readonly string[], collect: () => Iterable<Sample> | number): void;
}

/** Metrics that go nowhere: the default for components built without a registry. */
export const noopMetrics: Metrics = {
  counter: () => ({ inc: () => undefined }),
  gauge: () => ({ set: () => undefined, inc: () => undefined, dec: () => undefined }),
  collector: () => undefined,
};

const NAME_RE = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_RE = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

export function escapeLabelValue(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function escapeHelp(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

export function formatSampleValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}

interface Series {
  labels: Labels;
  value: number;
}

interface MetricEntry {
  fullName: string;
  help: string;
  type: MetricType;
  labelNames: readonly string[];
  series: Map<string, Series> | undefined;
  collect: (() => Iterable<Sample> | number) | undefined;
}

export interface PrometheusRegistryOptions {
  /** Prefix of every name ("cometbft" gives cometbft_p2p_peers). Default "cometbft". */
  namespace?: string;
  /** Told about a collector that threw during a scrape; its samples are left out of that scrape. */
  onCollectError?: (name: string, err: unknown) => void;
}

export class PrometheusRegistry implements Metrics {
  readonly namespace: string;
  private readonly entries = new Map<string, MetricEntry>();
  private readonly onCollectError: ((name: string, err: unknown) => void) | undefined;

  constructor(options: PrometheusRegistryOptions = {}) {
    this.namespace = options.namespace ?? 'cometbft';
    if (!LABEL_RE.test(this.namespace)) throw new RangeError(`invalid metric namespace "${this.namespace}"`);
    this.onCollectError = options.onCollectError;
  }

  counter(name: string, help: string, labelNames: readonly string[] = []): Counter {
    const e = this.register(name, help, 'counter', labelNames, undefined);
    return {
      inc: (labels, value = 1) => {
        if (!(value >= 0)) throw new RangeError(`${e.fullName}: a counter only goes up (got ${value})`);
        this.seriesFor(e, labels).value += value;
      },
    };
  }

  gauge(name: string, help: string, labelNames: readonly string[] = []): Gauge {
    const e = this.register(name, help, 'gauge', labelNames, undefined);
    return {
      set: (labels, value) => {
        this.seriesFor(e, labels).value = value;
      },
      inc: (labels, value = 1) => {
        this.seriesFor(e, labels).value += value;
      },
      dec: (labels, value = 1) => {
        this.seriesFor(e, labels).value -= value;
      },
    };
  }

  collector(name: string, help: string, type: MetricType, labelNames: readonly string[], collect: () => Iterable<Sample> | number): void {
    this.register(name, help, type, labelNames, collect);
  }

  /** The whole registry in Prometheus text format, metrics in registration order. */
  expose(): string {
    const out: string[] = [];
    for (const e of this.entries.values()) {
      let samples: Sample[];
      if (e.collect) {
        try {
          const r = e.collect();
          samples = typeof r === 'number' ? [{ value: r }] : [...r];
          for (const s of samples) this.checkLabels(e, s.labels);
        } catch (err) {
          this.onCollectError?.(e.fullName, err);
          continue;
        }
      } else {
        samples = [...e.series!.values()];
      }
      out.push(`# HELP ${e.fullName} ${escapeHelp(e.help)}`);
      out.push(`# TYPE ${e.fullName} ${e.type}`);
      for (const s of samples) out.push(`${e.fullName}${formatLabels(e.labelNames, s.labels)} ${formatSampleValue(s.value)}`);
    }
    return out.length === 0 ? '' : `${out.join('\n')}\n`;
  }

  private register(
    name: string,
    help: string,
    type: MetricType,
    labelNames: readonly string[],
    collect: (() => Iterable<Sample> | number) | undefined,
  ): MetricEntry {
    const fullName = `${this.namespace}_${name}`;
    if (!NAME_RE.test(fullName)) throw new RangeError(`invalid metric name "${fullName}"`);
    if (this.entries.has(fullName)) throw new RangeError(`metric ${fullName} is registered twice`);
    for (const l of labelNames) {
      if (!LABEL_RE.test(l) || l.startsWith('__')) throw new RangeError(`invalid label name "${l}" on ${fullName}`);
    }
    if (new Set(labelNames).size !== labelNames.length) throw new RangeError(`duplicate label name on ${fullName}`);
    const e: MetricEntry = { fullName, help, type, labelNames: [...labelNames], series: collect ? undefined : new Map(), collect };
    this.entries.set(fullName, e);
    return e;
  }

  private checkLabels(e: MetricEntry, labels: Labels | undefined): void {
    const given = labels ? Object.keys(labels) : [];
    if (given.length !== e.labelNames.length || !e.labelNames.every((l) => labels && typeof labels[l] === 'string')) {
      throw new RangeError(`${e.fullName} takes labels [${e.labelNames.join(', ')}], got [${given.join(', ')}]`);
    }
  }

  private seriesFor(e: MetricEntry, labels: Labels | undefined): Series {
    this.checkLabels(e, labels);
    const key = e.labelNames.map((l) => labels![l]).join('\u0000');
    let s = e.series!.get(key);
    if (!s) {
      s = { labels: labels ? { ...labels } : {}, value: 0 };
      e.series!.set(key, s);
    }
    return s;
  }
}

function formatLabels(names: readonly string[], labels: Labels | undefined): string {
  if (names.length === 0 || !labels) return '';
  return `{${names.map((n) => `${n}="${escapeLabelValue(labels[n])}"`).join(',')}}`;
}
