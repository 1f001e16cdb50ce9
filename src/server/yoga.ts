import type { IncomingMessage } from 'node:http';
import { type GraphQLSchema, NoSchemaIntrospectionCustomRule } from 'graphql';
import { createYoga, type Plugin } from 'graphql-yoga';
import { type Context, createContext, requestIdFrom } from '../context.js';
import type { Backend } from '../infra/backend/types.js';
import type { Logger } from '../infra/logger.js';
import type { Metrics } from '../infra/metrics.js';
import type { Tracing } from '../infra/tracing.js';
import type { Principal } from '../model.js';
import type { Services } from '../services/index.js';
import { type Authenticator, credentialFromHeaders } from './auth.js';
import type { ClientIpResolver } from './client-ip.js';
import { type CorsSettings, corsPolicy } from './cors.js';
import { type ErrorMapper, useRequestErrorCodes } from './errors.js';
import { renderSelfHostedGraphiQL } from './graphiql.js';
import { type OperationLimits, useHostileOperations } from './hostile-operations.js';
import { useMultipartSubscriptions } from './multipart-subscriptions.js';
import { useOperationLog } from './operation-log.js';
import { useOperationMetrics } from './operation-metrics.js';
import { isPublicOperation, PUBLIC_PRINCIPAL } from './public-operations.js';
import type { SharedEventExecution } from './shared-execution.js';
import { useTracing } from './tracing.js';
import { type TrustedDocuments, useTrustedDocuments } from './trusted-documents.js';

export interface YogaOptions {
  schema: GraphQLSchema;
  services: Services;
  backend: Backend;
  authenticator: Authenticator;
  errors: ErrorMapper;
  introspection: boolean;
  clientIps: ClientIpResolver;
  costLimits: Plugin<Context> | undefined;
  metrics?: Metrics;
  /** Each stream event executed once for all the subscribers that would execute it alike. */
  sharedExecution: SharedEventExecution;
  /** Spans per operation and phase; absent or off, no plugin is added. */
  tracing?: Tracing;
  operationLimits: OperationLimits;
  cors: CorsSettings;
  /** TRUSTED_DOCUMENTS: only the manifest's documents run (and GraphiQL is off). */
  trustedDocuments?: TrustedDocuments;
  log: Logger;
  /** Idle time before a heartbeat part on a multipart subscription (tests shorten it). */
  multipartHeartbeatMs?: number;
}

/**
 * What reaches the context factory besides yoga's own: node's request (HTTP, and the upgrade
 * request on the graphql-ws path, which also sets `principal`).
 */
export interface ServerContext {
  req?: IncomingMessage;
  principal?: Principal;
}

export function createYogaServer(options: YogaOptions) {
  const { services, backend, authenticator, errors, log } = options;
  /** The key's principal; without a key, the contact form alone runs (a wrong key never does). */
  const requestPrincipal = (
    headers: Headers,
    params: { query?: string; operationName?: string | null } | undefined,
  ): Principal => {
    const credential = credentialFromHeaders(headers);
    const keyless = credential === undefined && !authenticator.anonymousMode;
    if (keyless && isPublicOperation(params?.query, params?.operationName)) return PUBLIC_PRINCIPAL;
    return authenticator.authenticate(credential);
  };
  return createYoga<ServerContext, Context>({
    schema: options.schema,
    graphqlEndpoint: '/graphql',
    landingPage: false,
    // With trusted documents on, GraphiQL could run nothing typed into it: it is not served.
    graphiql:
      options.introspection && !options.trustedDocuments
        ? { title: 'Parley', subscriptionsProtocol: 'SSE' }
        : false,
    renderGraphiQL: renderSelfHostedGraphiQL,
    logging: false,
    // The HTTP layer (http.ts) already refuses a body over MAX_BODY_BYTES by its Content-Length
    // and one without it (chunked), and Node holds a body to its Content-Length: yoga's own
    // limit piped every request body through a TransformStream again (a stream pipeline and an
    // aborted AbortController per request, about 5 % of a query's CPU).
    maxRequestBodySize: false,
    batching:
      options.operationLimits.batchLimit > 0
        ? { limit: options.operationLimits.batchLimit }
        : false,
    cors: corsPolicy(options.cors),
    maskedErrors: { maskError: (error) => errors.mapError(error) },
    // A subscription's per-event result hooks (onSubscribeResult's onNext) must rewrite errors
    // only: on graphql-ws a shared stream's results without errors are read past them
    // (ws-frames.ts); tests/api/shared-delivery.test.ts holds graphql-ws against SSE.
    plugins: [
      errors.useContractErrors(),
      ...(options.metrics ? [useOperationMetrics(options.metrics)] : []),
      ...(options.trustedDocuments ? [useTrustedDocuments(options.trustedDocuments)] : []),
      ...(options.tracing?.enabled ? [useTracing(options.tracing)] : []),
      useHostileOperations(options.operationLimits),
      ...(options.introspection ? [] : [useNoIntrospection()]),
      ...(options.costLimits ? [options.costLimits] : []),
      useRequestErrorCodes(),
      useOperationLog(log.isLevelEnabled('info')),
      options.sharedExecution.plugin(),
      // Last, so it encodes the result every plugin above has finished with.
      useMultipartSubscriptions({
        heartbeatMs: options.multipartHeartbeatMs,
        log: log.child({ component: 'multipart' }),
      }),
    ],
    context: ({ request, req, principal, params }): Context => {
      const requestId = requestIdFrom(request?.headers.get('x-request-id'));
      let caller: Principal;
      try {
        caller = principal ?? requestPrincipal(request.headers, params);
      } catch (error) {
        throw errors.mapRequestError(error, log.child({ requestId }));
      }
      return createContext({
        principal: caller,
        clientIp: options.clientIps.resolve(
          req?.socket.remoteAddress,
          req?.headers['x-forwarded-for'],
        ),
        requestId,
        services,
        backend,
        log,
      });
    },
  });
}

export type YogaServer = ReturnType<typeof createYogaServer>;

/**
 * Introspection off as a validation rule: the graphql-ws path runs envelop's validate but none of
 * yoga's HTTP hooks, so a rule is the one place that holds on HTTP, SSE and WebSocket alike.
 */
function useNoIntrospection(): Plugin {
  return {
    onValidate({ addValidationRule }) {
      addValidationRule(NoSchemaIntrospectionCustomRule);
    },
  };
}
