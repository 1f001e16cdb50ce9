import type { Child } from '../harness/children.js';
import { sleep } from '../harness/clock.js';
import { eachBackend } from '../harness/per-backend.js';
import type { Figure, Scenario, ScenarioContext } from '../harness/scenario.js';
import { seedSessions } from '../harness/seed.js';
import type { ProbeMethods, ProcessStats } from '../harness/target-probe.js';
import { type BackendKind, startLoad, startParley, type Upstream } from '../harness/targets.js';
import type { SoakMethods, SoakPlan, SoakResult } from '../load/soak-clients.js';

/**
 * Five minutes of mixed load in all (half on each backend): 200 conversations streaming at a
 * time, queries, and clients connecting and dropping. It must end with zero errors, RSS within
 * 10% of where it stood after warming up, and no more open handles at rest than before.
 */
const LOAD_MS = 135_000;
/** RSS is compared from here on: the first seconds grow the heap to its working size. */
const WARMUP_MS = 20_000;
const SAMPLE_EVERY_MS = 5_000;
const LOAD_SHAPE: Omit<SoakPlan, 'httpUrl' | 'wsUrl' | 'querySessionIds'> = {
  durationMs: LOAD_MS,
  streams: 200,
  turnsPerSession: 3,
  shape: { tokens: 60, intervalMs: 50, thinkMs: 50 },
  queryWorkers: 4,
  queryPauseMs: 20,
  churnWorkers: 4,
  churnPauseMs: 50,
};

interface Sample {
  atSeconds: number;
  rssMegabytes: number;
  heapUsedMegabytes: number;
  handles: number;
  openSubscriptions: number;
}

const megabytes = (bytes: number) => bytes / 2 ** 20;

/** RSS saws up and down with every major GC: compare means over windows, not two samples. */
const RSS_WINDOW_S = 25;

function rssWindows(samples: readonly Sample[]): { warm: number; end: number } {
  const last = samples.at(-1);
  if (!last) throw new Error('no samples taken');
  const mean = (window: readonly Sample[]) =>
    window.reduce((sum, sample) => sum + sample.rssMegabytes, 0) / window.length;
  const warmFrom = WARMUP_MS / 1000;
  const warmWindow = samples.filter(
    (sample) => sample.atSeconds >= warmFrom && sample.atSeconds < warmFrom + RSS_WINDOW_S,
  );
  const endWindow = samples.filter((sample) => sample.atSeconds > last.atSeconds - RSS_WINDOW_S);
  return { warm: mean(warmWindow.length > 0 ? warmWindow : [last]), end: mean(endWindow) };
}

/** Heap after full collections and open handles, with nothing running. */
async function atRest(server: Child<ProbeMethods>): Promise<ProcessStats> {
  await sleep(2_000);
  await server.call('collectGarbage');
  return server.call('stats');
}

/** What the results file keeps of the server at rest. */
const restDetails = (stats: ProcessStats) => ({
  heapUsedBytes: stats.heapUsedBytes,
  rssBytes: stats.rssBytes,
  handles: stats.handles,
});

/**
 * Samples the server into `samples` every few seconds while `load` runs; resets its counters
 * after warm-up.
 */
async function watch(server: Child<ProbeMethods>, load: Promise<SoakResult>, samples: Sample[]) {
  let finished = false;
  const result = load.finally(() => {
    finished = true;
  });
  const started = Date.now();
  let warmedUp = false;
  while (!finished) {
    await Promise.race([sleep(SAMPLE_EVERY_MS), result.catch(() => {})]);
    if (finished) break;
    const elapsed = Date.now() - started;
    if (!warmedUp && elapsed >= WARMUP_MS) {
      await server.call('resetStats');
      warmedUp = true;
    }
    const stats = await server.call('stats');
    samples.push({
      atSeconds: Math.round(elapsed / 1000),
      rssMegabytes: megabytes(stats.rssBytes),
      heapUsedMegabytes: megabytes(stats.heapUsedBytes),
      handles: stats.handleCount,
      openSubscriptions: stats.counters.openSubscriptions ?? 0,
    });
  }
  const underLoad = await server.call('stats');
  return { result: await result, eventLoopDelay: underLoad.eventLoopDelay };
}

