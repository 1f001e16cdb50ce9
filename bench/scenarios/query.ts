import type { StoredSession } from '../baselines/bare-yoga.js';
import type { Child } from '../harness/children.js';
import { createAgent, graphqlData } from '../harness/graphql-http.js';
import { AUTH_HEADERS, SESSION_MESSAGES_QUERY } from '../harness/parley-api.js';
import { eachBackend } from '../harness/per-backend.js';
import {
  cpuPerRequest,
  type QueryTiming,
  sessionQueryPlan,
  startQueryLoad,
  throughput,
} from '../harness/query-load.js';
import {
  type Figure,
  measuredTogether,
  type Scenario,
  type ScenarioContext,
} from '../harness/scenario.js';
import { seedSessions } from '../harness/seed.js';
import { type BackendKind, startBareYoga, startParley, type Upstream } from '../harness/targets.js';
import type { QueryLoadMethods, QueryLoadResult } from '../load/http-queries.js';

/**
 * `session { messages(first: 20) { … } }` over HTTP from 50 keep-alive connections, against
 * bare graphql-yoga answering the same sessions from memory. Both servers run at once, each
 * loaded by a generator of its own through the same windows (as in the protection scenario):
 * measured one after the other on a shared machine, the two windows differed by more than the
 * effect, and the ratio moved between runs by half.
 */
const SESSIONS = 10;
const TURNS = 10; // 20 messages per session: the page the query asks for is full
const CONNECTIONS = 50;
/** Per server. */
const TIMING: QueryTiming = { connections: CONNECTIONS, warmupMs: 500, durationMs: 4_000 };
/** Both warmed up first: a fresh server runs its first seconds unoptimized. */
const WARMUP: QueryTiming = { ...TIMING, warmupMs: 3_000, durationMs: 0 };
const WINDOWS = 3;
const SIDES = ['parley', 'bare'] as const;
type Side = (typeof SIDES)[number];

interface SessionPage {
  session: { messages: { edges: { node: StoredSession['messages'][number] }[] } } | null;
}

interface Window {
  result: QueryLoadResult;
  cpuMs: number;
}

async function readSessions(
  httpUrl: string,
  headers: Record<string, string>,
  ids: readonly string[],
): Promise<StoredSession[]> {
  const agent = createAgent(1);
  const sessions: StoredSession[] = [];
  for (const id of ids) {
    const page = await graphqlData<SessionPage>(agent, httpUrl, headers, SESSION_MESSAGES_QUERY, {
      id,
    });
    sessions.push({ id, messages: page.session?.messages.edges.map((edge) => edge.node) ?? [] });
  }
  agent.destroy();
  return sessions;
}

function windowFigures(window: Window) {
  const { requestsPerSecond, p99, requests, errors } = throughput(window.result);
  return {
    requestsPerSecond,
    p99,
    requests,
    errors,
    cpuPerRequestUs: cpuPerRequest(window.cpuMs, requests),
  };
}

async function runBackend(context: ScenarioContext, backend: BackendKind, upstream: Upstream) {
  const parley = await startParley({
    backend,
    redisUrl: context.redisUrl,
    upstreamBaseURL: upstream.baseURL,
  });
  const windows: Record<Side, Window[]> = { parley: [], bare: [] };
  const loads: Partial<Record<Side, Child<QueryLoadMethods>>> = {};
  let sameAnswer: boolean;
  try {
    const ids = await seedSessions(parley.httpUrl, SESSIONS, TURNS);
    const stored = await readSessions(parley.httpUrl, AUTH_HEADERS, ids);
    const bare = await startBareYoga();
    try {
      await bare.child.call('load', stored);
      sameAnswer =
        JSON.stringify(await readSessions(bare.httpUrl, {}, ids.slice(0, 1))) ===
        JSON.stringify(stored.slice(0, 1));
      const plans: Record<Side, (timing: QueryTiming) => ReturnType<typeof sessionQueryPlan>> = {
        parley: (timing) => sessionQueryPlan(parley.httpUrl, AUTH_HEADERS, ids, timing),
        bare: (timing) => sessionQueryPlan(bare.httpUrl, {}, ids, timing),
      };
      for (const side of SIDES) loads[side] = await startQueryLoad();
      const bothAtOnce = (timing: QueryTiming) =>
        Promise.all(SIDES.map((side) => loads[side]!.call('run', plans[side](timing))));
      context.log(
        `${backend}: ${ids.length} sessions of ${stored[0]?.messages.length} messages (same answer: ${sameAnswer}); ` +
          `${WINDOWS} windows of ${TIMING.durationMs} ms, Parley and bare yoga at once`,
      );
      await bothAtOnce(WARMUP);
      const servers = { parley: parley.child, bare: bare.child };
      for (let index = 1; index <= WINDOWS; index++) {
        const targets = SIDES.map((side) => ({
          server: servers[side],
          label: `${backend}-${side}-${index}`,
        }));
        const { result, stats } = await measuredTogether(targets, context, () =>
          bothAtOnce(TIMING),
        );
        for (const [at, side] of SIDES.entries()) {
          windows[side].push({ result: result[at]!, cpuMs: stats[at]!.cpuMs });
        }
        context.measurements.note([backend, 'windows'], {
          parley: windows.parley.map(windowFigures),
          bare: windows.bare.map(windowFigures),
        });
      }
    } finally {
      await Promise.all(Object.values(loads).map((load) => load.stop()));
      await bare.stop();
    }
  } finally {
    await parley.stop();
  }

  const side = (name: Side) => {
    const total = throughput(...windows[name].map((window) => window.result));
    const cpuMs = windows[name].reduce((sum, window) => sum + window.cpuMs, 0);
    return { ...total, cpuMs, cpuPerRequestUs: cpuPerRequest(cpuMs, total.requests) };
  };
  const ours = side('parley');
  const baseline = side('bare');
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
      value: ours.cpuPerRequestUs,
      baseline: baseline.cpuPerRequestUs,
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
  return {
    figures,
    details: {
      parley: ours,
      bare: baseline,
      windows: { parley: windows.parley.map(windowFigures), bare: windows.bare.map(windowFigures) },
      sameAnswer,
    },
  };
}

export const query: Scenario = {
  name: 'query',
  description: `session { messages(first: 20) } from ${CONNECTIONS} connections vs bare graphql-yoga, side by side`,
  budgetSeconds: 110,
  run: (context) =>
    eachBackend(
      context,
      {
        sessions: SESSIONS,
        messagesPerSession: TURNS * 2,
        ...TIMING,
        warmupBothMs: WARMUP.warmupMs,
        windows: WINDOWS,
        schedule: 'Parley and bare yoga at once, one load generator each',
      },
      (backend, upstream) => runBackend(context, backend, upstream),
    ),
};
