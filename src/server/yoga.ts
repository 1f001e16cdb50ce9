import { randomUUID } from 'node:crypto';
import { type ExecutionResult, type GraphQLSchema, NoSchemaIntrospectionCustomRule } from 'graphql';
import { createYoga, type Plugin } from 'graphql-yoga';
import type { Backend } from '../infra/backend/types.js';
import type { Logger } from '../infra/logger.js';
import type { Principal } from '../model.js';
import type { Context } from '../schema/builder.js';
import type { Services } from '../services/index.js';
import { createLoaders } from '../services/loaders.js';
import { type Authenticator, credentialFromHeaders } from './auth.js';
import { type ErrorMapper, isGraphQLError, withContractCode } from './errors.js';
import { renderSelfHostedGraphiQL } from './graphiql.js';
import { useOperationLog } from './operation-log.js';

export interface YogaOptions {
  schema: GraphQLSchema;
  services: Services;
  backend: Backend;
  authenticator: Authenticator;
  errors: ErrorMapper;
  introspection: boolean;
  log: Logger;
}

/** What reaches the context factory besides yoga's own: the graphql-ws path sets `principal`. */
export interface ServerContext {
  principal?: Principal;
}

/** A request id from the caller is kept only when it is short and plain; otherwise a new one. */
function requestIdFrom(request: Request | undefined): string {
  const given = request?.headers.get('x-request-id');
  return given && /^[\w.:-]{1,64}$/.test(given) ? given : randomUUID();
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
    maskedErrors: { maskError: (error) => errors.mapError(error) },
    plugins: [
      errors.useContractErrors(),
      ...(options.introspection ? [] : [useNoIntrospection()]),
      useContractCodes(),
      useOperationLog(log.isLevelEnabled('info')),
    ],
    context: ({ request, principal }): Context => {
      const requestId = requestIdFrom(request);
      let caller: Principal;
      try {
        caller = principal ?? authenticator.authenticate(credentialFromHeaders(request.headers));
      } catch (error) {
        throw errors.mapRequestError(error, log.child({ requestId }));
      }
      let requestLog: Logger | undefined;
      return {
        principal: caller,
        loaders: createLoaders(backend.store, backend.streams, caller),
        services,
        // Made on first use: most operations log nothing below info.
        get log() {
          requestLog ??= log.child({ requestId, principal: caller.id });
          return requestLog;
        },
        requestId,
      };
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

/** Request errors (parse, validation, variables) leave yoga without a code: give them theirs. */
function useContractCodes(): Plugin {
  return {
    onResultProcess({ result, setResult }) {
      if (Symbol.asyncIterator in result) return;
      const withCodes = (single: ExecutionResult): ExecutionResult =>
        single.errors
          ? {
              ...single,
              errors: single.errors.map((error) =>
                isGraphQLError(error) ? withContractCode(error) : error,
              ),
            }
          : single;
      setResult(Array.isArray(result) ? result.map(withCodes) : withCodes(result));
    },
  };
}
