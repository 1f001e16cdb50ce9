import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import type { Config } from './config.js';
import { createMemoryBackend } from './infra/backend/memory.js';
import { isRedisOutage } from './infra/backend/redis/connection.js';
import { createRedisBackend } from './infra/backend/redis/index.js';
import { traceRedisCommands } from './infra/backend/redis/tracing.js';
import type { Backend } from './infra/backend/types.js';
import { BreakerRegistry } from './infra/breakers.js';
import { createContactWebhook } from './infra/contact-webhook.js';
import { createLogger, type Logger } from './infra/logger.js';
import { Metrics } from './infra/metrics.js';
import { createTracing, type Tracing } from './infra/tracing.js';
import { buildSchema } from './resolvers/index.js';
import { Authenticator } from './server/auth.js';
import { ClientIpResolver } from './server/client-ip.js';
import { useCostLimits } from './server/cost/cost-limits.js';
import { CostModel } from './server/cost/cost-model.js';
import { createErrorMapper } from './server/errors.js';
import { createHttpServer } from './server/http.js';
import { SharedEventExecution } from './server/shared-execution.js';
import { traceRootFields } from './server/tracing.js';
import { TrustedDocuments } from './server/trusted-documents.js';
import { attachWebSocketServer } from './server/websocket.js';
import { createYogaServer } from './server/yoga.js';
import { AdminService } from './services/admin.js';
import { AnswerLifecycle } from './services/chat/answers.js';
import { ChatService } from './services/chat/chat-service.js';
import { AnswerGenerator } from './services/chat/generator.js';
import { InputGuard } from './services/chat/input-guard.js';
import { GenerationRecovery } from './services/chat/recovery.js';
import { ContactService } from './services/contact.js';
import { HealthService } from './services/health.js';
import type { Services } from './services/index.js';
import { PointBuckets } from './services/limits/point-buckets.js';
import { TokenBudgets } from './services/limits/token-budgets.js';
import { createLlmChain, type LlmChain } from './services/llm/index.js';
import { LOCAL_MODEL } from './services/llm/local.js';
import { PersonaService } from './services/personas.js';
import { createRagService } from './services/rag/index.js';
import { DEFAULT_WRITER_OPTIONS } from './services/streams/event-writer.js';
import { DEFAULT_READER_OPTIONS } from './services/streams/stream-reader.js';
import { StreamService } from './services/streams/stream-service.js';
import { TextResultCache } from './services/text/result-cache.js';
import { TextService } from './services/text/text-service.js';

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
  /** How long a point refund waits for the principal's next debit (default 20 ms). */
  refundHoldMs?: number;
  /** Idle time before a heartbeat on an HTTP multipart subscription (default 5 s). */
  multipartHeartbeatMs?: number;
}

export interface App {
  readonly backend: Backend;
  readonly services: Services;
  /**
   * How stream events reached subscribers since start: executions and results shared
   * (shared-execution.ts), graphql-ws payloads serialised and frames written (ws-frames.ts).
   */
  streamDelivery(): {
    executed: number;
    shared: number;
    serialised: number;
    written: number;
    direct: number;
  };
  /** Starts listening; resolves with the bound port (config.port 0 picks a free one). */
  listen(): Promise<number>;
  /** Drains as the contract says: refuse new work, end every open stream with a MessageEnd, close. */
  close(): Promise<void>;
}

/** The composition root: every client, store and service is built here, once. */
export async function createApp(config: Config, overrides: AppOverrides = {}): Promise<App> {
  const log = overrides.log ?? createLogger(config.logLevel);
  // Checked before anything starts: a manifest that does not parse stops the start.
  const trustedDocuments = config.trustedDocuments
    ? new TrustedDocuments(config.trustedDocuments, config.limits.operation)
    : undefined;
  const tracing = await createTracing(config.tracing, config.version);
  const breakers = new BreakerRegistry({
    config: config.breakers,
    log: log.child({ component: 'breakers' }),
  });
  // Built before the parts it watches: its sources are read when Prometheus scrapes, by then
  // all built (the WebSocket server attaches to the HTTP server last).
  let openWebSockets = () => 0;
  let webSocketRefusals = () => ({ connections: 0, messageRate: 0 });
  const metrics = new Metrics(
    {
      openWebSockets: () => openWebSockets(),
      openSubscriptions: () => services.streams.openCount,
      runningGenerations: () => answers.runningCount,
      breakers: () => breakers.list(),
      webSocketRefusals: () => webSocketRefusals(),
    },
    configuredModels(config),
  );
  const backend = overrides.backend ?? (await createBackend(config, breakers, metrics));
  // ioredis reports each command on a diagnostics channel: spans only while tracing is on.
  const stopRedisTracing =
    tracing.enabled && backend.kind === 'redis' ? traceRedisCommands(tracing.tracer) : () => {};
  const llm =
    overrides.llm ??
    createLlmChain({
      llm: config.llm,
      breakers,
      log: log.child({ component: 'llm' }),
      metrics,
      tracer: tracing.tracer,
    });
  const { services, answers, recovery } = await createServices({
    config,
    backend,
    llm,
    breakers,
    log,
    now: overrides.now ?? Date.now,
    refundHoldMs: overrides.refundHoldMs,
    metrics,
    tracing,
  });
  const authenticator = new Authenticator(config.apiKeys);
  const clientIps = new ClientIpResolver(config.limits.trustedProxies);
  const errors = createErrorMapper(log);
  const sharedExecution = new SharedEventExecution();
  const yoga = createYogaServer({
    schema: traceRootFields(buildSchema(), tracing),
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
    sharedExecution,
    trustedDocuments,
    tracing,
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
    trustedDocuments,
    log: log.child({ component: 'websocket' }),
    tracing,
    sharedExecution,
  });
  openWebSockets = () => webSockets.openConnections;
  webSocketRefusals = () => ({
    connections: webSockets.refusedConnections,
    messageRate: webSockets.closedByGuard['message-rate'],
  });

  return {
    backend,
    services,
    streamDelivery: () => ({ ...sharedExecution.counts, ...webSockets.frames }),
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
      services.text.stopAccepting();
      await recovery.stop();
      await answers.shutdown();
      await services.streams.close(config.shutdownGraceMs);
      await webSockets.close(config.shutdownGraceMs);
      await services.rag.stop();
      await services.contact.drain();
      await new Promise<void>((resolve) => {
        const force = setTimeout(() => httpServer.closeAllConnections(), config.shutdownGraceMs);
        httpServer.close(() => {
          clearTimeout(force);
          resolve();
        });
        httpServer.closeIdleConnections();
      });
      // Refunds held for the next debit go back before storage closes.
      await services.points.flush();
      await backend.close();
      breakers.shutdown();
      stopRedisTracing();
      // The last spans (the answers ended above) are exported before the process goes.
      await tracing
        .shutdown()
        .catch((error: unknown) => log.warn({ err: error }, 'spans could not be exported'));
      log.info('closed');
    },
  };
}

