import { Redis } from 'ioredis';
import { PrivateRedis, SHARED_REDIS_URL } from './redis.js';

const PING_TIMEOUT_MS = 1000;

async function answersPing(url: string): Promise<boolean> {
  const redis = new Redis(url, {
    lazyConnect: true,
    connectTimeout: PING_TIMEOUT_MS,
    commandTimeout: PING_TIMEOUT_MS,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    enableOfflineQueue: false,
  });
  // A refused connection is the answer we are asking for, not an error to report.
  redis.on('error', () => {});
  try {
    await redis.connect();
    return (await redis.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    redis.disconnect();
  }
}

/**
 * vitest globalSetup: uses the Redis at TEST_REDIS_URL when it answers, else starts a private
 * redis-server for the run. Its URL reaches the tests as TEST_REDIS_URL: vitest forks the
 * workers after global setup, with a copy of this process's environment.
 */
export default async function setup(): Promise<(() => Promise<void>) | undefined> {
  if (await answersPing(SHARED_REDIS_URL)) return undefined;
  const redis = new PrivateRedis();
  try {
    await redis.start();
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'not on PATH' : error;
    const failure = new Error(
      `No Redis answers at ${SHARED_REDIS_URL} and redis-server could not be started (${reason}): install redis-server or set TEST_REDIS_URL`,
    );
    // The line says it all; a stack into vitest's internals would only bury it.
    failure.stack = failure.message;
    throw failure;
  }
  const previousUrl = process.env.TEST_REDIS_URL;
  process.env.TEST_REDIS_URL = redis.url;
  console.log(`No Redis at ${SHARED_REDIS_URL}: the tests use a private one at ${redis.url}`);
  // Should vitest exit without running teardown, still take the server down with it.
  const stopOnExit = () => void redis.stop();
  process.once('exit', stopOnExit);
  return async () => {
    process.off('exit', stopOnExit);
    await redis.stop();
    if (previousUrl === undefined) delete process.env.TEST_REDIS_URL;
    else process.env.TEST_REDIS_URL = previousUrl;
  };
}
