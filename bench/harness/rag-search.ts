import { SampleSet } from './stats.js';

/**
 * What both sides of the rag scenario share about a query window: the plan, the timed loop (one
 * query at a time, closed loop, so a latency is a query's own and not time spent queued) and
 * what it yields. Each side runs the same queries in the same order.
 */
export interface QueryWindowPlan {
  queries: string[];
  k: number;
  /** Run before the window and not timed (a fresh process runs its first calls unoptimised). */
  warmup: number;
  /** Queries start until this much time has passed (the one running then still counts)… */
  durationMs: number;
  /** …and at most this many. */
  maxQueries: number;
}

/** One chunk of an answer: its text and its fused score (0–1). */
export interface Found {
  text: string;
  score: number;
}

export interface QueryWindow {
  /** Latency of each query in order, ms: query i of the plan is latenciesMs[i]. */
  latenciesMs: Float64Array;
  /** The chunks each query returned, best first (to compare the two sides). */
  top: Found[][];
  errors: number;
  firstError: string | undefined;
  elapsedMs: number;
}

/** Runs `ask` on the plan's queries, warm-up first, then timed until duration or count runs out. */
export async function runQueryWindow(
  plan: QueryWindowPlan,
  ask: (query: string) => Promise<Found[]> | Found[],
): Promise<QueryWindow> {
  for (let index = 0; index < plan.warmup; index++) {
    await ask(plan.queries[index % plan.queries.length]!);
  }
  const latencies = new SampleSet();
  const top: Found[][] = [];
  let errors = 0;
  let firstError: string | undefined;
  const started = performance.now();
  const stopAt = started + plan.durationMs;
  const count = Math.min(plan.maxQueries, plan.queries.length);
  for (let index = 0; index < count && (index === 0 || performance.now() < stopAt); index++) {
    const sent = performance.now();
    try {
      top.push(await ask(plan.queries[index]!));
    } catch (error) {
      errors++;
      firstError ??= String(error);
      top.push([]);
    }
    latencies.add(performance.now() - sent);
  }
  return {
    latenciesMs: latencies.toArray(),
    top,
    errors,
    firstError,
    elapsedMs: performance.now() - started,
  };
}

/**
 * How far two sides' answers agree over the queries both ran. A query's answers are the same
 * when their k scores are and so are the chunks scoring above the k-th score: chunks tied at the
 * k-th place are left out, since each side breaks ties its own way (also why `sharedTexts`, the
 * share of chunks both returned, stays below 1). Fused scores depend on ranks only, so equal
 * scores alone would not show two indexes holding different chunks; the texts do.
 */
export function agreement(ours: readonly Found[][], theirs: readonly Found[][]) {
  const count = Math.min(ours.length, theirs.length);
  let same = 0;
  let shared = 0;
  let wanted = 0;
  for (let index = 0; index < count; index++) {
    const mine = ours[index]!;
    const other = theirs[index]!;
    if (sameAnswer(mine, other)) same++;
    const texts = new Set(other.map((found) => found.text));
    wanted += Math.max(mine.length, other.length);
    shared += mine.filter((found) => texts.has(found.text)).length;
  }
  return {
    queries: count,
    sameAnswers: count === 0 ? 0 : same / count,
    sharedTexts: wanted === 0 ? 1 : shared / wanted,
  };
}

const SCORE_EPSILON = 1e-9;

function sameAnswer(mine: readonly Found[], other: readonly Found[]): boolean {
  if (mine.length !== other.length) return false;
  if (mine.some((found, at) => Math.abs(found.score - other[at]!.score) > SCORE_EPSILON)) {
    return false;
  }
  const last = mine.at(-1)?.score ?? 0;
  const above = (answer: readonly Found[]) =>
    answer
      .filter((found) => found.score > last + SCORE_EPSILON)
      .map((found) => found.text)
      .sort();
  const [a, b] = [above(mine), above(other)];
  return a.length === b.length && a.every((text, at) => text === b[at]);
}