/** The model names metrics label by: every configured chat and embeddings model. */
function configuredModels(config: Config): string[] {
  const chat = config.llm.endpoints.flatMap((endpoint) => endpoint.models);
  const embeddings = config.rag.embeddings ? [config.rag.embeddings.model] : [];
  return [LOCAL_MODEL, ...chat, ...embeddings];
}

function createBackend(
  config: Config,
  breakers: BreakerRegistry,
  metrics: Metrics,
): Promise<Backend> | Backend {
  if (!config.redisUrl) {
    return createMemoryBackend({
      streamLogTtlSeconds: config.streamLogTtlSeconds,
      cacheMaxEntries: config.text.cacheMaxEntries,
    });
  }
  return createRedisBackend({
    url: config.redisUrl,
    keyPrefix: config.redisKeyPrefix,
    streamLogTtlSeconds: config.streamLogTtlSeconds,
    breaker: breakers.create('redis', { kind: 'redis', timeout: true, isOutage: isRedisOutage }),
    metrics,
  });
}

interface ServiceParts {
  config: Config;
  backend: Backend;
  llm: LlmChain;
  breakers: BreakerRegistry;
  log: Logger;
  now: () => number;
  refundHoldMs: number | undefined;
  metrics: Metrics;
  tracing: Tracing;
}

/** The domain, wired: what resolvers call, and the answer lifecycle the server drains. */
async function createServices(parts: ServiceParts) {
  const { config, backend, llm, breakers, log, now, refundHoldMs, metrics, tracing } = parts;
  const { store, streams: eventLogs, control, ledger } = backend;
  const personas = new PersonaService(PERSONAS_DIR);
  const rag = createRagService({
    config,
    backend,
    llm,
    breakers,
    log: log.child({ component: 'rag' }),
    metrics,
    tracer: tracing.tracer,
  });
  await rag.start();
  const tokenBudgets = new TokenBudgets({ ledger, budget: config.limits.tokenBudget, now });
  const points = new PointBuckets({
    ledger,
    policy: { limit: config.rateLimit.points, restoreRate: config.rateLimit.restoreRate },
    maxOperationCost: config.rateLimit.maxOperationCost,
    now,
    refundHoldMs,
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
      metrics,
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
    tracer: tracing.tracer,
    requestModel: llm.model,
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
  const inputGuard = new InputGuard(config.limits.inputGuard);
  const chat = new ChatService({
    store,
    streams: eventLogs,
    personas,
    answers,
    streamService: streams,
    inputGuard,
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
    text: new TextService({
      llm,
      cache: new TextResultCache(
        backend.cache,
        config.text.cacheTtlSeconds * 1000,
        log.child({ component: 'text' }),
      ),
      tokenBudgets,
      inputGuard,
      maxTextChars: config.maxMessageChars,
      batchMax: config.text.batchMax,
      batchConcurrency: config.text.batchConcurrency,
      maxCompletionTokens: config.llm.maxCompletionTokens,
      metrics,
    }),
    contact: createContactService(config, backend, breakers, log, now),
  };
  return { services, answers, recovery };
}

/** The contact form; its webhook (when configured) has a breaker of its own, listed by admin. */
function createContactService(
  config: Config,
  backend: Backend,
  breakers: BreakerRegistry,
  log: Logger,
  now: () => number,
): ContactService {
  const { webhookUrl, webhookTimeoutMs, limitPerHour } = config.contact;
  const forwarder = webhookUrl
    ? createContactWebhook({
        url: webhookUrl,
        timeoutMs: webhookTimeoutMs,
        // Every failed delivery says the receiver is unwell; the call times itself out.
        breaker: breakers.create('webhook:contact', {
          kind: 'llm',
          timeout: false,
          isOutage: () => true,
        }),
      })
    : undefined;
  return new ContactService({
    store: backend.contacts,
    ledger: backend.ledger,
    limitPerHour,
    forwarder,
    log: log.child({ component: 'contact' }),
    now,
  });
}
