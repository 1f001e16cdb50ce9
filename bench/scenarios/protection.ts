import { bucketScriptRoundTrips } from '../harness/bucket-script.js';
import { createAgent, type GraphQLResult, postBody } from '../harness/graphql-http.js';
import { AUTH_HEADERS, SESSION_MESSAGES_QUERY } from '../harness/parley-api.js';
import { type BackendOutcome, eachBackend } from '../harness/per-backend.js';
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
import type { Summary } from '../harness/stats.js';
import {
  type BackendKind,
  POINT_BUCKET_ENV,
  type ServerTarget,
  startParley,
  type Upstream,
} from '../harness/targets.js';
import type { ParleyMethods } from '../targets/parley.js';

/**
 * What protection costs: the query scenario's load on Parley with cost limiting on (the default)
 * and on Parley with COST_LIMITING=off, both at once (harness/side-by-side.ts). The bucket is as large as config allows (POINT_BUCKET_ENV): it never
 * refuses, and both do the same work but for the cost limiting itself (graphql-armor's limits run
 * in both). On Redis also the bucket script's round trip, next to a PING's.
 */
const SESSIONS = 10;
const TURNS = 10;
type Mode = 'on' | 'off';
const SCRIPT_WARMUP = 200;
const SCRIPT_ROUND_TRIPS = 2_000;

type Servers = Record<Mode, ServerTarget<ParleyMethods>>;

/** One query's answer as a client sees it: how many messages, and the cost it was charged. */
async function probeAnswer(httpUrl: string, id: string) {
  const agent = createAgent(1);
  try {
    const response = await postBody(
      agent,
      new URL(httpUrl),
      JSON.stringify({ query: SESSION_MESSAGES_QUERY, variables: { id } }),
      AUTH_HEADERS,
    );
    const answer = JSON.parse(response.body) as GraphQLResult<{
      session: { messages: { edges: unknown[] } } | null;
    }> & { extensions?: { cost?: { requested: number; actual: number } } };
    return {
      status: response.status,
      messages: answer.data?.session?.messages.edges.length ?? 0,
      cost: answer.extensions?.cost ?? null,
      rateLimitHeader: response.headers['ratelimit-limit'] ?? null,
    };
  } finally {
    agent.destroy();
  }
}

function scriptFigures(trips: { script: Summary; ping: Summary }): Figure[] {
  return (['p50', 'p99'] as const).map((percentile) => ({
    backend: 'redis',
    metric: `bucket script round trip ${percentile} (bare: PING)`,
    unit: 'ms',
    value: trips.script[percentile],
    baseline: trips.ping[percentile],
  }));
}

/**
 * The check that makes the ratio mean something: the protected server charges every query
 * (extensions.cost, RateLimit headers) and the baseline none, and both answer the same page.
 */
async function checkModes(servers: Servers, ids: Record<Mode, string[]>) {
  const [on, off] = await Promise.all([
    probeAnswer(servers.on.httpUrl, ids.on[0]!),
    probeAnswer(servers.off.httpUrl, ids.off[0]!),
  ]);
  const check = { on, off };
  if (on.status !== 200 || off.status !== 200 || on.messages !== off.messages) {
    throw new Error(`the two servers answer differently: ${JSON.stringify(check)}`);
  }
  if (!on.cost || !on.rateLimitHeader) {
    throw new Error(`COST_LIMITING=on charged nothing: ${JSON.stringify(on)}`);
  }
  if (off.cost || off.rateLimitHeader) {
    throw new Error(
      `COST_LIMITING=off still charges every operation (extensions.cost ${JSON.stringify(off.cost)}): ` +
        'no baseline to measure protection against',
    );
  }
  return check;
}

