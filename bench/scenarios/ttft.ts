import type { Child } from '../harness/children.js';
import { pollUntil } from '../harness/clock.js';
import { createAgent } from '../harness/graphql-http.js';
import { createSession } from '../harness/parley-api.js';
import { eachBackend } from '../harness/per-backend.js';
import { type Figure, measured, type Scenario, type ScenarioContext } from '../harness/scenario.js';
import { summarize } from '../harness/stats.js';
import { waitForNoSubscriptions, waitForSubscriptions } from '../harness/subscriber-fleet.js';
import type { ProbeMethods } from '../harness/target-probe.js';
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
/**
 * Rounds run first and not counted, on both sides: the first answers through a fresh process run
 * cold code. With one, Parley's first counted round on the embedded backend still stalled (its
 * p99 35-73 ms in three runs, every later round 3-8 ms); with two, no round stands out on either
 * side (each round's p99 stays in `roundP99Ms`).
 */
const WARMUP_ROUNDS = 2;
/**
 * Every answer of a round is held at the upstream until all its subscriptions are in place on
 * the server, so the figure is the live path, not a replay of the log nor the round's setup
 * (sending 100 messages at once took Parley up to a second on Redis on a loaded machine, and
 * with a fixed think time the first tokens of early answers met the setup of later ones). Once
 * released, first tokens are spread over about 300 ms, as a round's own ramp spread them.
 */
const SHAPE: Shape = { tokens: 20, intervalMs: 20, thinkMs: 50, spreadMs: 3 };
/** A subscription sent less than this before the first token may have raced it. */
const SUBSCRIBE_MARGIN_MS = 50;

interface Samples {
  ttftMs: Float64Array;
  failures: number;
  firstFailure: string | undefined;
  lateSubscriptions: number;
  /**
   * Per round (warm-up included), from sending its messages to every subscription in place on
   * the server and every answer held at the upstream: what the first tokens no longer meet.
   */
  roundSetupMs: number[];
  /** p99 of each round, to tell a slow start from a steady cost. */
  roundP99Ms: number[];
  /** Per round, the last answer's first token minus the first one's (SHAPE spreads them). */
  roundFirstTokenSpreadMs: number[];
}

/** Joins the clients' first-delta times with the upstream's first-token send times. */
function join(
  { rounds, setupMs }: { rounds: FirstDelta[][]; setupMs: number[] },
  sentAt: Map<string, number>,
): Samples {
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
    roundSetupMs: setupMs,
    roundP99Ms: rounds.map((round) => {
      const times = round.flatMap((sample) => {
        const sent = sentAt.get(sample.id);
        return sent === undefined || sample.failure ? [] : [sample.firstDeltaAtMs - sent];
      });
      return summarize(Float64Array.from(times)).p99;
    }),
    roundFirstTokenSpreadMs: rounds.map((round) => {
      const sent = round.flatMap((sample) => {
        const at = sentAt.get(sample.id);
        return at === undefined ? [] : [at];
      });
      return sent.length > 0 ? Math.max(...sent) - Math.min(...sent) : 0;
    }),
  };
}

/**
 * The rounds of one side: each starts when the last one's subscriptions have closed, and its
 * answers are released once the server holds every subscription and the upstream every answer.
 */
async function runRounds(
  server: Child<ProbeMethods>,
  upstream: Upstream,
  clients: Child<TtftMethods>,
  startRound: () => Promise<unknown>,
): Promise<{ rounds: FirstDelta[][]; setupMs: number[] }> {
  const rounds: FirstDelta[][] = [];
  const setupMs: number[] = [];
  for (let round = 0; round < WARMUP_ROUNDS + ROUNDS; round++) {
    await waitForNoSubscriptions(server);
    const started = performance.now();
    await startRound();
    await waitForSubscriptions(server, GENERATIONS, 30_000, 0);
    await pollUntil(
      async () => (await upstream.child.call('held')) >= GENERATIONS,
      () => `the upstream holds fewer than ${GENERATIONS} answers`,
      30_000,
      20,
    );
    setupMs.push(performance.now() - started);
    await upstream.child.call('release');
    const firstDeltas = await clients.call('finishRound');
    if (round >= WARMUP_ROUNDS) rounds.push(firstDeltas);
  }
  return { rounds, setupMs };
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
    const run = await measured(parley.child, context, `${backend}-parley`, () =>
      runRounds(parley.child, upstream, clients, () =>
        clients.call('parleyRound', { httpUrl: parley.httpUrl, sessionIds, shape: SHAPE }),
      ),
    );
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
    const run = await measured(bare.child, context, `${backend}-bare`, () =>
      runRounds(bare.child, upstream, clients, () =>
        clients.call('relayRound', { count: GENERATIONS, shape: SHAPE }),
      ),
    );
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
