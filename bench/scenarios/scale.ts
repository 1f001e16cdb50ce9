import { randomUUID } from 'node:crypto';
import { deleteKeys } from '../../tests/support/redis.js';
import { sleep } from '../harness/clock.js';
import { type Footprint, footprint, perConnection } from '../harness/footprint.js';
import { createAgent } from '../harness/graphql-http.js';
import { createSession, sendMessage, startHeldAnswers } from '../harness/parley-api.js';
import { eachBackend } from '../harness/per-backend.js';
import { encodePrompt, expectedAnswer } from '../harness/prompt.js';
import { type CommandCount, countCommands, serverCommands } from '../harness/redis-commands.js';
import {
  type Figure,
  measuredTogether,
  type Scenario,
  type ScenarioContext,
} from '../harness/scenario.js';
import { summarize } from '../harness/stats.js';
import type { StreamSource } from '../harness/stream-client.js';
import {
  type FleetResult,
  SubscriberFleet,
  waitForSubscriptions,
} from '../harness/subscriber-fleet.js';
import type { ProbeMethods } from '../harness/target-probe.js';
import {
  type BackendKind,
  type ServerTarget,
  startBareWs,
  startParley,
  type Upstream,
} from '../harness/targets.js';
import type { ParleyMethods } from '../targets/parley.js';

/**
 * Parley at scale (issue 11, item 5), three figures:
 *
 * - **10,000 subscribed sockets on one instance**: server memory after full collections per
 *   socket, against bare graphql-ws holding as many (both following streams that send nothing).
 * - **Idle Redis commands**: with the 10,000 subscribed to held streams, the commands the server
 *   sends Redis over a quiet window, per second and per idle subscription (harness/
 *   redis-commands.ts: MONITOR, only this server's own connections, since the bench's Redis is
 *   shared).
 * - **Two instances through Redis**: the same paced fan-out served by one instance, then by two
 *   sharing one key prefix (each generation's subscribers split over both, generations started
 *   on either): the servers' CPU per delivered event, two (summed) against one. Rounds alternate
 *   one, two, one, two, one, two so that drift on a shared machine touches both alike (with two
 *   rounds each, one round of a deployment differed from its other by up to 1.3x), after a warm-up
 *   round of each that is not counted. Each round's details split that CPU into user and system
 *   time and into the main thread and the runtime's helper threads.
 */
const SOCKETS = 10_000;
/** Held streams the crowd follows: 100 subscribers each. */
const STREAMS = 100;
/** 2,500 sockets each: a load process's share stays near the idle scenario's. */
const LOAD_PROCESSES = 4;
const SUBSCRIBE_BATCH = 1_000;
/** For one batch to be in place (about a second each on a quiet machine). */
const BATCH_TIMEOUT_MS = 30_000;
/** Idle CPU on the embedded backend; on Redis the quiet window is the command count's. */
const IDLE_WINDOW_MS = 3_000;
/**
 * Each idle reader of today polls every 4–6 s, their phases spread by the jitter and by when they
 * subscribed: 6 s sees every one of them at least once.
 */
const REDIS_WINDOW_MS = 6_000;

const FANOUT = {
  generations: 50,
  subscribersPerGeneration: 10,
  tokens: 60,
  intervalMs: 50,
  rounds: 3,
  /**
   * Rounds per deployment run first and not counted: every instance starts cold, and the first
   * round of one cost 1.22x its second, of two (twice the cold code, each warming on half the
   * events) 1.34x.
   */
  warmupRounds: 1,
} as const;
const COLLECT_TIMEOUT_MS = 30_000;

const redisPort = (url: string): number => Number(new URL(url).port || 6379);

interface Crowd {
  footprints: Footprint[];
  /** How long each step took, ms (where a slow machine spends the budget). */
  stepMs: Record<string, number>;
  /** The server's Redis commands over the quiet window at full crowd (Redis backend only). */
  commands?: CommandCount;
}

