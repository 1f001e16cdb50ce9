import { Redis } from 'ioredis';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { redisKeys } from '../../src/infra/backend/redis/keys.js';
import { collectWs, startConversation, wsClient } from '../support/client.js';
import { SHARED_REDIS_URL } from '../support/redis.js';
import { startServer, type TestServer } from '../support/server.js';
import { until } from '../support/wait.js';

let server: TestServer;
let redis: Redis;

beforeAll(async () => {
  server = await startServer({
    backend: 'redis',
    env: { LOCAL_LLM_TOKEN_DELAY_MS: '50' },
  });
  redis = new Redis(SHARED_REDIS_URL);
});

afterAll(async () => {
  redis?.disconnect();
  await server?.close();
});

/**
 * The message record survives but its event log does not (evicted, or Redis restored from an
 * older snapshot): its subscribers must not wait for an end nobody can write.
 */
it('a subscriber whose event log vanished under it ends INTERRUPTED / GENERATION_LOST within seconds', async () => {
  const client = wsClient(server);
  const { assistantMessageId } = await startConversation(server, 'a question');
  let events = 0;
  const stream = collectWs(client, assistantMessageId, undefined, {
    timeoutMs: 20_000,
    onEvent: () => events++,
  });
  await until(() => events >= 3, { what: 'three deltas' });
  const deleted = Date.now();
  await redis.del(redisKeys(server.keyPrefix).eventLog(assistantMessageId));

  const result = await stream;
  await client.dispose();

  expect(result.errors).toEqual([]);
  expect(result.end?.message).toMatchObject({
    status: 'INTERRUPTED',
    error: { code: 'GENERATION_LOST' },
  });
  expect(result.end?.message?.content).toBe(result.text);
  // The quiet check runs after about 5 s (±20 %) without an announcement.
  expect(Date.now() - deleted).toBeLessThan(12_000);
}, 30_000);
