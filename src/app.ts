import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import type { Config } from './config.js';
import { createMemoryBackend } from './infra/backend/memory.js';
import { isRedisOutage } from './infra/backend/redis/connection.js';
import { createRedisBackend } from './infra/backend/redis/index.js';
import type { Backend } from './infra/backend/types.js';
import { BreakerRegistry } from './infra/breakers.js';
import { createLogger, type Logger } from './infra/logger.js';
import { Metrics } from './infra/metrics.js';
import { buildSchema } from './resolvers/index.js';
import { Authenticator } from './server/auth.js';
import { ClientIpResolver } from './server/client-ip.js';
import { useCostLimits } from './server/cost/cost-limits.js';
import { CostModel } from './server/cost/cost-model.js';
import { createErrorMapper } from './server/errors.js';
import { createHttpServer } from './server/http.js';
import { attachWebSocketServer } from './server/websocket.js';
import { createYogaServer } from './server/yoga.js';
import { AdminService } from './services/admin.js';
import { AnswerLifecycle } from './services/chat/answers.js';
import { ChatService } from './services/chat/chat-service.js';
import { AnswerGenerator } from './services/chat/generator.js';
import { InputGuard } from './services/chat/input-guard.js';
import { GenerationRecovery } from './services/chat/recovery.js';
import { HealthService } from './services/health.js';
import type { Services } from './services/index.js';
import { PointBuckets } from './services/limits/point-buckets.js';
import { TokenBudgets } from './services/limits/token-budgets.js';
import { createLlmChain, type LlmChain } from './services/llm/index.js';
import { PersonaService } from './services/personas.js';
import { createRagService } from './services/rag/index.js';
import { DEFAULT_WRITER_OPTIONS } from './services/streams/event-writer.js';
import { DEFAULT_READER_OPTIONS } from './services/streams/stream-reader.js';
import { StreamService } from './services/streams/stream-service.js';

/** Lists without a slicing argument count as 10 items; slices are counted up to their maxima. */
const COST_MODEL = { defaultListSize: 10, maxSlice: { first: 100, last: 100, k: 50 } };

const PERSONAS_DIR = fileURLToPath(new URL('../personas', import.meta.url));