/** Connects and subscribes the whole crowd, measuring the server empty and full. */
async function measureCrowd(
  context: ScenarioContext,
  backend: BackendKind,
  label: string,
  server: ServerTarget<ProbeMethods>,
  sources: readonly StreamSource[],
): Promise<Crowd> {
  let mark = performance.now();
  const stepMs: Record<string, number> = {};
  const step = (name: string) => {
    const now = performance.now();
    stepMs[name] = Math.round(now - mark);
    mark = now;
  };
  const fleet = await SubscriberFleet.start(server.wsUrl, LOAD_PROCESSES);
  try {
    await sleep(500);
    // Only its memory counts (the idle CPU figure is the full crowd's): no quiet window.
    const empty = await footprint(server.child, 0, () => sleep(0));
    const crowd: Crowd = { footprints: [empty.footprint], stepMs };
    context.measurements.note([backend, label], crowd);
    step('startEmpty');
    await fleet.connect(SOCKETS);
    step('connect');
    // In batches, each awaited: 10,000 subscriptions sent at once would queue the server's
    // answers to the probe behind all of them on a slow machine.
    for (let subscribed = 0; subscribed < SOCKETS; subscribed += SUBSCRIBE_BATCH) {
      const batch = Math.min(SUBSCRIBE_BATCH, SOCKETS - subscribed);
      await fleet.subscribe(
        Array.from(
          { length: batch },
          (_unused, index) => sources[(subscribed + index) % sources.length]!,
        ),
        '',
        0,
      );
      const last = subscribed + batch >= SOCKETS;
      await waitForSubscriptions(
        server.child,
        subscribed + batch,
        BATCH_TIMEOUT_MS,
        last ? 500 : 0,
      );
    }
    step('subscribe');
    context.log(`${backend} ${label}: ${SOCKETS} idle subscribers`);
    const port = redisPort(context.redisUrl);
    const full =
      backend === 'redis'
        ? await footprint(server.child, SOCKETS, () =>
            countCommands(
              context.redisUrl,
              () => server.child.call('localPortsTo', port),
              REDIS_WINDOW_MS,
            ),
          )
        : await footprint(server.child, SOCKETS, () => sleep(IDLE_WINDOW_MS));
    crowd.footprints.push(full.footprint);
    if (full.during) crowd.commands = full.during;
    step('measureFull');
    return crowd;
  } finally {
    await fleet.stop();
    step('disconnect');
  }
}

async function measureParley(context: ScenarioContext, backend: BackendKind, upstream: Upstream) {
  const parley = await startParley({
    backend,
    redisUrl: context.redisUrl,
    upstreamBaseURL: upstream.baseURL,
  });
  try {
    const messageIds = await startHeldAnswers(parley.httpUrl, STREAMS, 'scale');
    const sources = messageIds.map((messageId): StreamSource => ({ kind: 'parley', messageId }));
    const crowd = await measureCrowd(context, backend, 'parley', parley, sources);
    return { crowd, logErrors: parley.logs.errors, logSamples: parley.logs.samples };
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
      (_unused, index): StreamSource => ({ kind: 'bare', streamId: `scale-${index}` }),
    );
    return await measureCrowd(context, backend, 'bare', bare, sources);
  } finally {
    await bare.stop();
  }
}

/** One side of the two-instance comparison: its servers, and one load process per server. */
interface Deployment {
  name: 'one' | 'two';
  servers: ServerTarget<ParleyMethods>[];
  /** Two load processes either way: both on the one instance, or one on each of the two. */
  fleets: { fleet: SubscriberFleet; server: ServerTarget<ParleyMethods> }[];
  sessionIds: string[];
}

interface RoundResult {
  deployment: Deployment['name'];
  deltas: number;
  /** Tokens delivered (deltas may carry several when the writer coalesced them). */
  tokens: number;
  failed: number;
  firstFailure: string | undefined;
  cpuMs: number;
  cpuMsByServer: number[];
  /**
   * The same CPU summed over the servers, split: user and system time, and main thread against
   * V8's and libuv's helper threads (where one instance and two differ, see the README).
   */
  cpuSplit: CpuSplit;
  latencyP50: number;
  latencyP99: number;
  spanMs: number;
  /** Commands the bench's Redis ran during the measured window (scripts' own included). */
  redisCommands: number;
}

