import type { Figure } from './scenario.js';

/**
 * What a scenario has measured so far. Scenarios fill it as they go rather than return it at
 * the end, so the runner can write it whether the scenario finishes, fails or runs over its
 * budget: a stopped scenario still reports every window it completed.
 */
export class Measurements {
  readonly figures: Figure[] = [];
  /** Everything else measured (raw stats, counts, checks), written to the results file. */
  readonly details: Record<string, unknown> = {};

  addFigures(figures: readonly Figure[]): void {
    this.figures.push(...figures);
  }

  /** Sets `details[path[0]][path[1]]…` to `value`, creating the levels on the way. */
  note(path: readonly [string, ...string[]], value: unknown): void {
    let level = this.details;
    for (const key of path.slice(0, -1)) {
      const next = level[key];
      if (typeof next !== 'object' || next === null || Array.isArray(next)) level[key] = {};
      level = level[key] as Record<string, unknown>;
    }
    level[path.at(-1)!] = value;
  }
}
