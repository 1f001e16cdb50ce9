import type { StoredSession } from '../baselines/bare-yoga.js';
import { createAgent, graphqlData } from '../harness/graphql-http.js';
import { AUTH_HEADERS, SESSION_MESSAGES_QUERY } from '../harness/parley-api.js';
import { eachBackend } from '../harness/per-backend.js';
import { sessionQueryPlan } from '../harness/query-load.js';
import type { Figure, Scenario, ScenarioContext } from '../harness/scenario.js';
import { seedSessions } from '../harness/seed.js';
import {
  type LoadWindow,
  SIDE_BY_SIDE_TIMING,
  SIDE_BY_SIDE_WARMUP,
  SIDE_BY_SIDE_WINDOWS,
  sideBySide,
  totalOf,
  windowFigures,
} from '../harness/side-by-side.js';
import { type BackendKind, startBareYoga, startParley, type Upstream } from '../harness/targets.js';

/**
 * `session { messages(first: 20) { … } }` over HTTP from 50 keep-alive connections, against
 * bare graphql-yoga answering the same sessions from memory, both at once (harness/side-by-side.ts,
 * as in the protection scenario): measured one after the other on a shared machine, the two
 * windows differed by more than the effect, and the ratio moved between runs by half.
 */
const SESSIONS = 10;
const TURNS = 10; // 20 messages per session: the page the query asks for is full

interface SessionPage {
  session: { messages: { edges: { node: StoredSession['messages'][number] }[] } } | null;
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

async function runBackend(context: ScenarioContext, backend: BackendKind, upstream: Upstream) {
  const parley = await startParley({
    backend,
    redisUrl: context.redisUrl,
    upstreamBaseURL: upstream.baseURL,
  });
  let windows: Record<'parley' | 'bare', LoadWindow[]>;
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
      context.log(
        `${backend}: ${ids.length} sessions of ${stored[0]?.messages.length} messages (same answer: ${sameAnswer}); ` +
          `${SIDE_BY_SIDE_WINDOWS} windows of ${SIDE_BY_SIDE_TIMING.durationMs} ms, Parley and bare yoga at once`,
      );
      windows = await sideBySide(
        context,
        backend,
        { parley: parley.child, bare: bare.child },
        (side, timing) =>
          side === 'parley'
            ? sessionQueryPlan(parley.httpUrl, AUTH_HEADERS, ids, timing)
            : sessionQueryPlan(bare.httpUrl, {}, ids, timing),
      );
    } finally {
      await bare.stop();
    }
  } finally {
    await parley.stop();
  }

  const ours = totalOf(windows.parley);
  const baseline = totalOf(windows.bare);
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
  description: `session { messages(first: 20) } from ${SIDE_BY_SIDE_TIMING.connections} connections vs bare graphql-yoga, side by side`,
  budgetSeconds: 110,
  run: (context) =>
    eachBackend(
      context,
      {
        sessions: SESSIONS,
        messagesPerSession: TURNS * 2,
        ...SIDE_BY_SIDE_TIMING,
        warmupBothMs: SIDE_BY_SIDE_WARMUP.warmupMs,
        windows: SIDE_BY_SIDE_WINDOWS,
        schedule: 'Parley and bare yoga at once, one load generator each',
      },
      (backend, upstream) => runBackend(context, backend, upstream),
    ),
};
