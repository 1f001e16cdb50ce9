import type { Child } from './children.js';
import type { Measurements } from './measurements.js';
import type { ProbeMethods, ProcessStats } from './target-probe.js';
import type { BackendKind } from './targets.js';

/**
 * What a scenario is to the runner. Adding one is a file in scenarios/ exporting a Scenario and
 * one line in scenarios/index.ts.
 */
export interface Scenario {
  name: string;
  /** One line for `--list` and the results file. */
  description: string;
  /**
   * Upper bound on its wall time over all backends, twice what it takes on the machine it was
   * tuned on (room for one twice as slow); the runner stops it past this.
   */
  budgetSeconds: number;
  /** Records what it measures in `context.measurements` as it goes, not at the end. */
  run(context: ScenarioContext): Promise<void>;
}

export interface ScenarioContext {
  backends: readonly BackendKind[];
  redisUrl: string;
  /** When set, servers record a CPU profile of each measured window. */
  profile: boolean;
  /** Where the CPU profile of a measured window goes (bench/results/…cpuprofile). */
  profilePath(label: string): string;
  log(message: string): void;
  /** Where the scenario's figures and details go as soon as each is measured. */
  measurements: Measurements;
  /**
   * Aborted when the runner stops the scenario (over budget): its children are killed then, but
   * work in the runner's own process has to check this to stop.
   */
  signal: AbortSignal;
}

/** A goal from the issue: on the ratio to the baseline, or on the value itself. */
export type Goal =
  | { on: 'ratio'; atLeast: number }
  | { on: 'ratio'; atMost: number }
  | { on: 'value'; atLeast: number }
  | { on: 'value'; atMost: number };

export interface Figure {
  backend: BackendKind;
  metric: string;
  unit: string;
  /** Parley's figure. */
  value: number;
  /** The bare stack's figure under the same load in the same run; absent where none applies. */
  baseline?: number;
  goal?: Goal;
}

/**
 * Runs `work` as one measured window on a server: resets its counters first, optionally
 * profiles it, and returns the server's own stats for exactly that window.
 */
export async function measured<T>(
  server: Child<ProbeMethods>,
  context: ScenarioContext,
  label: string,
  work: () => Promise<T>,
): Promise<{ result: T; stats: ProcessStats }> {
  const { result, stats } = await measuredTogether([{ server, label }], context, work);
  return { result, stats: stats[0]! };
}

/**
 * One measured window on several servers at once (an A/B pair under the same load at the same
 * moment): every counter is reset before `work` starts and read after it ends, each server
 * profiled to its own label; the stats come back in the order of `servers`.
 */
export async function measuredTogether<T>(
  servers: readonly { server: Child<ProbeMethods>; label: string }[],
  context: ScenarioContext,
  work: () => Promise<T>,
): Promise<{ result: T; stats: ProcessStats[] }> {
  context.signal.throwIfAborted();
  const each = (step: (target: (typeof servers)[number]) => Promise<unknown>) =>
    Promise.all(servers.map(step));
  await each(({ server }) => server.call('resetStats'));
  if (context.profile) await each(({ server }) => server.call('profileStart'));
  const result = await work();
  const stats = await Promise.all(servers.map(({ server }) => server.call('stats')));
  if (context.profile) {
    await each(({ server, label }) => server.call('profileStop', context.profilePath(label)));
  }
  return { result, stats };
}