interface CpuSplit {
  userMs: number;
  systemMs: number;
  /** Undefined where threads cannot be told apart (not Linux). */
  mainThreadMs: number | undefined;
  helperThreadsMs: number | undefined;
}

function sumSplits(splits: readonly CpuSplit[]): CpuSplit {
  const sum = (part: (split: CpuSplit) => number | undefined) =>
    splits.reduce<number | undefined>((total, split) => {
      const value = part(split);
      return total === undefined || value === undefined ? undefined : total + value;
    }, 0);
  return {
    userMs: sum((split) => split.userMs) ?? 0,
    systemMs: sum((split) => split.systemMs) ?? 0,
    mainThreadMs: sum((split) => split.mainThreadMs),
    helperThreadsMs: sum((split) => split.helperThreadsMs),
  };
}

/**
 * One paced fan-out on a deployment: generations held at the upstream until every subscriber is
 * in place, then released and measured on every server of the deployment at once.
 */
async function fanoutRound(
  context: ScenarioContext,
  upstream: Upstream,
  deployment: Deployment,
  round: number,
): Promise<RoundResult> {
  const agent = createAgent(FANOUT.generations);
  let messageIds: string[];
  try {
    messageIds = await Promise.all(
      deployment.sessionIds.map((sessionId, index) => {
        // Generations start on either instance (round-robin over the deployment's servers).
        const server = deployment.servers[index % deployment.servers.length]!;
        return sendMessage(
          agent,
          server.httpUrl,
          sessionId,
          encodePrompt({
            id: randomUUID(),
            tokens: FANOUT.tokens,
            intervalMs: FANOUT.intervalMs,
            thinkMs: Math.round((index * FANOUT.intervalMs) / FANOUT.generations),
            hold: true,
          }),
        );
      }),
    );
  } finally {
    agent.destroy();
  }
  // Each generation's subscribers are split evenly over the two load processes.
  const perFleet = FANOUT.subscribersPerGeneration / deployment.fleets.length;
  await Promise.all(
    deployment.fleets.map(({ fleet }) =>
      fleet.subscribe(
        messageIds.flatMap((messageId) =>
          Array.from({ length: perFleet }, (): StreamSource => ({ kind: 'parley', messageId })),
        ),
        expectedAnswer(FANOUT.tokens),
        0,
      ),
    ),
  );
  const subscriptionsPerServer =
    (FANOUT.generations * FANOUT.subscribersPerGeneration) / deployment.servers.length;
  await Promise.all(
    deployment.servers.map((server) => waitForSubscriptions(server.child, subscriptionsPerServer)),
  );
  context.log(
    `redis: fan-out round ${round + 1} on ${deployment.name === 'one' ? 'one instance' : 'two instances'}`,
  );
  const commandsSince = await serverCommands(context.redisUrl);
  const run = await measuredTogether(
    deployment.servers.map((server, index) => ({
      server: server.child,
      label: `redis-${deployment.name}-${index}-${round + 1}`,
    })),
    context,
    async () => {
      await upstream.child.call('release');
      return Promise.all(deployment.fleets.map(({ fleet }) => fleet.collect(COLLECT_TIMEOUT_MS)));
    },
  );
  const redisCommands = await commandsSince();
  const fleets: FleetResult[] = run.result;
  const latency = summarize(...fleets.flatMap((fleet) => fleet.latencies));
  return {
    deployment: deployment.name,
    deltas: fleets.reduce((sum, fleet) => sum + fleet.deltas, 0),
    tokens: Math.round(
      (fleets.reduce((sum, fleet) => sum + fleet.textChars, 0) * FANOUT.tokens) /
        expectedAnswer(FANOUT.tokens).length,
    ),
    failed: fleets.reduce((sum, fleet) => sum + fleet.failed, 0),
    firstFailure: fleets.find((fleet) => fleet.firstFailure)?.firstFailure,
    cpuMs: run.stats.reduce((sum, stats) => sum + stats.cpuMs, 0),
    cpuMsByServer: run.stats.map((stats) => stats.cpuMs),
    cpuSplit: sumSplits(
      run.stats.map((stats) => ({
        userMs: stats.cpuUserMs,
        systemMs: stats.cpuSystemMs,
        mainThreadMs: stats.threadCpu?.mainMs,
        helperThreadsMs: stats.threadCpu?.helpersMs,
      })),
    ),
    latencyP50: latency.p50,
    latencyP99: latency.p99,
    spanMs: Math.max(...fleets.map((fleet) => fleet.spanMs)),
    redisCommands,
  };
}

