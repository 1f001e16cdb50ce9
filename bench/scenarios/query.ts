import type { StoredSession } from '../baselines/bare-yoga.js';
import { createAgent, graphqlData } from '../harness/graphql-http.js';
import { AUTH_HEADERS, SESSION_MESSAGES_QUERY } from '../harness/parley-api.js';
import { eachBackend } from '../harness/per-backend.js';
import {
  cpuPerRequest,
  type QueryTiming,
  runQueryLoad,
  sessionQueryPlan,
  type Throughput,
  throughput,
} from '../harness/query-load.js';
import { type Figure, measured, type Scenario, type ScenarioContext } from '../harness/scenario.js';
import { seedSessions } from '../harness/seed.js';
import { type BackendKind, startBareYoga, startParley, type Upstream } from '../harness/targets.js';

/**
 * `session { messages(first: 20) { … } }` over HTTP from 50 keep-alive connections, against
 * bare graphql-yoga answering the same sessions from memory.
 */
const SESSIONS = 10;
const TURNS = 10; // 20 messages per session: the page the query asks for is full
const CONNECTIONS = 50;
const TIMING: QueryTiming = { connections: CONNECTIONS, warmupMs: 1_500, durationMs: 6_000 };

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

async function runBackend(context: ScenarioContext, backend: BackendKind, upstream: Upstream) {
  const parley = await startParley({
    backend,
    redisUrl: context.redisUrl,
    upstreamBaseURL: upstream.baseURL,
  });
  let ids: string[];
  let stored: StoredSession[];
  let ours: Throughput;
  let oursCpuMs: number;
  try {
    ids = await seedSessions(parley.httpUrl, SESSIONS, TURNS);
    stored = await readSessions(parley.httpUrl, ids);
    context.log(
      `${backend}: ${ids.length} sessions of ${stored[0]?.messages.length} messages; measuring Parley`,
    );
    const run = await measured(parley.child, context, `${backend}-parley`, () =>
      runQueryLoad(sessionQueryPlan(parley.httpUrl, AUTH_HEADERS, ids, TIMING)),
    );
    ours = throughput(run.result);
    oursCpuMs = run.stats.cpuMs;
    context.measurements.note([backend, 'parley'], ours);
  } finally {
    await parley.stop();
  }

  const bare = await startBareYoga();
  let baseline: Throughput;
  let bareCpuMs: number;
  let sameAnswer: boolean;
  try {
    await bare.child.call('load', stored);
    sameAnswer =
      JSON.stringify(await readSessions(bare.httpUrl, ids.slice(0, 1))) ===
      JSON.stringify(stored.slice(0, 1));
    context.log(`${backend}: measuring bare yoga (same answer: ${sameAnswer})`);
    const run = await measured(bare.child, context, `${backend}-bare`, () =>
      runQueryLoad(sessionQueryPlan(bare.httpUrl, {}, ids, TIMING)),
    );
    baseline = throughput(run.result);
    bareCpuMs = run.stats.cpuMs;
    context.measurements.note([backend, 'bare'], baseline);
  } finally {
    await bare.stop();
  }

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
      goal: { on: 'ratio', atMost: 1.25 },
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
        ...TIMING,
      },
      (backend, upstream) => runBackend(context, backend, upstream),
    ),
};
