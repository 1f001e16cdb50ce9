import { randomUUID } from 'node:crypto';
import { createAgent } from '../harness/graphql-http.js';
import { createSession, sendMessage } from '../harness/parley-api.js';
import { eachBackend } from '../harness/per-backend.js';
import { encodePrompt, expectedAnswer } from '../harness/prompt.js';
import { type Figure, measured, type Scenario, type ScenarioContext } from '../harness/scenario.js';
import { summarize } from '../harness/stats.js';
import type { StreamSource } from '../harness/stream-client.js';
import {
  type FleetResult,
  SubscriberFleet,
  waitForNoSubscriptions,
  waitForSubscriptions,
} from '../harness/subscriber-fleet.js';
import type { ProcessStats } from '../harness/target-probe.js';
import { type BackendKind, startBareWs, startParley, type Upstream } from '../harness/targets.js';

/**
 * 100 concurrent generations with 10 graphql-ws subscribers each (1,000 sockets), two ways:
 * saturation (the upstream sends every token at once: delivered events/s) and paced (one token
 * per generation every 50 ms, 20,000 deliveries/s: publish-to-receipt latency from
 * MessageDelta.at). The baseline is bare graphql-ws fed by graphql-redis-subscriptions or an
 * in-process PubSub, publishing the same tokens at the same rate.
 */
const GENERATIONS = 100;
const SUBSCRIBERS_PER_GENERATION = 10;
const LOAD_PROCESSES = 2;

interface Mode {
  name: 'saturation' | 'paced';
  tokens: number;
  intervalMs: number;
  /** Deltas up to this seq are not latency samples (the first second of a paced run). */
  warmupSeq: number;
}

const SATURATION: Mode = { name: 'saturation', tokens: 300, intervalMs: 0, warmupSeq: 0 };
const PACED: Mode = { name: 'paced', tokens: 120, intervalMs: 50, warmupSeq: 20 };
const COLLECT_TIMEOUT_MS = 30_000;

interface ModeResult {
  fleet: FleetResult;
  stats: ProcessStats;
}

/** The same source, once per subscriber of it. */
function fanOut(sources: readonly StreamSource[]): StreamSource[] {
  return sources.flatMap((source) =>
    Array.from({ length: SUBSCRIBERS_PER_GENERATION }, () => source),
  );
}

async function measureParley(context: ScenarioContext, backend: BackendKind, upstream: Upstream) {
  const parley = await startParley({
    backend,
    redisUrl: context.redisUrl,
    upstreamBaseURL: upstream.baseURL,
  });
  const fleet = await SubscriberFleet.start(parley.wsUrl, LOAD_PROCESSES);
  const agent = createAgent(GENERATIONS);
  const results: Partial<Record<Mode['name'], ModeResult>> = {};
  try {
    const sessions = await Promise.all(
      Array.from({ length: GENERATIONS }, (_unused, index) =>
        createSession(agent, parley.httpUrl, `fanout ${index}`),
      ),
    );
    await fleet.connect(GENERATIONS * SUBSCRIBERS_PER_GENERATION);
    for (const mode of [SATURATION, PACED]) {
      await waitForNoSubscriptions(parley.child);
      // Held at the upstream until every subscriber is in place; paced ones start spread over
      // one interval, as the baseline's publishers do.
      const messageIds = await Promise.all(
        sessions.map((sessionId, index) =>
          sendMessage(
            agent,
            parley.httpUrl,
            sessionId,
            encodePrompt({
              id: randomUUID(),
              tokens: mode.tokens,
              intervalMs: mode.intervalMs,
              thinkMs: Math.round((index * mode.intervalMs) / GENERATIONS),
              hold: true,
            }),
          ),
        ),
      );
      await fleet.subscribe(
        fanOut(messageIds.map((messageId) => ({ kind: 'parley', messageId }))),
        expectedAnswer(mode.tokens),
        mode.warmupSeq,
      );
      await waitForSubscriptions(parley.child, GENERATIONS * SUBSCRIBERS_PER_GENERATION);
      context.log(`${backend}: Parley ${mode.name}`);
      const run = await measured(
        parley.child,
        context,
        `${backend}-parley-${mode.name}`,
        async () => {
          await upstream.child.call('release');
          return fleet.collect(COLLECT_TIMEOUT_MS);
        },
      );
      results[mode.name] = { fleet: run.result, stats: run.stats };
      context.measurements.note(
        [backend, 'parley', mode.name],
        rates(results[mode.name], mode.tokens),
      );
    }
  } finally {
    agent.destroy();
    await fleet.stop();
    await parley.stop();
  }
  return { results, logs: parley.logs };
}

async function measureBare(context: ScenarioContext, backend: BackendKind, upstream: Upstream) {
  const bare = await startBareWs({
    backend,
    redisUrl: context.redisUrl,
    upstreamBaseURL: upstream.baseURL,
  });
  const fleet = await SubscriberFleet.start(bare.wsUrl, LOAD_PROCESSES);
  const results: Partial<Record<Mode['name'], ModeResult>> = {};
  try {
    await fleet.connect(GENERATIONS * SUBSCRIBERS_PER_GENERATION);
    for (const mode of [SATURATION, PACED]) {
      const streamIds = Array.from(
        { length: GENERATIONS },
        (_unused, index) => `${mode.name}-${index}`,
      );
      await waitForNoSubscriptions(bare.child);
      await fleet.subscribe(
        fanOut(streamIds.map((streamId) => ({ kind: 'bare', streamId }))),
        expectedAnswer(mode.tokens),
        mode.warmupSeq,
      );
      await waitForSubscriptions(bare.child, GENERATIONS * SUBSCRIBERS_PER_GENERATION);
      context.log(`${backend}: bare graphql-ws ${mode.name}`);
      const run = await measured(bare.child, context, `${backend}-bare-${mode.name}`, async () => {
        const published = bare.child.call('publish', {
          streamIds,
          tokens: mode.tokens,
          intervalMs: mode.intervalMs,
        });
        // Awaited together: a publish left dangling when collect fails would be an unhandled
        // rejection (it ended whole runs when the children were killed over budget).
        const [fleetResult] = await Promise.all([fleet.collect(COLLECT_TIMEOUT_MS), published]);
        return fleetResult;
      });
      results[mode.name] = { fleet: run.result, stats: run.stats };
      context.measurements.note(
        [backend, 'bare', mode.name],
        rates(results[mode.name], mode.tokens),
      );
    }
  } finally {
    await fleet.stop();
    await bare.stop();
  }
  return { results };
}