async function deploy(
  name: Deployment['name'],
  servers: ServerTarget<ParleyMethods>[],
): Promise<Deployment> {
  const fleets = await Promise.all(
    [0, 1].map(async (index) => {
      const server = servers[index % servers.length]!;
      return { fleet: await SubscriberFleet.start(server.wsUrl, 1), server };
    }),
  );
  const sockets = (FANOUT.generations * FANOUT.subscribersPerGeneration) / fleets.length;
  await Promise.all(fleets.map(({ fleet }) => fleet.connect(sockets)));
  const agent = createAgent(FANOUT.generations);
  try {
    const sessionIds = await Promise.all(
      Array.from({ length: FANOUT.generations }, (_unused, index) =>
        createSession(agent, servers[0]!.httpUrl, `scale fan-out ${name} ${index}`),
      ),
    );
    return { name, servers, fleets, sessionIds };
  } finally {
    agent.destroy();
  }
}

/**
 * Totals over a deployment's rounds: CPU per delivered event, µs (the figure), and per delivered
 * token (on Redis the writer may coalesce tokens into fewer events, differently from round to
 * round: per token tells that apart from a real cost).
 */
function totals(rounds: readonly RoundResult[]) {
  const deltas = rounds.reduce((sum, round) => sum + round.deltas, 0);
  const tokens = rounds.reduce((sum, round) => sum + round.tokens, 0);
  const cpuMs = rounds.reduce((sum, round) => sum + round.cpuMs, 0);
  const redisCommands = rounds.reduce((sum, round) => sum + round.redisCommands, 0);
  return {
    deltas,
    tokens,
    cpuMs,
    cpuMicrosPerEvent: (cpuMs * 1000) / Math.max(1, deltas),
    cpuMicrosPerToken: (cpuMs * 1000) / Math.max(1, tokens),
    cpuSplit: sumSplits(rounds.map((round) => round.cpuSplit)),
    redisCommands,
    redisCommandsPerToken: redisCommands / Math.max(1, tokens),
    failed: rounds.reduce((sum, round) => sum + round.failed, 0),
    firstFailure: rounds.find((round) => round.firstFailure)?.firstFailure,
  };
}

async function measureTwoInstances(context: ScenarioContext, upstream: Upstream) {
  const options = {
    backend: 'redis' as const,
    redisUrl: context.redisUrl,
    upstreamBaseURL: upstream.baseURL,
  };
  const sharedPrefix = `bench:${randomUUID()}:`;
  const servers: ServerTarget<ParleyMethods>[] = [];
  const deployments: Deployment[] = [];
  const rounds: RoundResult[] = [];
  try {
    servers.push(await startParley(options));
    for (let index = 0; index < 2; index++) {
      servers.push(await startParley({ ...options, keyPrefix: sharedPrefix }));
    }
    deployments.push(await deploy('one', servers.slice(0, 1)));
    deployments.push(await deploy('two', servers.slice(1)));
    for (let round = 0; round < FANOUT.warmupRounds + FANOUT.rounds; round++) {
      for (const deployment of deployments) {
        const result = await fanoutRound(context, upstream, deployment, round);
        if (round < FANOUT.warmupRounds) continue;
        rounds.push(result);
        context.measurements.note(['redis', 'twoInstances', 'rounds'], rounds);
      }
    }
  } finally {
    await Promise.all(
      deployments.flatMap((deployment) => deployment.fleets.map(({ fleet }) => fleet.stop())),
    );
    await Promise.all(servers.map((server) => server.stop()));
    await deleteKeys(context.redisUrl, sharedPrefix);
  }
  const logErrors = servers.reduce((sum, server) => sum + server.logs.errors, 0);
  return {
    one: totals(rounds.filter((round) => round.deployment === 'one')),
    two: totals(rounds.filter((round) => round.deployment === 'two')),
    rounds,
    logErrors,
    logSamples: servers.flatMap((server) => server.logs.samples).slice(0, 5),
  };
}

