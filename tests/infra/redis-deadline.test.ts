import type { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { RESILIENCE_PRESETS } from '../../src/config.js';
import { Unavailable } from '../../src/errors.js';
import { connectRedis, createGuard } from '../../src/infra/backend/redis/connection.js';
import { BreakerRegistry } from '../../src/infra/breakers.js';
import { createLogger } from '../../src/infra/logger.js';
import { SHARED_REDIS_URL } from '../support/redis.js';
import { TcpProxy } from '../support/tcp-proxy.js';

/**
 * The Redis breaker's deadline counts the event loop's time, not the wall clock's: a reply that
 * arrived while the loop was held (a burst, a long GC) is an answer, not a timeout, or a healthy
 * Redis opens the breaker for every caller. A Redis that does not answer still times out.
 */
const DEADLINE_MS = 100;

/** Blocks the event loop, as a burst of work or a long GC does. */
function blockFor(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until) {
    // busy: nothing else in this process runs meanwhile
  }
}

const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

const connections: Redis[] = [];
const proxies: TcpProxy[] = [];
const registries: BreakerRegistry[] = [];

async function guarded(url: string) {
  const redis = await connectRedis(url, 'deadline-test');
  connections.push(redis);
  const registry = new BreakerRegistry({
    config: {
      preset: 'development',
      llm: RESILIENCE_PRESETS.development.llm,
      redis: { ...RESILIENCE_PRESETS.development.redis, timeoutMs: DEADLINE_MS },
    },
    log: createLogger('silent'),
  });
  registries.push(registry);
  const breaker = registry.create('redis', {
    kind: 'redis',
    timeout: true,
    isOutage: () => true,
  });
  return { redis, breaker, guard: createGuard(breaker) };
}

async function blackholedProxy(): Promise<TcpProxy> {
  const proxy = await new TcpProxy({
    port: Number(new URL(SHARED_REDIS_URL).port || 6379),
  }).start();
  proxies.push(proxy);
  return proxy;
}

afterEach(async () => {
  for (const registry of registries.splice(0)) registry.shutdown();
  for (const redis of connections.splice(0)) redis.disconnect();
  await Promise.all(proxies.splice(0).map((proxy) => proxy.close()));
});

describe('the Redis breaker deadline', () => {
  it('takes a reply that arrived while the event loop was held past the deadline', async () => {
    const { redis, breaker, guard } = await guarded(SHARED_REDIS_URL);
    for (let round = 0; round < 5; round++) {
      const ping = guard(() => redis.ping());
      const missing = guard(() => redis.get(`deadline-test:${round}`));
      blockFor(DEADLINE_MS * 4);
      await expect(ping).resolves.toBe('PONG');
      await expect(missing).resolves.toBeNull();
    }
    expect(breaker.snapshot()).toMatchObject({ state: 'CLOSED', failures: 0, timeouts: 0 });
  });

  it('times out a call that Redis does not answer, counted as a timeout', async () => {
    const proxy = await blackholedProxy();
    const { redis, breaker, guard } = await guarded(proxy.url);
    proxy.blackhole('replies');
    await expect(guard(() => redis.get('deadline-test'))).rejects.toBeInstanceOf(Unavailable);
    expect(breaker.snapshot()).toMatchObject({ failures: 1, timeouts: 1 });
  });

  it('a loop held again and again stretches the deadline only so far', async () => {
    const proxy = await blackholedProxy();
    const { redis, guard } = await guarded(proxy.url);
    proxy.blackhole('replies');
    let failed: unknown;
    const call = guard(() => redis.get('deadline-test')).catch((error: unknown) => {
      failed = error;
    });
    // Every turn is held past the deadline: without a bound the call would wait for ever.
    for (let turn = 0; turn < 40 && failed === undefined; turn++) {
      blockFor(DEADLINE_MS * 1.5);
      await nextTurn();
    }
    await call;
    expect(failed).toBeInstanceOf(Unavailable);
  });
});
