import type { IncomingMessage } from 'node:http';
import { type GraphQLSchema, NoSchemaIntrospectionCustomRule } from 'graphql';
import { createYoga, type Plugin } from 'graphql-yoga';
import { type Context, createContext, requestIdFrom } from '../context.js';
import type { Backend } from '../infra/backend/types.js';
import type { Logger } from '../infra/logger.js';
import type { Metrics } from '../infra/metrics.js';
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
  operationLimits: OperationLimits;
  cors: CorsSettings;
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
  return createYoga<ServerContext, Context>({
    schema: options.schema,
    graphqlEndpoint: '/graphql',
    landingPage: false,
    graphiql: options.introspection ? { title: 'Parley', subscriptionsProtocol: 'SSE' } : false,
    renderGraphiQL: renderSelfHostedGraphiQL,
    logging: false,
    batching:
      options.operationLimits.batchLimit > 0
        ? { limit: options.operationLimits.batchLimit }
        : false,
    cors: corsPolicy(options.cors),
    maskedErrors: { maskError: (error) => errors.mapError(error) },
    plugins: [
      errors.useContractErrors(),
      ...(options.metrics ? [useOperationMetrics(options.metrics)] : []),
      useHostileOperations(options.operationLimits),
      ...(options.introspection ? [] : [useNoIntrospection()]),
      ...(options.costLimits ? [options.costLimits] : []),
      useRequestErrorCodes(),
      useOperationLog(log.isLevelEnabled('info')),
      // Last, so it encodes the result every plugin above has finished with.
      useMultipartSubscriptions({
        heartbeatMs: options.multipartHeartbeatMs,
        log: log.child({ component: 'multipart' }),
      }),
    ],
    context: ({ request, req, principal }): Context => {
      const requestId = requestIdFrom(request?.headers.get('x-request-id'));
      let caller: Principal;
      try {
        caller = principal ?? authenticator.authenticate(credentialFromHeaders(request.headers));
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
