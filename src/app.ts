import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import type { Config } from './config.js';
import { createMemoryBackend } from './infra/backend/memory.js';
import { isRedisOutage } from './infra/backend/redis/connection.js';
import { createRedisBackend } from './infra/backend/redis/index.js';
import type { Backend } from './infra/backend/types.js';
import { BreakerRegistry } from './infra/breakers.js';
import { createLogger, type Logger } from './infra/logger.js';
import { buildSchema } from './resolvers/index.js';
import { Authenticator } from './server/auth.js';
import { createErrorMapper } from './server/errors.js';
import { createHttpServer } from './server/http.js';
import { attachWebSocketServer } from './server/websocket.js';
import { createYogaServer } from './server/yoga.js';
import { AdminService } from './services/admin.js';
import { ChatService } from './services/chat.js';
import { DEFAULT_WRITER_OPTIONS } from './services/event-writer.js';
import { GenerationService } from './services/generation.js';
import { HealthService } from './services/health.js';
import type { Services } from './services/index.js';
import { createLlmChain, type LlmChain } from './services/llm/index.js';
import { PersonaService } from './services/personas.js';
import { GenerationRecovery } from './services/recovery.js';
import { DEFAULT_READER_OPTIONS } from './services/stream-reader.js';
import { StreamService } from './services/streams.js';

const PERSONAS_DIR = fileURLToPath(new URL('../personas', import.meta.url));

/** Parts a test may supply instead of the ones config would build. */
export interface AppOverrides {
  backend?: Backend;
  llm?: LlmChain;
  log?: Logger;
}

export interface App {
  readonly backend: Backend;
  readonly services: Services;
  /** Starts listening; resolves with the bound port (config.port 0 picks a free one). */
  listen(): Promise<number>;
  /** Drains as the contract says: refuse new work, end every open stream with a MessageEnd, close. */
  close(): Promise<void>;
}

/** The composition root: every client, store and service is built here, once. */
export async function createApp(config: Config, overrides: AppOverrides = {}): Promise<App> {
  const log = overrides.log ?? createLogger(config.logLevel);
  const breakers = new BreakerRegistry(config.breakers, log.child({ component: 'breakers' }));
  const backend =
    overrides.backend ??
    (config.redisUrl
      ? await createRedisBackend({
          url: config.redisUrl,
          keyPrefix: config.redisKeyPrefix,
          streamLogTtlSeconds: config.streamLogTtlSeconds,
          breaker: breakers.create('redis', {
            kind: 'redis',
            timeout: true,
            isOutage: isRedisOutage,
          }),
        })
      : createMemoryBackend({ streamLogTtlSeconds: config.streamLogTtlSeconds }));
  const personas = new PersonaService(PERSONAS_DIR);
  const llm =
    overrides.llm ?? createLlmChain(config.llm, breakers, log.child({ component: 'llm' }));
  const generation = new GenerationService(
    backend.store,
    backend.streams,
    backend.control,
    llm,
    personas,
    {
      historyMessages: config.llm.historyMessages,
      leaseMs: config.generation.leaseMs,
      shutdownGraceMs: config.shutdownGraceMs,
      writer: {
        ...DEFAULT_WRITER_OPTIONS,
        maxBufferedBytes: config.storageOutage.bufferBytes,
        maxOutageMs: config.storageOutage.maxMs,
      },
    },
    log.child({ component: 'generation' }),
  );
  await generation.start();
  const recovery = new GenerationRecovery(
    backend.store,
    backend.streams,
    (messageId) => generation.isRunningHere(messageId),
    config.generation.sweepIntervalMs,
    log.child({ component: 'recovery' }),
  );
  recovery.start();
  const streams = new StreamService(backend.store, backend.streams, {
    ...DEFAULT_READER_OPTIONS,
    maxOutageMs: config.storageOutage.maxMs,
  });
  const chat = new ChatService(
    backend.store,
    backend.streams,
    personas,
    generation,
    streams,
    {
      maxMessageChars: config.maxMessageChars,
      maxTitleChars: 200,
      leaseMs: config.generation.leaseMs,
      cancelWaitMs: 10_000,
    },
    log.child({ component: 'chat' }),
  );
  const health = new HealthService(config.version, backend, llm, breakers);
  const admin = new AdminService(breakers);
  const services: Services = { chat, streams, personas, health, admin };

  const authenticator = new Authenticator(config.apiKeys);
  const errors = createErrorMapper(log);
  const yoga = createYogaServer({
    schema: buildSchema(),
    services,
    backend,
    authenticator,
    errors,
    introspection: config.introspection,
    log,
  });
  let draining = false;
  const httpServer = createHttpServer({ yoga, health, isDraining: () => draining });
  const webSockets = attachWebSocketServer({
    httpServer,
    yoga,
    authenticator,
    errors,
    maxSubscriptionsPerSocket: config.maxSubscriptionsPerSocket,
  });

  return {
    backend,
    services,
    listen: () =>
      new Promise((resolve, reject) => {
        httpServer.once('error', reject);
        httpServer.listen(config.port, config.host, () => {
          const { port } = httpServer.address() as AddressInfo;
          log.info(
            { port, host: config.host, backend: backend.kind, llm: llm.describe },
            'parley listening',
          );
          if (authenticator.anonymousMode) {
            log.warn(
              'no API_KEYS configured: every caller is the anonymous principal (development only)',
            );
          }
          resolve(port);
        });
      }),
    close: async () => {
      if (draining) return;
      draining = true;
      log.info('draining');
      chat.stopAccepting();
      await recovery.stop();
      await generation.shutdown();
      await streams.close(config.shutdownGraceMs);
      await webSockets.close(config.shutdownGraceMs);
      await new Promise<void>((resolve) => {
        const force = setTimeout(() => httpServer.closeAllConnections(), config.shutdownGraceMs);
        httpServer.close(() => {
          clearTimeout(force);
          resolve();
        });
        httpServer.closeIdleConnections();
      });
      await backend.close();
      breakers.shutdown();
      log.info('closed');
    },
  };
}