async function runBackend(context: ScenarioContext, backend: BackendKind, upstream: Upstream) {
  const ours = await measureParley(context, backend, upstream);
  const bare = await measureBare(context, backend, upstream);
  const oursCost = perConnection(ours.crowd.footprints, SOCKETS);
  const bareCost = perConnection(bare.footprints, SOCKETS);
  const figures: Figure[] = [
    {
      backend,
      metric: `RSS per connection at ${SOCKETS}`,
      unit: 'bytes',
      value: oursCost.rss,
      baseline: bareCost.rss,
      goal: { on: 'ratio', atMost: 1.5 },
    },
    {
      backend,
      metric: `heap per connection at ${SOCKETS}`,
      unit: 'bytes',
      value: oursCost.heap,
      baseline: bareCost.heap,
      goal: { on: 'ratio', atMost: 1.5 },
    },
    {
      backend,
      metric: `idle CPU at ${SOCKETS}`,
      unit: '% of a core',
      value: oursCost.idleCpuPercent,
      baseline: bareCost.idleCpuPercent,
    },
  ];
  const perSubscription = (count: CommandCount | undefined) =>
    count ? count.commands / (count.windowMs / 1000) / SOCKETS : Number.NaN;
  if (backend === 'redis') {
    figures.push({
      backend,
      metric: `idle Redis commands per idle subscription, ${SOCKETS} subscriptions`,
      unit: 'commands/s',
      value: perSubscription(ours.crowd.commands),
      baseline: perSubscription(bare.commands),
      goal: { on: 'value', atMost: 0.02 },
    });
  }
  let errors = ours.logErrors;
  const details: Record<string, unknown> = {
    parley: { ...ours.crowd, logErrors: ours.logErrors, logSamples: ours.logSamples },
    bare,
  };
  if (backend === 'redis') {
    // Recorded now: a run stopped in the two-instance part still reports the crowd's figures.
    context.measurements.addFigures(figures.splice(0));
    const two = await measureTwoInstances(context, upstream);
    const load = `${FANOUT.generations} × ${FANOUT.subscribersPerGeneration} paced`;
    figures.push(
      {
        backend,
        metric: `two instances: server CPU per delivered event, summed (bare column: one instance), ${load}`,
        unit: 'µs',
        value: two.two.cpuMicrosPerEvent,
        baseline: two.one.cpuMicrosPerEvent,
        goal: { on: 'ratio', atMost: 1.1 },
      },
      {
        // Coalesced deltas make the event count vary by round; tokens do not.
        backend,
        metric: `two instances: server CPU per delivered token, summed (bare column: one instance), ${load}`,
        unit: 'µs',
        value: two.two.cpuMicrosPerToken,
        baseline: two.one.cpuMicrosPerToken,
      },
      {
        // What would grow with the fleet if instances talked to each other: Redis's own count.
        backend,
        metric: `two instances: Redis commands per delivered token, whole server (bare column: one instance), ${load}`,
        unit: 'commands',
        value: two.two.redisCommandsPerToken,
        baseline: two.one.redisCommandsPerToken,
      },
    );
    errors += two.two.failed + two.one.failed + two.logErrors;
    details.twoInstances = two;
  }
  figures.push({
    backend,
    metric: 'errors (incomplete fan-out streams, server error logs)',
    unit: 'count',
    value: errors,
    goal: { on: 'value', atMost: 0 },
  });
  return { figures, details };
}

export const scale: Scenario = {
  name: 'scale',
  description: `${SOCKETS} idle subscribed graphql-ws sockets on one instance vs bare graphql-ws (memory; Redis commands while idle), and fan-out on two instances through Redis vs one`,
  budgetSeconds: 330,
  run: (context) =>
    eachBackend(
      context,
      {
        sockets: SOCKETS,
        streams: STREAMS,
        loadProcesses: LOAD_PROCESSES,
        idleWindowMs: IDLE_WINDOW_MS,
        redisWindowMs: REDIS_WINDOW_MS,
        twoInstances: FANOUT,
      },
      (backend, upstream) => runBackend(context, backend, upstream),
    ),
};
