import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

/** What the gauges read when Prometheus scrapes (each value read then, nothing kept). */
export interface MetricSources {
  openWebSockets: () => number;
  openSubscriptions: () => number;
  runningGenerations: () => number;
  breakers: () => readonly { name: string; state: 'CLOSED' | 'HALF_OPEN' | 'OPEN' }[];
}

const BREAKER_STATE_VALUE = { CLOSED: 0, HALF_OPEN: 1, OPEN: 2 } as const;

/** At most this many operation names become label values; the rest are counted as "other". */
const MAX_OPERATION_NAMES = 100;
const OPERATION_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;

/**
 * The Prometheus registry of one app: GraphQL operations by type, bounded name and result with
 * their durations, open WebSockets and subscriptions, running answers, breaker states, and the
 * process defaults. Label values are bounded: no ids, no free text.
 */
export class Metrics {
  readonly registry = new Registry();
  private readonly operations: Counter<'type' | 'name' | 'result'>;
  private readonly operationSeconds: Histogram<'type' | 'result'>;
  private readonly names = new Set<string>();

  constructor(sources: MetricSources) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });
    this.operations = new Counter({
      name: 'parley_graphql_operations_total',
      help: 'GraphQL operations executed, by type, operation name (bounded) and result (ok or the error code).',
      labelNames: ['type', 'name', 'result'],
      registers,
    });
    this.operationSeconds = new Histogram({
      name: 'parley_graphql_operation_duration_seconds',
      help: 'Time to execute a GraphQL operation (subscriptions: to subscribe).',
      labelNames: ['type', 'result'],
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    });
    const gauge = (name: string, help: string, read: () => number) =>
      new Gauge({
        name,
        help,
        registers,
        collect() {
          this.set(read());
        },
      });
    gauge('parley_websockets_open', 'Open WebSocket connections.', sources.openWebSockets);
    gauge(
      'parley_subscriptions_open',
      'Open messageStream subscriptions.',
      sources.openSubscriptions,
    );
    gauge(
      'parley_generations_running',
      'Answers streaming on this instance.',
      sources.runningGenerations,
    );
    new Gauge({
      name: 'parley_breaker_state',
      help: 'Circuit breaker state: 0 closed, 1 half-open, 2 open.',
      labelNames: ['breaker'],
      registers,
      collect() {
        for (const breaker of sources.breakers()) {
          this.set({ breaker: breaker.name }, BREAKER_STATE_VALUE[breaker.state]);
        }
      },
    });
  }

  /** One operation: its type, name as the client gave it, result and duration. */
  recordOperation(type: string, name: string | undefined, result: string, seconds: number): void {
    this.operations.inc({ type, name: this.boundedName(name), result });
    this.operationSeconds.observe({ type, result }, seconds);
  }

  private boundedName(name: string | undefined): string {
    if (!name) return 'anonymous';
    if (!OPERATION_NAME.test(name)) return 'other';
    if (this.names.has(name)) return name;
    if (this.names.size >= MAX_OPERATION_NAMES) return 'other';
    this.names.add(name);
    return name;
  }
}
