import { randomUUID } from 'node:crypto';
import { type App, type AppOverrides, createApp } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { deleteKeys, SHARED_REDIS_URL } from './redis.js';

export type BackendKind = 'memory' | 'redis';

export interface TestServerOptions {
  backend?: BackendKind;
  /** Redis to use for the redis backend (default: the machine's shared one). */
  redisUrl?: string;
  /** Share a key prefix to make several servers one deployment. */
  keyPrefix?: string;
  env?: Record<string, string>;
  overrides?: AppOverrides;
}

export interface TestServer {
  app: App;
  port: number;
  httpUrl: string;
  wsUrl: string;
  keyPrefix: string;
  close(): Promise<void>;
}

/** Starts the real server (createApp, the composition root) on a free loopback port. */
export async function startServer(options: TestServerOptions = {}): Promise<TestServer> {
  const backend = options.backend ?? 'memory';
  const keyPrefix = options.keyPrefix ?? `test:${randomUUID()}:`;
  const redisUrl = options.redisUrl ?? SHARED_REDIS_URL;
  const config = loadConfig({
    NODE_ENV: 'test',
    PORT: '0',
    HOST: '127.0.0.1',
    LOG_LEVEL: 'silent',
    // Tests run many operations and answers at once for one principal; the protection tests
    // set their own limits.
    MAX_CONCURRENT_GENERATIONS: '1000',
    RATE_LIMIT_POINTS: '10000000',
    RATE_LIMIT_RESTORE_RATE: '1000000',
    MAX_OPERATION_COST: '10000000',
    LOCAL_LLM_TOKEN_DELAY_MS: '1',
    SHUTDOWN_GRACE_MS: '3000',
    // Tests open many sockets from one address and burst subscriptions on one socket.
    WS_MAX_CONNECTIONS_PER_PRINCIPAL: '1000',
    WS_MAX_MESSAGES_PER_SECOND: '100000',
    ...(backend === 'redis' ? { REDIS_URL: redisUrl, REDIS_KEY_PREFIX: keyPrefix } : {}),
    ...options.env,
  });
  const app = await createApp(config, options.overrides);
  const port = await app.listen();
  let closed = false;
  return {
    app,
    port,
    httpUrl: `http://127.0.0.1:${port}/graphql`,
    wsUrl: `ws://127.0.0.1:${port}/graphql`,
    keyPrefix,
    close: async () => {
      if (closed) return;
      closed = true;
      await app.close();
      if (backend === 'redis' && !options.keyPrefix) await deleteKeys(redisUrl, keyPrefix);
    },
  };
}