/** Parts a test may supply instead of the ones config would build. */
export interface AppOverrides {
  backend?: Backend;
  llm?: LlmChain;
  log?: Logger;
  /** The clock of the point buckets and token budgets (tests drive refills with it). */
  now?: () => number;
  /** Idle time before a heartbeat on an HTTP multipart subscription (default 5 s). */
  multipartHeartbeatMs?: number;
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
  const breakers = new BreakerRegistry({
    config: config.breakers,
    log: log.child({ component: 'breakers' }),
  });
  const backend = overrides.backend ?? (await createBackend(config, breakers));
  const llm =
    overrides.llm ??
    createLlmChain({ llm: config.llm, breakers, log: log.child({ component: 'llm' }) });
  const { services, answers, recovery } = await createServices({
    config,
    backend,
    llm,
    breakers,
    log,
    now: overrides.now ?? Date.now,
  });
  const authenticator = new Authenticator(config.apiKeys);
  const clientIps = new ClientIpResolver(config.limits.trustedProxies);
  const errors = createErrorMapper(log);
  // The WebSocket server attaches to the HTTP server after it: the gauge reads it when scraped.
  let openWebSockets = () => 0;
  const metrics = new Metrics({
    openWebSockets: () => openWebSockets(),
    openSubscriptions: () => services.streams.openCount,
    runningGenerations: () => answers.runningCount,
    breakers: () => breakers.list(),
  });
  const yoga = createYogaServer({
    schema: buildSchema(),
    services,
    backend,
    authenticator,
    errors,
    introspection: config.introspection,
    clientIps,
    // Off (COST_LIMITING=off) only behind a gateway that limits cost itself.
    costLimits: config.limits.costLimiting
      ? useCostLimits({ model: new CostModel(COST_MODEL), points: services.points, errors })
      : undefined,
    operationLimits: { ...config.limits.operation, hideSuggestions: config.production },
    cors: { origins: config.limits.corsOrigins, production: config.production },
    metrics,
    log,
    multipartHeartbeatMs: overrides.multipartHeartbeatMs,
  });
  let draining = false;
  const httpServer = createHttpServer({
    yoga,
    health: services.health,
    isDraining: () => draining,
    limits: config.limits.http,
    metrics: {
      registry: metrics.registry,
      token: config.metricsToken,
      requireToken: config.production,
    },
    graphiql: config.introspection,
  });
  const webSockets = attachWebSocketServer({
    httpServer,
    yoga,
    authenticator,
    errors,
    clientIps,
    limits: config.limits.webSocket,
    maxSubscriptionsPerSocket: config.maxSubscriptionsPerSocket,
    log: log.child({ component: 'websocket' }),
  });
  openWebSockets = () => webSockets.openConnections;

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
      services.chat.stopAccepting();
      await recovery.stop();
      await answers.shutdown();
      await services.streams.close(config.shutdownGraceMs);
      await webSockets.close(config.shutdownGraceMs);
      await services.rag.stop();
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

function createBackend(config: Config, breakers: BreakerRegistry): Promise<Backend> | Backend {
  if (!config.redisUrl) {
    return createMemoryBackend({ streamLogTtlSeconds: config.streamLogTtlSeconds });
  }
  return createRedisBackend({
    url: config.redisUrl,
    keyPrefix: config.redisKeyPrefix,
    streamLogTtlSeconds: config.streamLogTtlSeconds,
    breaker: breakers.create('redis', { kind: 'redis', timeout: true, isOutage: isRedisOutage }),
  });
}

interface ServiceParts {
  config: Config;
  backend: Backend;
  llm: LlmChain;
  breakers: BreakerRegistry;
  log: Logger;
  now: () => number;
}

/** The domain, wired: what resolvers call, and the answer lifecycle the server drains. */
async function createServices({ config, backend, llm, breakers, log, now }: ServiceParts) {
  const { store, streams: eventLogs, control, ledger } = backend;
  const personas = new PersonaService(PERSONAS_DIR);
  const rag = createRagService({
    config,
    backend,
    llm,
    breakers,
    log: log.child({ component: 'rag' }),
  });
  await rag.start();
  const tokenBudgets = new TokenBudgets({ ledger, budget: config.limits.tokenBudget, now });
  const points = new PointBuckets({
    ledger,
    policy: { limit: config.rateLimit.points, restoreRate: config.rateLimit.restoreRate },
    maxOperationCost: config.rateLimit.maxOperationCost,
    now,
  });
  const answers = new AnswerLifecycle({
    store,
    streams: eventLogs,
    control,
    ledger,
    retriever: rag,
    generator: new AnswerGenerator({
      store,
      llm,
      personas,
      historyMessages: config.llm.historyMessages,
    }),
    tokenBudgets,
    leaseMs: config.generation.leaseMs,
    shutdownGraceMs: config.shutdownGraceMs,
    maxConcurrentGenerations: config.limits.maxConcurrentGenerations,
    maxCompletionTokens: config.llm.maxCompletionTokens,
    writer: {
      ...DEFAULT_WRITER_OPTIONS,
      maxBufferedBytes: config.storageOutage.bufferBytes,
      maxOutageMs: config.storageOutage.maxMs,
    },
    log: log.child({ component: 'answers' }),
  });
  await answers.start();
  const recovery = new GenerationRecovery({
    store,
    answers,
    sweepIntervalMs: config.generation.sweepIntervalMs,
    log: log.child({ component: 'recovery' }),
  });
  recovery.start();
  const streams = new StreamService({
    store,
    streams: eventLogs,
    readerOptions: { ...DEFAULT_READER_OPTIONS, maxOutageMs: config.storageOutage.maxMs },
    maxSubscriptionsPerPrincipal: config.limits.maxSubscriptionsPerPrincipal,
  });
  const chat = new ChatService({
    store,
    streams: eventLogs,
    personas,
    answers,
    streamService: streams,
    inputGuard: new InputGuard(config.limits.inputGuard),
    options: { maxMessageChars: config.maxMessageChars, maxTitleChars: 200, cancelWaitMs: 10_000 },
    log: log.child({ component: 'chat' }),
  });
  const services: Services = {
    chat,
    streams,
    personas,
    health: new HealthService({ version: config.version, backend, llm, breakers }),
    admin: new AdminService(breakers),
    points,
    tokenBudgets,
    rag,
  };
  return { services, answers, recovery };
}
