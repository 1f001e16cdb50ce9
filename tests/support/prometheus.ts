import {
  getMetricsFromIterator,
  type PromData,
  type PromHistogramData,
  type PromMetrics,
} from 'prom2javascript';
import type { TestServer } from './server.js';

type Labels = Record<string, string>;

const matches = (labels: Labels, wanted: Labels) =>
  Object.entries(wanted).every(([key, value]) => labels[key] === value);

/**
 * One scrape of GET /metrics, parsed by prom2javascript (a Prometheus text-format parser that
 * also checks each histogram: its +Inf bucket must equal its count). Values asked for are summed
 * over every series whose labels include the given ones; none counts as 0.
 */
export class Scrape {
  constructor(readonly metrics: PromMetrics) {}

  /** The TYPE line of a family ("counter", "gauge", "histogram"), undefined when absent. */
  typeOf(name: string): string | undefined {
    return this.metrics[name]?.type;
  }

  series(name: string): (PromData | PromHistogramData)[] {
    return (this.metrics[name]?.data ?? []) as (PromData | PromHistogramData)[];
  }

  /** A counter or gauge. */
  value(name: string, labels: Labels = {}): number {
    return (this.series(name) as PromData[])
      .filter((sample) => matches(sample.labels, labels))
      .reduce((sum, sample) => sum + sample.value, 0);
  }

  /** A histogram's observation count and sum. */
  histogram(name: string, labels: Labels = {}): { count: number; sum: number } {
    return (this.series(name) as PromHistogramData[])
      .filter((sample) => matches(sample.labels, labels))
      .reduce(
        (total, sample) => ({
          count: total.count + sample.count,
          sum: total.sum + (sample.sum ?? 0),
        }),
        { count: 0, sum: 0 },
      );
  }

  /** Every value one label takes in a family. */
  labelValues(name: string, label: string): string[] {
    return [...new Set(this.series(name).flatMap((sample) => sample.labels[label] ?? []))];
  }
}

/**
 * prom-client writes NaN as `Nan`, which Prometheus reads (case-insensitively) but this parser
 * does not know. Only the process defaults' event-loop gauges are ever NaN (no sample since
 * the last scrape): those lines are left out, any other NaN fails the test.
 */
function withoutNaN(text: string): string[] {
  return text.split('\n').filter((line) => {
    if (!/ Nan$/.test(line)) return true;
    if (!line.startsWith('nodejs_eventloop_lag_')) throw new Error(`unexpected NaN: ${line}`);
    return false;
  });
}

export async function parseMetrics(text: string): Promise<Scrape> {
  return new Scrape(await getMetricsFromIterator(withoutNaN(text)[Symbol.iterator]()));
}

export function fetchMetrics(server: Pick<TestServer, 'httpUrl'>, token?: string) {
  return fetch(server.httpUrl.replace('/graphql', '/metrics'), {
    headers: token ? { authorization: `Bearer ${token}` } : {},
  });
}

/** GET /metrics (answered 200) and parse it. */
export async function scrape(server: Pick<TestServer, 'httpUrl'>): Promise<Scrape> {
  const response = await fetchMetrics(server);
  if (response.status !== 200) throw new Error(`GET /metrics answered ${response.status}`);
  return parseMetrics(await response.text());
}
