import type { StoredSession } from '../baselines/bare-yoga.js';
import { createAgent, graphqlData } from '../harness/graphql-http.js';
import { AUTH_HEADERS, SESSION_MESSAGES_QUERY } from '../harness/parley-api.js';
import { eachBackend } from '../harness/per-backend.js';
import { type Figure, measured, type Scenario, type ScenarioContext } from '../harness/scenario.js';
import { seedSessions } from '../harness/seed.js';
import { summarize } from '../harness/stats.js';
import {
  type BackendKind,
  startBareYoga,
  startLoad,
  startParley,
  type Upstream,
} from '../harness/targets.js';
import type { QueryLoadMethods, QueryLoadPlan, QueryLoadResult } from '../load/http-queries.js';

/**
 * `session { messages(first: 20) { … } }` over HTTP from 50 keep-alive connections, against
 * bare graphql-yoga answering the same sessions from memory.
 */
const SESSIONS = 10;
const TURNS = 10; // 20 messages per session: the page the query asks for is full
const CONNECTIONS = 50;
const WARMUP_MS = 1_500;
const DURATION_MS = 6_000;

interface SessionPage {
  session: { messages: { edges: { node: StoredSession['messages'][number] }[] } } | null;
}

async function readSessions(httpUrl: string, ids: readonly string[]): Promise<StoredSession[]> {
  const agent = createAgent(1);
  const sessions: StoredSession[] = [];
  for (const id of ids) {
    const page = await graphqlData<SessionPage>(
      agent,
      httpUrl,
      AUTH_HEADERS,
      SESSION_MESSAGES_QUERY,
      { id },
    );
    sessions.push({ id, messages: page.session?.messages.edges.map((edge) => edge.node) ?? [] });
  }
  agent.destroy();
  return sessions;
}

function loadPlan(
  url: string,
  headers: Record<string, string>,
  ids: readonly string[],
): QueryLoadPlan {
  return {
    url,
    headers,
    bodies: ids.map((id) => JSON.stringify({ query: SESSION_MESSAGES_QUERY, variables: { id } })),
    connections: CONNECTIONS,
    warmupMs: WARMUP_MS,
    durationMs: DURATION_MS,
  };
}

async function runLoad(plan: QueryLoadPlan): Promise<QueryLoadResult> {
  const load = await startLoad<QueryLoadMethods>('query-load', 'load/http-queries.ts');
  try {
    return await load.call('run', plan);
  } finally {
    await load.stop();
  }
}

function throughput(result: QueryLoadResult) {
  const latency = summarize(result.latenciesMs);
  return {
    requestsPerSecond: result.requests / (result.elapsedMs / 1000),
    p50: latency.p50,
    p99: latency.p99,
    requests: result.requests,
    errors: result.errors,
    firstError: result.firstError,
  };
}

async function runBackend(context: ScenarioContext, backend: BackendKind, upstream: Upstream) {
  const parley = await startParley({
    backend,
    redisUrl: context.redisUrl,
    upstreamBaseURL: upstream.baseURL,
  });
  let ids: string[];
  let stored: StoredSession[];
  let ours: ReturnType<typeof throughput>;
  let oursCpuMs: number;
  try {
    ids = await seedSessions(parley.httpUrl, SESSIONS, TURNS);
    stored = await readSessions(parley.httpUrl, ids);
    context.log(
      `${backend}: ${ids.length} sessions of ${stored[0]?.messages.length} messages; measuring Parley`,
    );
    const run = await measured(parley.child, context, `${backend}-parley`, () =>
      runLoad(loadPlan(parley.httpUrl, AUTH_HEADERS, ids)),
    );
    ours = throughput(run.result);
    oursCpuMs = run.stats.cpuMs;
    context.measurements.note([backend, 'parley'], ours);
  } finally {
    await parley.stop();
  }

  const bare = await startBareYoga();
  let baseline: ReturnType<typeof throughput>;
  let bareCpuMs: number;
  let sameAnswer: boolean;
  try {
    await bare.child.call('load', stored);
    sameAnswer =
      JSON.stringify(await readSessions(bare.httpUrl, ids.slice(0, 1))) ===
      JSON.stringify(stored.slice(0, 1));
    context.log(`${backend}: measuring bare yoga (same answer: ${sameAnswer})`);
    const run = await measured(bare.child, context, `${backend}-bare`, () =>
      runLoad(loadPlan(bare.httpUrl, {}, ids)),
    );
    baseline = throughput(run.result);
    bareCpuMs = run.stats.cpuMs;
    context.measurements.note([backend, 'bare'], baseline);
  } finally {
    await bare.stop();
  }

  const cpuPerRequest = (cpuMs: number, requests: number) => (cpuMs * 1000) / Math.max(1, requests);
  const figures: Figure[] = [
    {
      backend,
      metric: 'requests/s',
      unit: 'req/s',
      value: ours.requestsPerSecond,
      baseline: baseline.requestsPerSecond,
      goal: { on: 'ratio', atLeast: 0.8 },
    },
    { backend, metric: 'latency p50', unit: 'ms', value: ours.p50, baseline: baseline.p50 },
    { backend, metric: 'latency p99', unit: 'ms', value: ours.p99, baseline: baseline.p99 },
    {
      backend,
      metric: 'server CPU per request',
      unit: 'µs',
      value: cpuPerRequest(oursCpuMs, ours.requests),
      baseline: cpuPerRequest(bareCpuMs, baseline.requests),
    },
    {
      backend,
      metric: 'errors',
      unit: 'count',
      value: ours.errors,
      baseline: baseline.errors,
      goal: { on: 'value', atMost: 0 },
    },
  ];
  return { figures, details: { parley: ours, bare: baseline, sameAnswer, oursCpuMs, bareCpuMs } };
}

export const query: Scenario = {
  name: 'query',
  description: `session { messages(first: 20) } from ${CONNECTIONS} connections vs bare graphql-yoga`,
  budgetSeconds: 110,
  run: (context) =>
    eachBackend(
      context,
      {
        sessions: SESSIONS,
        messagesPerSession: TURNS * 2,
        connections: CONNECTIONS,
        warmupMs: WARMUP_MS,
        durationMs: DURATION_MS,
      },
      (backend, upstream) => runBackend(context, backend, upstream),
    ),
};