/** Both modes' servers, seeded; stops whichever started when the other did not. */
async function startServers(context: ScenarioContext, backend: BackendKind, upstream: Upstream) {
  const start = (mode: Mode) =>
    startParley({
      backend,
      redisUrl: context.redisUrl,
      upstreamBaseURL: upstream.baseURL,
      env: { COST_LIMITING: mode },
    });
  const [on, off] = await Promise.allSettled([start('on'), start('off')]);
  const started = [on, off].flatMap((outcome) =>
    outcome.status === 'fulfilled' ? [outcome.value] : [],
  );
  const stop = () => Promise.all(started.map((server) => server.stop())).then(() => {});
  try {
    if (on.status === 'rejected') throw on.reason;
    if (off.status === 'rejected') throw off.reason;
    const servers: Servers = { on: on.value, off: off.value };
    const [onIds, offIds] = await Promise.all([
      seedSessions(servers.on.httpUrl, SESSIONS, TURNS),
      seedSessions(servers.off.httpUrl, SESSIONS, TURNS),
    ]);
    return { servers, ids: { on: onIds, off: offIds }, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

async function runBackend(
  context: ScenarioContext,
  backend: BackendKind,
  upstream: Upstream,
): Promise<BackendOutcome> {
  const { servers, ids, stop } = await startServers(context, backend, upstream);
  let windows: Record<Mode, LoadWindow[]>;
  let check: Awaited<ReturnType<typeof checkModes>>;
  try {
    check = await checkModes(servers, ids);
    context.log(
      `${backend}: seeded; ${SIDE_BY_SIDE_WINDOWS} windows of ${SIDE_BY_SIDE_TIMING.durationMs} ms, on and off at once`,
    );
    windows = await sideBySide(
      context,
      backend,
      { on: servers.on.child, off: servers.off.child },
      (mode, timing) => sessionQueryPlan(servers[mode].httpUrl, AUTH_HEADERS, ids[mode], timing),
    );
  } finally {
    await stop();
  }
  return outcome(backend, windows, check);
}

function outcome(
  backend: BackendKind,
  windows: Record<Mode, LoadWindow[]>,
  check: Awaited<ReturnType<typeof checkModes>>,
): BackendOutcome {
  const on = totalOf(windows.on);
  const off = totalOf(windows.off);
  const figures: Figure[] = [
    {
      backend,
      metric: 'requests/s',
      unit: 'req/s',
      value: on.requestsPerSecond,
      baseline: off.requestsPerSecond,
      goal: { on: 'ratio', atLeast: 0.9 },
    },
    {
      backend,
      metric: 'server CPU per request',
      unit: 'µs',
      value: on.cpuPerRequestUs,
      baseline: off.cpuPerRequestUs,
      goal: { on: 'ratio', atMost: 1.1 },
    },
    { backend, metric: 'latency p50', unit: 'ms', value: on.p50, baseline: off.p50 },
    { backend, metric: 'latency p99', unit: 'ms', value: on.p99, baseline: off.p99 },
    {
      backend,
      metric: 'errors',
      unit: 'count',
      value: on.errors,
      baseline: off.errors,
      goal: { on: 'value', atMost: 0 },
    },
  ];
  const pointsSpentPerSecond = (check.on.cost?.requested ?? 0) * on.requestsPerSecond;
  return {
    figures,
    details: {
      on,
      off,
      windows: { on: windows.on.map(windowFigures), off: windows.off.map(windowFigures) },
      check,
      bucket: { ...POINT_BUCKET_ENV, pointsSpentPerSecond },
    },
  };
}

export const protection: Scenario = {
  name: 'protection',
  description: `the query load with cost limiting on (Parley) vs COST_LIMITING=off (bare), and the Redis bucket script's round trip`,
  budgetSeconds: 140,
  run: async (context) => {
    // First, on a quiet machine, and recorded even when a backend's windows fail.
    if (context.backends.includes('redis')) {
      context.log('redis: bucket script round trips');
      const trips = await bucketScriptRoundTrips({
        redisUrl: context.redisUrl,
        policy: {
          limit: Number(POINT_BUCKET_ENV.RATE_LIMIT_POINTS),
          restoreRate: Number(POINT_BUCKET_ENV.RATE_LIMIT_RESTORE_RATE),
        },
        warmup: SCRIPT_WARMUP,
        roundTrips: SCRIPT_ROUND_TRIPS,
        signal: context.signal,
      });
      context.measurements.addFigures(scriptFigures(trips));
      context.measurements.note(['bucketScript'], trips);
    }
    await eachBackend(
      context,
      {
        sessions: SESSIONS,
        messagesPerSession: TURNS * 2,
        ...SIDE_BY_SIDE_TIMING,
        warmupBothMs: SIDE_BY_SIDE_WARMUP.warmupMs,
        windows: SIDE_BY_SIDE_WINDOWS,
        schedule: 'on and off at once, one load generator each',
        scriptRoundTrips: SCRIPT_ROUND_TRIPS,
      },
      (backend, upstream) => runBackend(context, backend, upstream),
    );
  },
};
