import { performance } from 'node:perf_hooks';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import type { RetrySettings } from '../../src/config.js';
import { RESILIENCE_PRESETS } from '../../src/config.js';
import { createGuard, isRedisOutage } from '../../src/infra/backend/redis/connection.js';
import { BreakerRegistry } from '../../src/infra/breakers.js';
import { isLlmOutage, LlmChain } from '../../src/services/llm/chain.js';
import type { ChatTurn, Completion, LlmChunk, LlmProvider } from '../../src/services/llm/types.js';
import type { Scenario, ScenarioContext } from '../harness/scenario.js';

/**
 * What the resilience wrapper costs one upstream call, against the same call made directly in
 * the same run: a model call through the chain (breaker, retry loop, fallback bookkeeping) over a
 * provider that answers at once, and a Redis command through the Redis breaker and guard against
 * the bare ioredis command. In-process by design: the wrapper is what is measured, not a network.
 */
const LLM_CALLS = 20_000;
const REDIS_CALLS = 5_000;
const ROUNDS = 5;

const TURNS: readonly ChatTurn[] = [{ role: 'user', content: 'hi' }];
const RETRY: RetrySettings = {
  maxAttempts: 3,
  baseDelayMs: 250,
  maxDelayMs: 4_000,
  retryAfterCapMs: 10_000,
  deadlineMs: 30_000,
};

/** A provider that answers at once with a few chunks: only the wrapper's work remains. */
class InstantProvider implements LlmProvider {
  readonly model = 'instant';
  readonly describe = 'instant benchmark provider';

  async *stream(): AsyncGenerator<LlmChunk> {
    yield { kind: 'text', text: 'a' };
    yield { kind: 'text', text: 'b' };
    yield { kind: 'usage', usage: { promptTokens: 1, completionTokens: 2 } };
  }

  async complete(): Promise<Completion> {
    return { text: '{}', model: this.model, usage: { promptTokens: 1, completionTokens: 2 } };
  }
}

async function drain(chunks: AsyncIterable<LlmChunk>): Promise<void> {
  for await (const _chunk of chunks) {
    // consumed only
  }
}

/**
 * Microseconds per call over `calls` sequential calls; the best of ROUNDS rounds. This runs in
 * the runner's own process, so only `signal` stops it when the scenario is over its budget.
 */
async function microsecondsPerCall(
  calls: number,
  call: () => Promise<unknown>,
  signal: AbortSignal,
): Promise<number> {
  let best = Number.POSITIVE_INFINITY;
  for (let round = 0; round < ROUNDS; round++) {
    signal.throwIfAborted();
    const started = performance.now();
    for (let index = 0; index < calls; index++) await call();
    best = Math.min(best, ((performance.now() - started) * 1000) / calls);
  }
  return best;
}

async function measureLlm(
  breakers: BreakerRegistry,
  signal: AbortSignal,
): Promise<{ direct: number; wrapped: number }> {
  const provider = new InstantProvider();
  const chain = new LlmChain({
    links: [
      {
        provider,
        breaker: breakers.create('llm:bench:instant', {
          kind: 'llm',
          timeout: false,
          isOutage: isLlmOutage,
        }),
      },
    ],
    retry: RETRY,
    log: pino({ level: 'silent' }),
  });
  const neverCancelled = new AbortController().signal;
  const direct = () => drain(provider.stream());
  const wrapped = () => drain(chain.stream(TURNS, neverCancelled));
  await microsecondsPerCall(2_000, direct, signal);
  await microsecondsPerCall(2_000, wrapped, signal);
  return {
    direct: await microsecondsPerCall(LLM_CALLS, direct, signal),
    wrapped: await microsecondsPerCall(LLM_CALLS, wrapped, signal),
  };
}

async function measureRedis(
  redisUrl: string,
  breakers: BreakerRegistry,
  signal: AbortSignal,
): Promise<{ direct: number; wrapped: number }> {
  const redis = new Redis(redisUrl, { lazyConnect: true, enableOfflineQueue: false });
  await redis.connect();
  try {
    const guarded = createGuard(
      breakers.create('redis', { kind: 'redis', timeout: true, isOutage: isRedisOutage }),
    );
    const direct = () => redis.ping();
    const wrapped = () => guarded(() => redis.ping());
    await microsecondsPerCall(1_000, direct, signal);
    await microsecondsPerCall(1_000, wrapped, signal);
    return {
      direct: await microsecondsPerCall(REDIS_CALLS, direct, signal),
      wrapped: await microsecondsPerCall(REDIS_CALLS, wrapped, signal),
    };
  } finally {
    redis.disconnect();
  }
}

export const resilience: Scenario = {
  name: 'resilience',
  description: 'cost of the breaker/retry/fallback wrapper per upstream call vs a direct call',
  budgetSeconds: 240,
  async run(context: ScenarioContext) {
    const breakers = new BreakerRegistry({
      config: { preset: 'production', ...RESILIENCE_PRESETS.production },
      log: pino({ level: 'silent' }),
    });
    const { measurements, signal } = context;
    try {
      if (context.backends.includes('memory')) {
        context.log('model call: chain vs direct');
        const llm = await measureLlm(breakers, signal);
        measurements.note(['llm'], { ...llm, overheadMicroseconds: llm.wrapped - llm.direct });
        measurements.addFigures([
          {
            backend: 'memory',
            metric: 'model call through the chain',
            unit: 'µs/call',
            value: llm.wrapped,
            baseline: llm.direct,
          },
        ]);
      }
      if (context.backends.includes('redis')) {
        context.log('Redis PING: guarded vs direct');
        const redis = await measureRedis(context.redisUrl, breakers, signal);
        measurements.note(['redis'], {
          ...redis,
          overheadMicroseconds: redis.wrapped - redis.direct,
        });
        measurements.addFigures([
          {
            backend: 'redis',
            metric: 'Redis command through breaker and guard',
            unit: 'µs/call',
            value: redis.wrapped,
            baseline: redis.direct,
          },
        ]);
      }
    } finally {
      breakers.shutdown();
    }
  },
};
