import { randomUUID } from 'node:crypto';
import type { Child } from '../harness/children.js';
import { sleep } from '../harness/clock.js';
import { type Footprint, footprint, perConnection } from '../harness/footprint.js';
import { createAgent } from '../harness/graphql-http.js';
import { createSession, sendMessage } from '../harness/parley-api.js';
import { eachBackend } from '../harness/per-backend.js';
import { encodePrompt } from '../harness/prompt.js';
import type { Figure, Scenario, ScenarioContext } from '../harness/scenario.js';
import type { StreamSource } from '../harness/stream-client.js';
import { SubscriberFleet, waitForSubscriptions } from '../harness/subscriber-fleet.js';
import type { ProbeMethods } from '../harness/target-probe.js';
import {
  type BackendKind,
  type ServerTarget,
  startBareWs,
  startParley,
  type Upstream,
} from '../harness/targets.js';

/**
 * What an idle subscriber costs: server memory (after full collections) with 1,000 and 5,000
 * graphql-ws clients subscribed to streams that send nothing, per connection, against the bare
 * graphql-ws server holding as many; and the CPU the server spends while nothing happens.
 */
const STEPS = [1_000, 5_000] as const;
/** Streams the idle subscribers follow (held by the upstream, so they stay STREAMING). */
const STREAMS = 10;
const LOAD_PROCESSES = 2;
/** How long the server is watched doing nothing at each step. */
const IDLE_WINDOW_MS = 3_000;

/** Memory after full collections, then CPU over a quiet window. */
const measureIdle = async (server: Child<ProbeMethods>, clients: number): Promise<Footprint> =>
  (await footprint(server, clients, () => sleep(IDLE_WINDOW_MS))).footprint;

/** Grows the crowd step by step, measuring the server with none and after each step. */
async function measureCrowd(
  context: ScenarioContext,
  label: string,
  server: ServerTarget<ProbeMethods>,
  sources: readonly StreamSource[],
  detailsPath: [string, ...string[]],
): Promise<Footprint[]> {
  const fleet = await SubscriberFleet.start(server.wsUrl, LOAD_PROCESSES);
  try {
    await sleep(500);
    const footprints = [await measureIdle(server.child, 0)];
    // Noted once and filled step by step: a stopped run still reports the steps it measured.
    context.measurements.note(detailsPath, footprints);
    let clients = 0;
    for (const step of STEPS) {
      const added = step - clients;
      await fleet.connect(added);
      await fleet.subscribe(
        Array.from(
          { length: added },
          (_unused, index) => sources[(clients + index) % sources.length]!,
        ),
        '',
        0,
      );
      clients = step;
      await waitForSubscriptions(server.child, clients, 60_000);
      context.log(`${label}: ${clients} idle subscribers`);
      footprints.push(await measureIdle(server.child, clients));
    }
    return footprints;
  } finally {
    await fleet.stop();
  }
}

async function measureParley(context: ScenarioContext, backend: BackendKind, upstream: Upstream) {
  const parley = await startParley({
    backend,
    redisUrl: context.redisUrl,
    upstreamBaseURL: upstream.baseURL,
  });
  try {
    const agent = createAgent(STREAMS);
    const messageIds = await Promise.all(
      Array.from({ length: STREAMS }, async (_unused, index) => {
        const sessionId = await createSession(agent, parley.httpUrl, `idle ${index}`);
        const prompt = encodePrompt({
          id: randomUUID(),
          tokens: 1,
          intervalMs: 0,
          thinkMs: 0,
          hold: true,
        });
        return sendMessage(agent, parley.httpUrl, sessionId, prompt);
      }),
    );
    agent.destroy();
    const sources = messageIds.map((messageId): StreamSource => ({ kind: 'parley', messageId }));
    return await measureCrowd(context, `${backend} Parley`, parley, sources, [backend, 'parley']);
  } finally {
    await upstream.child.call('release');
    await parley.stop();
  }
}

async function measureBare(context: ScenarioContext, backend: BackendKind, upstream: Upstream) {
  const bare = await startBareWs({
    backend,
    redisUrl: context.redisUrl,
    upstreamBaseURL: upstream.baseURL,
  });
  try {
    const sources = Array.from(
      { length: STREAMS },
      (_unused, index): StreamSource => ({ kind: 'bare', streamId: `idle-${index}` }),
    );
    return await measureCrowd(context, `${backend} bare`, bare, sources, [backend, 'bare']);
  } finally {
    await bare.stop();
  }
}

async function runBackend(context: ScenarioContext, backend: BackendKind, upstream: Upstream) {
  const ours = await measureParley(context, backend, upstream);
  const bare = await measureBare(context, backend, upstream);
  const figures: Figure[] = STEPS.flatMap((clients): Figure[] => {
    const oursCost = perConnection(ours, clients);
    const bareCost = perConnection(bare, clients);
    const goal = clients === STEPS.at(-1) ? { goal: { on: 'ratio', atMost: 1.5 } as const } : {};
    return [
      {
        backend,
        metric: `RSS per connection at ${clients}`,
        unit: 'bytes',
        value: oursCost.rss,
        baseline: bareCost.rss,
        ...goal,
      },
      {
        backend,
        metric: `heap per connection at ${clients}`,
        unit: 'bytes',
        value: oursCost.heap,
        baseline: bareCost.heap,
        ...goal,
      },
      {
        backend,
        metric: `idle CPU at ${clients}`,
        unit: '% of a core',
        value: oursCost.idleCpuPercent,
        baseline: bareCost.idleCpuPercent,
      },
    ];
  });
  return { figures, details: { parley: ours, bare } };
}

export const idle: Scenario = {
  name: 'idle',
  description: `server memory and CPU with ${STEPS.join(' and ')} idle subscribed graphql-ws clients vs bare graphql-ws`,
  budgetSeconds: 180,
  run: (context) =>
    eachBackend(
      context,
      {
        steps: STEPS,
        streams: STREAMS,
        idleWindowMs: IDLE_WINDOW_MS,
      },
      (backend, upstream) => runBackend(context, backend, upstream),
    ),
};