function rates(result: ModeResult | undefined, tokens: number) {
  if (!result) throw new Error('mode did not run');
  const { fleet, stats } = result;
  const seconds = fleet.spanMs / 1000;
  const latency = summarize(...fleet.latencies);
  return {
    eventsPerSecond: fleet.deltas / seconds,
    // Every token the upstream sent, once per subscriber: 1 when no delta was coalesced or lost.
    deliveredShare: fleet.deltas / (tokens * GENERATIONS * SUBSCRIBERS_PER_GENERATION),
    tokensPerSecond: (fleet.textChars / expectedAnswer(tokens).length) * (tokens / seconds),
    latencyP50: latency.p50,
    latencyP99: latency.p99,
    cpuMicrosPerEvent: (stats.cpuMs * 1000) / Math.max(1, fleet.deltas),
    deltas: fleet.deltas,
    spanMs: fleet.spanMs,
    failedStreams: fleet.failed,
    firstFailure: fleet.firstFailure,
    serverEventLoopDelayP99: stats.eventLoopDelay.p99,
    serverCpuMs: stats.cpuMs,
  };
}

async function runBackend(context: ScenarioContext, backend: BackendKind, upstream: Upstream) {
  const parley = await measureParley(context, backend, upstream);
  const bare = await measureBare(context, backend, upstream);
  const oursSat = rates(parley.results.saturation, SATURATION.tokens);
  const bareSat = rates(bare.results.saturation, SATURATION.tokens);
  const oursPaced = rates(parley.results.paced, PACED.tokens);
  const barePaced = rates(bare.results.paced, PACED.tokens);
  const figures: Figure[] = [
    {
      backend,
      metric: 'saturation delivered events/s',
      unit: 'events/s',
      value: oursSat.eventsPerSecond,
      baseline: bareSat.eventsPerSecond,
      // Item 2 (each event executed once for all its subscribers).
      goal: { on: 'ratio', atLeast: 1.5 },
    },
    {
      backend,
      metric: 'saturation delivered tokens/s',
      unit: 'tokens/s',
      value: oursSat.tokensPerSecond,
      baseline: bareSat.tokensPerSecond,
      goal: { on: 'ratio', atLeast: 1 },
    },
    {
      backend,
      metric: 'saturation server CPU per event',
      unit: 'µs',
      value: oursSat.cpuMicrosPerEvent,
      baseline: bareSat.cpuMicrosPerEvent,
      // Item 2.
      goal: { on: 'ratio', atMost: 0.7 },
    },
    {
      backend,
      metric: 'paced latency p50',
      unit: 'ms',
      value: oursPaced.latencyP50,
      baseline: barePaced.latencyP50,
      goal: { on: 'ratio', atMost: 1.25 },
    },
    {
      backend,
      metric: 'paced latency p99',
      unit: 'ms',
      value: oursPaced.latencyP99,
      baseline: barePaced.latencyP99,
      goal: { on: 'ratio', atMost: 1.25 },
    },
    {
      backend,
      metric: 'paced delivered events/s',
      unit: 'events/s',
      value: oursPaced.eventsPerSecond,
      baseline: barePaced.eventsPerSecond,
    },
    {
      backend,
      metric: 'paced delivered events of those the upstream sent',
      unit: 'share',
      value: oursPaced.deliveredShare,
      baseline: barePaced.deliveredShare,
      goal: { on: 'value', atLeast: 0.95 },
    },
    {
      backend,
      metric: 'paced server CPU per event',
      unit: 'µs',
      value: oursPaced.cpuMicrosPerEvent,
      baseline: barePaced.cpuMicrosPerEvent,
      goal: { on: 'ratio', atMost: 1.25 },
    },
    {
      backend,
      metric: 'incomplete streams',
      unit: 'count',
      value: oursSat.failedStreams + oursPaced.failedStreams,
      baseline: bareSat.failedStreams + barePaced.failedStreams,
      goal: { on: 'value', atMost: 0 },
    },
  ];
  return {
    figures,
    details: {
      parley: {
        saturation: oursSat,
        paced: oursPaced,
        logWarnings: parley.logs.warnings,
        logErrors: parley.logs.errors,
        logSamples: parley.logs.samples,
      },
      bare: { saturation: bareSat, paced: barePaced },
    },
  };
}

export const fanout: Scenario = {
  name: 'fanout',
  description: `${GENERATIONS} generations × ${SUBSCRIBERS_PER_GENERATION} graphql-ws subscribers, saturated and paced, vs bare graphql-ws`,
  budgetSeconds: 200,
  run: (context) =>
    eachBackend(
      context,
      {
        generations: GENERATIONS,
        subscribersPerGeneration: SUBSCRIBERS_PER_GENERATION,
        loadProcesses: LOAD_PROCESSES,
        saturation: SATURATION,
        paced: PACED,
      },
      (backend, upstream) => runBackend(context, backend, upstream),
    ),
};
