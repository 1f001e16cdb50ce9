import { Redis } from 'ioredis';
import { Unavailable } from '../../../errors.js';

/**
 * Connections that fail fast: no offline queue and one retry per request, so a request caught
 * in an outage gets UPSTREAM_UNAVAILABLE at once instead of waiting on a reconnect.
 */
export async function connectRedis(url: string, connectionName: string): Promise<Redis> {
  const redis = new Redis(url, {
    connectionName,
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    connectTimeout: 5_000,
    commandTimeout: 5_000,
    keepAlive: 10_000,
    retryStrategy: (attempt) => Math.min(50 * 2 ** attempt, 1_000),
  });
  // Errors surface on the commands that hit them; an unhandled 'error' event would crash.
  redis.on('error', () => {});
  await redis.connect();
  return redis;
}

/** Runs a Redis call and turns any transport failure into the contract's error. */
export async function guarded<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    throw new Unavailable('The storage backend is unavailable.', {}, { cause: error });
  }
}
