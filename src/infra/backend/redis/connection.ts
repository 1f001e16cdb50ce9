import { createHash } from 'node:crypto';
import { type Command, Redis, ReplyError } from 'ioredis';
import { Unavailable } from '../../../errors.js';
import { type Breaker, BreakerOpenError } from '../../breakers.js';
import type { RedisMetrics } from '../../metrics.js';

/**
 * Connections that fail fast: no offline queue and no retry, so a request caught in an outage
 * gets UPSTREAM_UNAVAILABLE at once instead of waiting on a reconnect. With no retry a command in
 * flight when its connection drops is rejected then; with one it would be neither resent (see
 * below) nor rejected, and would hang.
 *
 * No ioredis commandTimeout: its plain timer fails a command whose reply arrived while the event
 * loop was held (see loop-fair-deadline.ts). The Redis breaker times guarded calls out fairly,
 * and the heartbeat drops a silent connection, which rejects every command in flight on it.
 */
export async function connectRedis(
  url: string,
  connectionName: string,
  metrics?: RedisMetrics,
  { autoResubscribe = true }: { autoResubscribe?: boolean } = {},
): Promise<Redis> {
  const redis = new Redis(url, {
    connectionName,
    autoResubscribe,
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    // A command whose caller already got an error must not run later behind its back (a claim
    // or an append the caller retries differently).
    autoResendUnfulfilledCommands: false,
    connectTimeout: 5_000,
    keepAlive: 10_000,
    retryStrategy: (attempt) => Math.min(50 * 2 ** attempt, 1_000),
  });
  // Errors surface on the commands that hit them; an unhandled 'error' event would crash.
  redis.on('error', () => {});
  if (metrics) timeCommands(redis, metrics);
  await redis.connect();
  return redis;
}

/**
 * Reports each command's round trip, from handing it to ioredis to its reply or error. Every
 * command passes through `sendCommand`, those of pipelines and transactions one by one (each
 * then takes about the whole batch's round trip). The cost per command is two clock reads and
 * one callback.
 */
function timeCommands(redis: Redis, metrics: RedisMetrics): void {
  const send = redis.sendCommand.bind(redis) as (command: Command, ...rest: unknown[]) => unknown;
  Object.assign(redis, {
    sendCommand: (command: Command, ...rest: unknown[]) => {
      const started = performance.now();
      const done = () => metrics.redisCommand(command.name, (performance.now() - started) / 1000);
      command.promise.then(done, done);
      return send(command, ...rest);
    },
  });
}

export type Guard = <T>(call: () => Promise<T>) => Promise<T>;

/**
 * What the Redis breaker counts: transport failures only. A reply Redis gave on purpose, or a
 * record that does not parse, says nothing about Redis's health (and a caller must never be able
 * to open the breaker for everyone by asking for a key that holds something else).
 */
export const isRedisOutage = (error: unknown) =>
  !(error instanceof ReplyError || error instanceof SyntaxError || error instanceof TypeError);

/**
 * Runs Redis calls through the Redis breaker and turns a transport failure (or the open breaker)
 * into the contract's UPSTREAM_UNAVAILABLE. A reply error (Redis answered, and refused) is a bug
 * or a conflict, not an outage: it passes unchanged.
 */
export function createGuard(breaker: Breaker | undefined): Guard {
  return async (call) => {
    try {
      return breaker ? await breaker.fire(call) : await call();
    } catch (error) {
      if (!isRedisOutage(error)) throw error;
      const message =
        error instanceof BreakerOpenError
          ? 'The storage backend is unavailable (circuit open).'
          : 'The storage backend is unavailable.';
      throw new Unavailable(message, {}, { cause: error });
    }
  };
}

const HEARTBEAT_INTERVAL_MS = 2_000;

/**
 * A connection can stall silently (socket up, no bytes): ioredis never notices. A periodic PING
 * that does not answer within the interval forces a reconnect.
 *
 * The deadline is judged after the event loop has read its sockets (setImmediate runs after the
 * poll phase): when the loop itself was blocked past the interval (a burst, a long GC), the
 * timer fires before the PONG that arrived meanwhile is read, and judging then would drop a
 * healthy connection and fail every command in flight on it.
 */
export function startHeartbeat(redis: Redis, intervalMs = HEARTBEAT_INTERVAL_MS): () => void {
  const timer = setInterval(() => {
    if (redis.status !== 'ready') return;
    let answered = false;
    const deadline = setTimeout(() => {
      setImmediate(() => {
        if (!answered) redis.disconnect(true);
      });
    }, intervalMs);
    redis.ping().then(
      () => {
        answered = true;
        clearTimeout(deadline);
      },
      () => {
        clearTimeout(deadline);
        redis.disconnect(true);
      },
    );
  }, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}

const scriptShas = new Map<string, string>();

/**
 * Runs a Lua script by its SHA (EVALSHA), sending its text only when Redis does not have it
 * yet (NOSCRIPT: first use, or after a restart). EVAL would send the whole script with every
 * call, once per token for the event log's append.
 */
export async function evalScript(
  redis: Redis,
  lua: string,
  numberOfKeys: number,
  ...args: (string | number)[]
): Promise<unknown> {
  let sha = scriptShas.get(lua);
  if (!sha) {
    sha = createHash('sha1').update(lua).digest('hex');
    scriptShas.set(lua, sha);
  }
  try {
    return await redis.evalsha(sha, numberOfKeys, ...args);
  } catch (error) {
    const noScript = error instanceof Error && error.message.startsWith('NOSCRIPT');
    if (!(error instanceof ReplyError) || !noScript) throw error;
    return redis.eval(lua, numberOfKeys, ...args);
  }
}

/**
 * Holds a connection's writes until the end of the current turn of the event loop
 * (setImmediate runs after the poll phase), then sends them in one write. Each command was its
 * own write (one syscall: 13 % of a query's CPU, and one per token per answer for the event
 * log's appends); the commands of every request and answer handled in one turn now share one.
 * Nothing waits longer than the turn it was sent in. ioredis's autopipelining waits for the same
 * moment but builds a pipeline (and a promise per command) for each batch; here the commands
 * stay as they are and only the socket waits.
 */
export class TurnBatchedWrites {
  private corked: Redis['stream'] | undefined;
  private readonly uncork = () => {
    const stream = this.corked;
    this.corked = undefined;
    stream?.uncork();
  };

  constructor(private readonly redis: Redis) {}

  /** Call right before sending: the command's write joins this turn's batch. */
  hold(): void {
    const { stream } = this.redis;
    if (this.corked !== undefined || this.redis.status !== 'ready' || !stream) return;
    stream.cork();
    this.corked = stream;
    setImmediate(this.uncork);
  }
}
