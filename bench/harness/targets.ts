import { randomUUID } from 'node:crypto';
import { deleteKeys } from '../../tests/support/redis.js';
import type { BareWsMethods } from '../baselines/bare-ws.js';
import type { BareYogaMethods } from '../baselines/bare-yoga.js';
import type { ParleyMethods } from '../targets/parley.js';
import type { UpstreamMethods } from '../targets/upstream.js';
import { type Child, spawnChild } from './children.js';
import { BENCH_API_KEY } from './parley-api.js';
import type { Methods } from './rpc.js';

/** Starting the processes a scenario measures: the fake upstream, Parley, and the baselines. */

export type BackendKind = 'memory' | 'redis';

export interface Upstream {
  child: Child<UpstreamMethods>;
  baseURL: string;
}

export async function startUpstream(): Promise<Upstream> {
  const child = await spawnChild<UpstreamMethods>({
    name: 'upstream',
    entry: 'targets/upstream.ts',
  });
  return { child, baseURL: String(child.info.baseURL) };
}

/**
 * Warnings and errors a server logged: any error line counts against a scenario. Lines on
 * stderr are not the product's structured log (a library printing on its own): counted apart.
 */
export class LogTally {
  warnings = 0;
  errors = 0;
  stderrLines = 0;
  readonly samples: string[] = [];

  stderr(text: string): void {
    this.stderrLines++;
    if (this.samples.length < 5) this.samples.push(`stderr: ${text.slice(0, 300)}`);
  }

  line(text: string): void {
    const level = /"level":(\d+)/.exec(text)?.[1];
    if (level === undefined) return;
    if (Number(level) >= 50) this.errors++;
    else if (Number(level) >= 40) this.warnings++;
    else return;
    if (this.samples.length < 5) this.samples.push(text.slice(0, 400));
  }
}

export interface ServerTarget<M extends Methods> {
  child: Child<M>;
  httpUrl: string;
  wsUrl: string;
  logs: LogTally;
  /** Stops the process and removes whatever it left in Redis. */
  stop(): Promise<void>;
}

export interface TargetOptions {
  backend: BackendKind;
  redisUrl: string;
  upstreamBaseURL: string;
  /** Extra environment for this run (scenario-specific limits). */
  env?: Record<string, string>;
  /**
   * A Redis key prefix shared with other instances (several Parleys on one deployment's data).
   * Whoever passes one deletes its keys once every instance has stopped; by default each server
   * gets a prefix of its own and deletes it when it stops.
   */
  keyPrefix?: string;
}

/**
 * The point bucket at the largest size and refill config allows (10 M points, 10 M a second):
 * no bench load comes near it (the query scenario's 50 connections spend well under 1 M points a
 * second), so the cost limiting runs in full on every operation and never refuses one.
 */
export const POINT_BUCKET_ENV = {
  RATE_LIMIT_POINTS: '10000000',
  RATE_LIMIT_RESTORE_RATE: '10000000',
  MAX_OPERATION_COST: '10000000',
} as const;

/**
 * Per-principal admission limits well above what a scenario opens at once (every bench client is
 * one principal): seeding runs ten answers at once, fan-out holds a thousand subscriptions, idle
 * thousands of sockets.
 */
const ADMISSION_ENV = {
  MAX_CONCURRENT_GENERATIONS: '10000',
  MAX_SUBSCRIPTIONS_PER_PRINCIPAL: '100000',
  WS_MAX_CONNECTIONS: '1000000',
  WS_MAX_CONNECTIONS_PER_PRINCIPAL: '100000',
  WS_MAX_MESSAGES_PER_SECOND: '100000',
} as const;

/**
 * Parley as deployed: production mode (API keys required, masked errors, introspection off),
 * warnings and errors logged, generous limits so the bench measures streaming, not refusals.
 */
export async function startParley(options: TargetOptions): Promise<ServerTarget<ParleyMethods>> {
  const keyPrefix = options.keyPrefix ?? `bench:${randomUUID()}:`;
  const ownsKeys = options.keyPrefix === undefined;
  const env: Record<string, string> = {
    NODE_ENV: 'production',
    LOG_LEVEL: 'warn',
    PORT: '0',
    HOST: '127.0.0.1',
    API_KEYS: `bench:${BENCH_API_KEY}`,
    OPENAI_BASE_URL: options.upstreamBaseURL,
    OPENAI_API_KEY: 'bench',
    LLM_MODEL: 'bench-model',
    LLM_FIRST_TOKEN_TIMEOUT_MS: '600000',
    LLM_IDLE_TIMEOUT_MS: '600000',
    SHUTDOWN_GRACE_MS: '2000',
    ...POINT_BUCKET_ENV,
    ...ADMISSION_ENV,
    ...(options.backend === 'redis'
      ? { REDIS_URL: options.redisUrl, REDIS_KEY_PREFIX: keyPrefix }
      : {}),
    ...options.env,
  };
  const target = await startServer<ParleyMethods>('parley', 'targets/parley.ts', env);
  return {
    ...target,
    stop: async () => {
      await target.stop();
      if (options.backend === 'redis' && ownsKeys) await deleteKeys(options.redisUrl, keyPrefix);
    },
  };
}

/** In production mode, as Parley runs (graphql's development checks cost it a few per cent). */
export function startBareYoga(): Promise<ServerTarget<BareYogaMethods>> {
  return startServer<BareYogaMethods>('bare-yoga', 'baselines/bare-yoga.ts', {
    NODE_ENV: 'production',
  });
}

export function startBareWs(options: TargetOptions): Promise<ServerTarget<BareWsMethods>> {
  return startServer<BareWsMethods>('bare-ws', 'baselines/bare-ws.ts', {
    OPENAI_BASE_URL: options.upstreamBaseURL,
    REDIS_KEY_PREFIX: `bench:${randomUUID()}:`,
    ...(options.backend === 'redis' ? { REDIS_URL: options.redisUrl } : {}),
  });
}

async function startServer<M extends Methods>(
  name: string,
  entry: string,
  env: Record<string, string>,
): Promise<ServerTarget<M>> {
  const logs = new LogTally();
  const child = await spawnChild<M>({
    name,
    entry,
    env,
    nodeFlags: ['--expose-gc'],
    onStdoutLine: (line) => logs.line(line),
    onStderrLine: (line) => logs.stderr(line),
  });
  const port = Number(child.info.port);
  return {
    child,
    httpUrl: `http://127.0.0.1:${port}/graphql`,
    wsUrl: `ws://127.0.0.1:${port}/graphql`,
    logs,
    stop: () => child.stop(),
  };
}

/** A load generator: a child of its own, talking to the target over loopback. */
export function startLoad<M extends Methods>(name: string, entry: string): Promise<Child<M>> {
  return spawnChild<M>({ name, entry });
}
