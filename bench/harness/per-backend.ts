import type { Figure, ScenarioContext, ScenarioOutcome } from './scenario.js';
import { type BackendKind, startUpstream, type Upstream } from './targets.js';

export interface BackendOutcome {
  figures: Figure[];
  details: unknown;
}

/**
 * The common frame of a scenario: one fake upstream for the whole run, then `runBackend` on each
 * selected backend in turn; figures are concatenated, details keyed by backend after `settings`.
 */
export async function eachBackend(
  context: ScenarioContext,
  settings: Record<string, unknown>,
  runBackend: (backend: BackendKind, upstream: Upstream) => Promise<BackendOutcome>,
): Promise<ScenarioOutcome> {
  const upstream = await startUpstream();
  try {
    const figures: Figure[] = [];
    const details: Record<string, unknown> = { ...settings };
    for (const backend of context.backends) {
      const outcome = await runBackend(backend, upstream);
      figures.push(...outcome.figures);
      details[backend] = outcome.details;
    }
    return { figures, details };
  } finally {
    await upstream.child.stop();
  }
}
