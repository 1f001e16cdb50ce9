import type { Figure, ScenarioContext } from './scenario.js';
import { type BackendKind, startUpstream, type Upstream } from './targets.js';

export interface BackendOutcome {
  figures: Figure[];
  details: unknown;
}

/**
 * The common frame of a scenario: one fake upstream for the whole run, then `runBackend` on each
 * selected backend in turn. Details hold `settings`, then one entry per backend; a backend's
 * figures and details are recorded as soon as it is done (a scenario may note its windows
 * earlier, under the same key: the finished details replace them).
 */
export async function eachBackend(
  context: ScenarioContext,
  settings: Record<string, unknown>,
  runBackend: (backend: BackendKind, upstream: Upstream) => Promise<BackendOutcome>,
): Promise<void> {
  Object.assign(context.measurements.details, settings);
  const upstream = await startUpstream();
  try {
    for (const backend of context.backends) {
      context.signal.throwIfAborted();
      const outcome = await runBackend(backend, upstream);
      context.measurements.addFigures(outcome.figures);
      context.measurements.note([backend], outcome.details);
    }
  } finally {
    await upstream.child.stop();
  }
}
