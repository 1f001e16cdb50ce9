import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll } from 'vitest';
import { createMemoryBackend } from '../../src/infra/backend/memory.js';
import { createRedisBackend } from '../../src/infra/backend/redis/index.js';
import type { Backend } from '../../src/infra/backend/types.js';
import { deleteKeys, SHARED_REDIS_URL } from './redis.js';

const STREAM_LOG_TTL_SECONDS = 3600;

export interface BackendCase {
  create(): Promise<Backend>;
  cleanup(): Promise<void>;
}

/**
 * Both backends, for `describe.each`: the real memory one, and the real Redis one under a key
 * prefix of this call's own (deleted by `cleanup`).
 */
export function backendCases(): [string, BackendCase][] {
  const keyPrefix = `test:${randomUUID()}:`;
  return [
    [
      'memory',
      {
        create: async () => createMemoryBackend({ streamLogTtlSeconds: STREAM_LOG_TTL_SECONDS }),
        cleanup: async () => {},
      },
    ],
    [
      'redis',
      {
        create: () =>
          createRedisBackend({
            url: SHARED_REDIS_URL,
            keyPrefix,
            streamLogTtlSeconds: STREAM_LOG_TTL_SECONDS,
          }),
        cleanup: () => deleteKeys(SHARED_REDIS_URL, keyPrefix),
      },
    ],
  ];
}

/**
 * The case's backend for the tests of the `describe` this is called in: created before them,
 * closed and its keys deleted after.
 */
export function backendFor(backendCase: BackendCase): () => Backend {
  let backend: Backend | undefined;
  beforeAll(async () => {
    backend = await backendCase.create();
  });
  afterAll(async () => {
    await backend?.close();
    await backendCase.cleanup();
  });
  return () => {
    if (!backend) throw new Error('the backend is used before its suite started');
    return backend;
  };
}
