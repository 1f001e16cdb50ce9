import type { QueryLoadMethods, QueryLoadPlan, QueryLoadResult } from '../load/http-queries.js';
import type { Child } from './children.js';
import { cpuPerRequest, type QueryTiming, startQueryLoad, throughput } from './query-load.js';
import { measuredTogether, type ScenarioContext } from './scenario.js';
import type { ProbeMethods } from './target-probe.js';

/** Per server: 50 keep-alive connections, each window 4 s after a short warm-up. */
export const SIDE_BY_SIDE_TIMING: QueryTiming = {
  connections: 50,
  warmupMs: 500,
  durationMs: 4_000,
};
/** Both warmed up first: a fresh server runs its first seconds unoptimized. */
export const SIDE_BY_SIDE_WARMUP: QueryTiming = {
  ...SIDE_BY_SIDE_TIMING,
  warmupMs: 3_000,
  durationMs: 0,
};
export const SIDE_BY_SIDE_WINDOWS = 3;

/** One measured window of one server: what its load generator saw, and the server's CPU. */
export interface LoadWindow {
  result: QueryLoadResult;
  cpuMs: number;
}

/** One window's figures, as the results file keeps them. */
export function windowFigures(window: LoadWindow) {
  const { requestsPerSecond, p99, requests, errors } = throughput(window.result);
  return {
    requestsPerSecond,
    p99,
    requests,
    errors,
    cpuPerRequestUs: cpuPerRequest(window.cpuMs, requests),
  };
}

/** The windows of one server added up: throughput, latency and CPU per request. */
export function totalOf(windows: readonly LoadWindow[]) {
  const total = throughput(...windows.map((window) => window.result));
  const cpuMs = windows.reduce((sum, window) => sum + window.cpuMs, 0);
  return { ...total, cpuMs, cpuPerRequestUs: cpuPerRequest(cpuMs, total.requests) };
}

/**
 * Two servers under the query load at once, each from a load generator of its own: both warmed
 * up, then SIDE_BY_SIDE_WINDOWS windows measured together, so whatever else the machine does at
 * a moment weighs on both alike (measured one after the other on a shared machine, the windows
 * differed by more than the effects measured). Every window's figures are noted as they come.
 */
export async function sideBySide<S extends string>(
  context: ScenarioContext,
  backend: string,
  servers: Readonly<Record<S, Child<ProbeMethods>>>,
  plan: (side: S, timing: QueryTiming) => QueryLoadPlan,
): Promise<Record<S, LoadWindow[]>> {
  const sides = Object.keys(servers) as S[];
  const windows = Object.fromEntries(sides.map((side) => [side, []])) as unknown as Record<
    S,
    LoadWindow[]
  >;
  const loads: Child<QueryLoadMethods>[] = [];
  try {
    for (const _side of sides) loads.push(await startQueryLoad());
    const allAtOnce = (timing: QueryTiming) =>
      Promise.all(sides.map((side, at) => loads[at]!.call('run', plan(side, timing))));
    await allAtOnce(SIDE_BY_SIDE_WARMUP);
    for (let index = 1; index <= SIDE_BY_SIDE_WINDOWS; index++) {
      const targets = sides.map((side) => ({
        server: servers[side],
        label: `${backend}-${side}-${index}`,
      }));
      const { result, stats } = await measuredTogether(targets, context, () =>
        allAtOnce(SIDE_BY_SIDE_TIMING),
      );
      for (const [at, side] of sides.entries()) {
        windows[side].push({ result: result[at]!, cpuMs: stats[at]!.cpuMs });
      }
      context.measurements.note(
        [backend, 'windows'],
        Object.fromEntries(sides.map((side) => [side, windows[side].map(windowFigures)])),
      );
    }
  } finally {
    await Promise.all(loads.map((load) => load.stop()));
  }
  return windows;
}
