import { createAgent } from '../harness/graphql-http.js';
import { createSession } from '../harness/parley-api.js';
import { eachBackend } from '../harness/per-backend.js';
import { type Figure, measured, type Scenario, type ScenarioContext } from '../harness/scenario.js';
import { summarize } from '../harness/stats.js';
import {
  type BackendKind,
  startBareWs,
  startLoad,
  startParley,
  type Upstream,
} from '../harness/targets.js';
import type { FirstDelta, Shape, TtftMethods } from '../load/ttft-clients.js';

/**
 * Time to first token added by the server: from the moment the upstream's first token leaves the
 * fake upstream to the first MessageDelta at the client, with 100 concurrent generations. The
 * baseline relays the same upstream stream straight into a graphql-ws subscription.
 */
const GENERATIONS = 100;
const ROUNDS = 5;
/** Rounds run first and not counted: the first answers through a fresh process run cold code. */
const WARMUP_ROUNDS = 1;
/**
 * The upstream "thinks" before its first token, so every subscription is in place by then and
 * the figure is the live path, not a replay of the log.
 */
const SHAPE: Shape = { tokens: 20, intervalMs: 20, thinkMs: 300 };
/** A subscription sent less than this before the first token may have raced it. */
const SUBSCRIBE_MARGIN_MS = 50;

interface Samples {
  ttftMs: Float64Array;
  failures: number;
  firstFailure: string | undefined;
  lateSubscriptions: number;
  /** p99 of each round, to tell a slow start from a steady cost. */
  roundP99Ms: number[];
}

/** Joins the clients' first-delta times with the upstream's first-token send times. */
function join(rounds: FirstDelta[][], sentAt: Map<string, number>): Samples {
  const all = rounds.flat();
  const ttft: number[] = [];
  let lateSubscriptions = 0;
  const failed = all.filter((sample) => sample.failure || !sentAt.has(sample.id));
  for (const sample of all) {
    const sent = sentAt.get(sample.id);
    if (sent === undefined || sample.failure) continue;
    if (sent - sample.subscribedAtMs < SUBSCRIBE_MARGIN_MS) lateSubscriptions++;
    ttft.push(sample.firstDeltaAtMs - sent);
  }
  return {
    ttftMs: Float64Array.from(ttft),
    failures: failed.length,
    firstFailure:
      failed[0]?.failure ?? (failed[0] ? 'no first-token time at the upstream' : undefined),
    lateSubscriptions,
    roundP99Ms: rounds.map((round) => {
      const times = round.flatMap((sample) => {
        const sent = sentAt.get(sample.id);
        return sent === undefined || sample.failure ? [] : [sample.firstDeltaAtMs - sent];
      });
      return summarize(Float64Array.from(times)).p99;
    }),
  };
}

async function measureParley(context: ScenarioContext, backend: BackendKind, upstream: Upstream) {
  const parley = await startParley({
    backend,
    redisUrl: context.redisUrl,
    upstreamBaseURL: upstream.baseURL,
  });
  const clients = await startLoad<TtftMethods>('ttft-clients', 'load/ttft-clients.ts');
  try {
    const agent = createAgent(GENERATIONS);
    const sessionIds = await Promise.all(
      Array.from({ length: GENERATIONS }, (_unused, index) =>
        createSession(agent, parley.httpUrl, `ttft ${index}`),
      ),
    );
    agent.destroy();
    await clients.call('connect', { url: parley.wsUrl, count: GENERATIONS });
    await upstream.child.call('takeFirstTokenTimes');
    context.log(`${backend}: Parley, ${ROUNDS} rounds of ${GENERATIONS} generations`);
    const run = await measured(parley.child, context, `${backend}-parley`, async () => {
      const rounds: FirstDelta[][] = [];
      for (let round = 0; round < WARMUP_ROUNDS + ROUNDS; round++) {
        const firstDeltas = await clients.call('parleyRound', {
          httpUrl: parley.httpUrl,
          sessionIds,
          shape: SHAPE,
        });
        if (round >= WARMUP_ROUNDS) rounds.push(firstDeltas);
      }
      return rounds;
    });
    return join(run.result, new Map(await upstream.child.call('takeFirstTokenTimes')));
  } finally {
    await clients.stop();
    await parley.stop();
  }
}

async function measureRelay(context: ScenarioContext, backend: BackendKind, upstream: Upstream) {
  const bare = await startBareWs({
    backend,
    redisUrl: context.redisUrl,
    upstreamBaseURL: upstream.baseURL,
  });
  const clients = await startLoad<TtftMethods>('ttft-clients', 'load/ttft-clients.ts');
  try {
    await clients.call('connect', { url: bare.wsUrl, count: GENERATIONS });
    await upstream.child.call('takeFirstTokenTimes');
    context.log(`${backend}: bare relay`);
    const run = await measured(bare.child, context, `${backend}-bare`, async () => {
      const rounds: FirstDelta[][] = [];
      for (let round = 0; round < WARMUP_ROUNDS + ROUNDS; round++) {
        const firstDeltas = await clients.call('relayRound', { count: GENERATIONS, shape: SHAPE });
        if (round >= WARMUP_ROUNDS) rounds.push(firstDeltas);
      }
      return rounds;
    });
    return join(run.result, new Map(await upstream.child.call('takeFirstTokenTimes')));
  } finally {
    await clients.stop();
    await bare.stop();
  }
}

/** The samples as the results file holds them: percentiles, not every time. */
function summarizeSamples({ ttftMs, ...counts }: Samples) {
  return { ...summarize(ttftMs), ...counts };
}

async function runBackend(context: ScenarioContext, backend: BackendKind, upstream: Upstream) {
  const ours = await measureParley(context, backend, upstream);
  context.measurements.note([backend, 'parley'], summarizeSamples(ours));
  const relay = await measureRelay(context, backend, upstream);
  const oursSummary = summarize(ours.ttftMs);
  const relaySummary = summarize(relay.ttftMs);
  const figures: Figure[] = [
    { backend, metric: 'ttft p50', unit: 'ms', value: oursSummary.p50, baseline: relaySummary.p50 },
    {
      backend,
      metric: 'ttft p99',
      unit: 'ms',
      value: oursSummary.p99,
      baseline: relaySummary.p99,
      goal: { on: 'value', atMost: 10 },
    },
    {
      backend,
      metric: 'failed generations',
      unit: 'count',
      value: ours.failures,
      baseline: relay.failures,
      goal: { on: 'value', atMost: 0 },
    },
  ];
  return {
    figures,
    details: { parley: summarizeSamples(ours), bareRelay: summarizeSamples(relay) },
  };
}

export const ttft: Scenario = {
  name: 'ttft',
  description: `upstream first token → first MessageDelta at the client, ${GENERATIONS} concurrent generations`,
  budgetSeconds: 90,
  run: (context) =>
    eachBackend(
      context,
      {
        generations: GENERATIONS,
        rounds: ROUNDS,
        warmupRounds: WARMUP_ROUNDS,
        shape: SHAPE,
      },
      (backend, upstream) => runBackend(context, backend, upstream),
    ),
};
