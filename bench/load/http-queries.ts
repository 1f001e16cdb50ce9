import { createAgent, postBody } from '../harness/graphql-http.js';
import { serve } from '../harness/rpc.js';
import { SampleSet } from '../harness/stats.js';

/**
 * Closed-loop HTTP load: `connections` workers, each on its own keep-alive connection, sending
 * the next request as soon as the last answered, for a warm-up and then a measured window.
 */
export interface QueryLoadPlan {
  url: string;
  headers: Record<string, string>;
  /** Request bodies, taken in turn (one per session). */
  bodies: string[];
  connections: number;
  warmupMs: number;
  durationMs: number;
}

export interface QueryLoadResult {
  requests: number;
  errors: number;
  firstError: string | undefined;
  elapsedMs: number;
  /** Latency of each measured request, ms. */
  latenciesMs: Float64Array;
}

async function run(plan: QueryLoadPlan): Promise<QueryLoadResult> {
  const agent = createAgent(plan.connections);
  const url = new URL(plan.url);
  const bodies = plan.bodies.map((body) => Buffer.from(body));
  const latencies = new SampleSet();
  let errors = 0;
  let firstError: string | undefined;
  let requests = 0;
  const started = performance.now();
  const measureFrom = started + plan.warmupMs;
  const stopAt = measureFrom + plan.durationMs;
  let next = 0;

  const worker = async () => {
    while (performance.now() < stopAt) {
      const body = bodies[next++ % bodies.length]!;
      const sent = performance.now();
      const failure = await postBody(agent, url, body, plan.headers).then(
        (response) =>
          response.status !== 200 || response.body.includes('"errors"')
            ? `${response.status} ${response.body.slice(0, 200)}`
            : undefined,
        (error: unknown) => String(error),
      );
      const received = performance.now();
      if (sent < measureFrom) continue;
      requests++;
      latencies.add(received - sent);
      if (failure) {
        errors++;
        firstError ??= failure;
      }
    }
  };
  await Promise.all(Array.from({ length: plan.connections }, worker));
  agent.destroy();
  return {
    requests,
    errors,
    firstError,
    elapsedMs: performance.now() - measureFrom,
    latenciesMs: latencies.toArray(),
  };
}

const methods = { run };
export type QueryLoadMethods = typeof methods;
serve(methods);
