import { stopAllChildren } from './children.js';
import { sleep } from './clock.js';
import { Measurements } from './measurements.js';
import { rate, type ScenarioReport } from './report.js';
import type { Scenario, ScenarioContext } from './scenario.js';

/**
 * Runs one scenario under its budget and always comes back with its report, so one scenario
 * never ends the run: when it throws, overruns its budget or lets an error escape into this
 * process, it is recorded as failed with what it measured so far, and every child is killed.
 */

/** How long a stopped scenario may unwind (finally blocks, Redis cleanup) after its children die. */
const UNWIND_MS = 20_000;

export interface ScenarioRun {
  scenario: Scenario;
  /** Its budget for this run: scaled, and cut to what is left of the run's limit. */
  budgetSeconds: number;
  /** The context but for what every run gets fresh. */
  context: Omit<ScenarioContext, 'measurements' | 'signal'>;
  common: Pick<ScenarioReport, 'command' | 'run' | 'machine' | 'versions'>;
}

const describe = (error: unknown): string =>
  error instanceof Error ? error.message : String(error);

/**
 * Resolves with the reason when the scenario has to be stopped from outside: its budget ran out,
 * or an error escaped it (a dangling promise, an unheard 'error' event) that would otherwise end
 * the whole run.
 */
function stopWatch(scenario: Scenario, budgetSeconds: number, lastStep: () => string) {
  let overrun: NodeJS.Timeout | undefined;
  let onStray: (error: unknown) => void = () => {};
  const stopped = new Promise<string>((resolve) => {
    overrun = setTimeout(
      () => resolve(`over its budget of ${budgetSeconds} s, at "${lastStep()}"`),
      budgetSeconds * 1000,
    );
    onStray = (error) => {
      process.stderr.write(`bench: ${scenario.name} let an error escape: ${describe(error)}\n`);
      resolve(`an error escaped into the runner: ${describe(error)}`);
    };
  });
  process.on('uncaughtException', onStray);
  process.on('unhandledRejection', onStray);
  return {
    stopped,
    endBudget: () => clearTimeout(overrun),
    dispose: () => {
      clearTimeout(overrun);
      process.off('uncaughtException', onStray);
      process.off('unhandledRejection', onStray);
    },
  };
}

export async function runScenario(run: ScenarioRun): Promise<ScenarioReport> {
  const { scenario, budgetSeconds, context } = run;
  const startedAt = new Date();
  const measurements = new Measurements();
  const stopping = new AbortController();
  let lastStep = 'starting';
  const watch = stopWatch(scenario, budgetSeconds, () => lastStep);
  let failure: string | null;
  try {
    const running = Promise.resolve().then(() =>
      scenario.run({
        ...context,
        measurements,
        signal: stopping.signal,
        log: (message) => {
          lastStep = message;
          context.log(message);
        },
      }),
    );
    failure = await Promise.race([running.then(() => null, describe), watch.stopped]);
    watch.endBudget();
    if (failure !== null) {
      stopping.abort();
      failure += await unwind(running);
    }
    // Kills what a stopped scenario started while unwinding, and what a finished one forgot.
    const leftover = await stopAllChildren();
    if (leftover > 0 && failure === null)
      context.log(`killed ${leftover} children it left running`);
  } finally {
    // Still listening while it unwinds: its errors then must not end the run either.
    watch.dispose();
  }
  return {
    scenario: scenario.name,
    description: scenario.description,
    ...run.common,
    startedAt: startedAt.toISOString(),
    durationSeconds: Math.round((Date.now() - startedAt.getTime()) / 100) / 10,
    budgetSeconds,
    status: failure === null ? 'completed' : 'failed',
    failure,
    figures: measurements.figures.map(rate),
    details: measurements.details,
  };
}

/**
 * Kills a stopped scenario's children, which fails whatever it awaits from them, then waits for
 * its own code to unwind so that it cannot overlap the next scenario. Returns a note for the
 * failure when it did not unwind in time.
 */
async function unwind(running: Promise<void>): Promise<string> {
  await stopAllChildren();
  const unwound = await Promise.race([
    running.then(
      () => true,
      () => true,
    ),
    sleep(UNWIND_MS).then(() => false),
  ]);
  return unwound ? '' : `; still unwinding ${UNWIND_MS / 1000} s after its children were killed`;
}

/** The report of a scenario the run had no time left for. */
export function notRunReport(
  scenario: Scenario,
  common: ScenarioRun['common'],
  reason: string,
): ScenarioReport {
  return {
    scenario: scenario.name,
    description: scenario.description,
    ...common,
    startedAt: new Date().toISOString(),
    durationSeconds: 0,
    budgetSeconds: 0,
    status: 'failed',
    failure: reason,
    figures: [],
    details: {},
  };
}
