import { once } from 'node:events';
import type { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { connectRedis, startHeartbeat } from '../../src/infra/backend/redis/connection.js';
import { SHARED_REDIS_URL } from '../support/redis.js';
import { TcpProxy } from '../support/tcp-proxy.js';

/**
 * The heartbeat tells a silent connection (socket up, no bytes) from a busy process: the first
 * must be dropped and reopened, the second must keep its connection, or every command in flight
 * on it fails and the Redis breaker opens on a healthy Redis.
 */
const INTERVAL_MS = 50;

/** Blocks the event loop, as a burst of work or a long GC does. */
function blockFor(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until) {
    // busy: nothing else in this process runs meanwhile
  }
}

const opened: { redis: Redis; stop: () => void }[] = [];
const proxies: TcpProxy[] = [];

async function watched(url: string) {
  const redis = await connectRedis(url, 'heartbeat-test');
  const stop = startHeartbeat(redis, INTERVAL_MS);
  opened.push({ redis, stop });
  const drops: string[] = [];
  redis.on('close', () => drops.push('close'));
  return { redis, drops };
}

afterEach(async () => {
  for (const { redis, stop } of opened.splice(0)) {
    stop();
    redis.disconnect();
  }
  await Promise.all(proxies.splice(0).map((proxy) => proxy.close()));
});

describe('the Redis heartbeat', () => {
  it('keeps a healthy connection through event-loop blocks longer than its interval', async () => {
    const { redis, drops } = await watched(SHARED_REDIS_URL);
    // Each block starts from setImmediate, right after a loop turn in which the overdue heartbeat
    // sent its PING: the PONG arrives during the block and its deadline expires in it too.
    for (let block = 0; block < 8; block++) {
      await new Promise<void>((resolve) =>
        setImmediate(() => {
          blockFor(INTERVAL_MS * 6);
          resolve();
        }),
      );
    }
    await new Promise((resolve) => setTimeout(resolve, INTERVAL_MS * 3));
    expect(drops).toEqual([]);
    expect(redis.status).toBe('ready');
    await expect(redis.ping()).resolves.toBe('PONG');
  });

  it('drops and reopens a connection whose replies stopped (a silent stall)', async () => {
    const proxy = await new TcpProxy({
      port: Number(new URL(SHARED_REDIS_URL).port || 6379),
    }).start();
    proxies.push(proxy);
    const { redis } = await watched(proxy.url);
    const closed = once(redis, 'close');
    proxy.blackhole('replies');
    await closed;
    proxy.heal();
    await once(redis, 'ready');
    await expect(redis.ping()).resolves.toBe('PONG');
    expect(proxy.accepted).toBeGreaterThanOrEqual(2);
  });
});