async function runBackend(context: ScenarioContext, backend: BackendKind, upstream: Upstream) {
  const parley = await startParley({
    backend,
    redisUrl: context.redisUrl,
    upstreamBaseURL: upstream.baseURL,
  });
  const clients = await startLoad<SoakMethods>('soak-clients', 'load/soak-clients.ts');
  try {
    const querySessionIds = await seedSessions(parley.httpUrl, 5, 5);
    const before = await atRest(parley.child);
    // Noted now, the samples filled as they are taken: a stopped soak still shows its course.
    const samples: Sample[] = [];
    context.measurements.note([backend, 'before'], restDetails(before));
    context.measurements.note([backend, 'samples'], samples);
    context.log(`${backend}: ${LOAD_MS / 1000} s of mixed load`);
    if (context.profile) await parley.child.call('profileStart');
    const load = clients.call(
      'run',
      { ...LOAD_SHAPE, httpUrl: parley.httpUrl, wsUrl: parley.wsUrl, querySessionIds },
      LOAD_MS + 60_000,
    );
    const watched = await watch(parley.child, load, samples);
    if (context.profile)
      await parley.child.call('profileStop', context.profilePath(`${backend}-parley`));
    const after = await atRest(parley.child);
    const { warm, end } = rssWindows(samples);
    const errors = watched.result.errors + parley.logs.errors;
    const figures: Figure[] = [
      {
        backend,
        metric: 'errors (clients + server error logs)',
        unit: 'count',
        value: errors,
        goal: { on: 'value', atMost: 0 },
      },
      { backend, metric: `RSS after warm-up (mean of ${RSS_WINDOW_S} s)`, unit: 'MB', value: warm },
      { backend, metric: `RSS at end (mean of ${RSS_WINDOW_S} s)`, unit: 'MB', value: end },
      {
        backend,
        metric: 'RSS growth',
        unit: '%',
        value: ((end - warm) / warm) * 100,
        goal: { on: 'value', atMost: 10 },
      },
      {
        backend,
        metric: 'heap at rest after GC, growth',
        unit: 'MB',
        value: megabytes(after.heapUsedBytes - before.heapUsedBytes),
      },
      { backend, metric: 'event-loop delay p99', unit: 'ms', value: watched.eventLoopDelay.p99 },
      {
        backend,
        metric: 'open handles at rest, growth',
        unit: 'count',
        value: after.handleCount - before.handleCount,
        goal: { on: 'value', atMost: 0 },
      },
      { backend, metric: 'answers streamed', unit: 'count', value: watched.result.generations },
      {
        backend,
        metric: 'server stderr lines (not its log)',
        unit: 'count',
        value: parley.logs.stderrLines,
      },
    ];
    return {
      figures,
      details: {
        load: watched.result,
        serverLogs: {
          warnings: parley.logs.warnings,
          errors: parley.logs.errors,
          stderrLines: parley.logs.stderrLines,
          samples: parley.logs.samples,
        },
        before: restDetails(before),
        after: restDetails(after),
        eventLoopDelay: watched.eventLoopDelay,
        samples,
      },
    };
  } finally {
    await clients.stop();
    await parley.stop();
  }
}

export const soak: Scenario = {
  name: 'soak',
  description: `mixed load (200 streams at a time, queries, connects and drops), ${LOAD_MS / 1000} s per backend`,
  budgetSeconds: 620,
  run: (context) =>
    eachBackend(context, { plan: LOAD_SHAPE, warmupMs: WARMUP_MS }, (backend, upstream) =>
      runBackend(context, backend, upstream),
    ),
};
