import type { QueryLoadMethods, QueryLoadPlan, QueryLoadResult } from '../load/http-queries.js';
import type { Child } from './children.js';
import { SESSION_MESSAGES_QUERY } from './parley-api.js';
import { summarize } from './stats.js';
import { startLoad } from './targets.js';

/**
 * The closed-loop HTTP load of the query-shaped scenarios (query, protection): the session
 * messages query on seeded sessions from keep-alive connections, run from a process of its own,
 * and what a window of it yields.
 */

export interface QueryTiming {
  connections: number;
  warmupMs: number;
  durationMs: number;
}

/** `SESSION_MESSAGES_QUERY` on each session in turn. */
export function sessionQueryPlan(
  url: string,
  headers: Record<string, string>,
  ids: readonly string[],
  timing: QueryTiming,
): QueryLoadPlan {
  return {
    url,
    headers,
    bodies: ids.map((id) => JSON.stringify({ query: SESSION_MESSAGES_QUERY, variables: { id } })),
    ...timing,
  };
}

/** A load generator that runs one plan per `run` call, for as many windows as needed. */
export function startQueryLoad(): Promise<Child<QueryLoadMethods>> {
  return startLoad<QueryLoadMethods>('query-load', 'load/http-queries.ts');
}

/** One window from a load generator started for it and stopped after. */
export async function runQueryLoad(plan: QueryLoadPlan): Promise<QueryLoadResult> {
  const load = await startQueryLoad();
  try {
    return await load.call('run', plan);
  } finally {
    await load.stop();
  }
}

export interface Throughput {
  requestsPerSecond: number;
  p50: number;
  p99: number;
  requests: number;
  errors: number;
  firstError: string | undefined;
}

/** Throughput and latency over one or more windows (their requests and time added up). */
export function throughput(...results: readonly QueryLoadResult[]): Throughput {
  const latency = summarize(...results.map((result) => result.latenciesMs));
  const requests = results.reduce((sum, result) => sum + result.requests, 0);
  const elapsedMs = results.reduce((sum, result) => sum + result.elapsedMs, 0);
  return {
    requestsPerSecond: requests / (elapsedMs / 1000),
    p50: latency.p50,
    p99: latency.p99,
    requests,
    errors: results.reduce((sum, result) => sum + result.errors, 0),
    firstError: results.find((result) => result.firstError)?.firstError,
  };
}

/** Server CPU time per request, µs. */
export function cpuPerRequest(cpuMs: number, requests: number): number {
  return (cpuMs * 1000) / Math.max(1, requests);
}
