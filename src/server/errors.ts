import { randomUUID } from 'node:crypto';
import {
  handleStreamOrSingleExecutionResult,
  type OnExecuteDoneEventPayload,
  type OnExecuteDoneHookResultOnNextHook,
} from '@envelop/core';
import { type ExecutionResult, GraphQLError, type GraphQLErrorExtensions } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { type AppError, ERROR_CODES, isAppError, RateLimited } from '../errors.js';
import type { Logger } from '../infra/logger.js';

const CONTRACT_CODES: ReadonlySet<string> = new Set(ERROR_CODES);

const HTTP_STATUS_BY_CODE: Partial<Record<string, number>> = {
  BAD_USER_INPUT: 400,
  COST_LIMIT_EXCEEDED: 400,
  UNAUTHENTICATED: 401,
  FORBIDDEN: 403,
  RATE_LIMITED: 429,
  UPSTREAM_UNAVAILABLE: 503,
};

/** Refusals that decide the HTTP status wherever they are raised, resolvers included. */
const ALWAYS_WITH_STATUS: ReadonlySet<string> = new Set(['RATE_LIMITED', 'COST_LIMIT_EXCEEDED']);

function fromAppError(
  error: AppError,
  source?: GraphQLError,
  withHttpStatus = false,
): GraphQLError {
  const status = HTTP_STATUS_BY_CODE[error.code];
  const http =
    status && (withHttpStatus || ALWAYS_WITH_STATUS.has(error.code))
      ? {
          status,
          ...(error instanceof RateLimited
            ? { headers: { 'Retry-After': String(error.retryAfter) } }
            : {}),
        }
      : undefined;
  return new GraphQLError(error.message, {
    nodes: source?.nodes,
    source: source?.source,
    positions: source?.positions,
    path: source?.path,
    extensions: { ...error.details, code: error.code, ...(http ? { http } : {}) },
  });
}

/**
 * The one mapping from anything thrown to what a client sees: domain errors keep their message
 * and contract code; request errors (parse, validation, variables) become BAD_USER_INPUT; every
 * other error is logged with an id and masked, so no stack, upstream body or secret leaves.
 */
export function createErrorMapper(rootLog: Logger) {
  /** `log` is the request's logger when there is one, so the line carries its request id. */
  function mapError(error: unknown, log: Logger = rootLog): GraphQLError {
    if (isAppError(error)) return fromAppError(error);
    if (isGraphQLError(error)) {
      const original = error.originalError;
      if (isAppError(original)) return fromAppError(original, error);
      // A request error around a bare GraphQLError (a variable its scalar refused) keeps its own
      // message, which names the variable, and its HTTP status; a wrapped cause is mapped instead.
      if (isGraphQLError(original) && original !== error) {
        return original.originalError ? mapError(original, log) : withContractCode(error);
      }
      if (!original) return withContractCode(error);
    }
    const errorId = randomUUID();
    log.error({ err: error, errorId }, 'unexpected error');
    return new GraphQLError('Unexpected error.', {
      nodes: isGraphQLError(error) ? error.nodes : undefined,
      path: isGraphQLError(error) ? error.path : undefined,
      extensions: { code: 'INTERNAL_SERVER_ERROR', errorId },
    });
  }

  /** Errors raised before execution (authentication, context): they also set the HTTP status. */
  function mapRequestError(error: unknown, log: Logger = rootLog): GraphQLError {
    return isAppError(error) ? fromAppError(error, undefined, true) : mapError(error, log);
  }

  /**
   * Maps every execution error where the request's context (and so its logger) is known, before
   * yoga's own masking and before the operation log reads the codes. Registered first.
   */
  function useContractErrors(): Plugin<{ log: Logger; request?: Request }> {
    type Ctx = { log: Logger; request?: Request };
    // Made once, not per operation: a subscription keeps its hooks for as long as it runs, and
    // each payload carries the operation's own args.
    const mapResult: OnExecuteDoneHookResultOnNextHook<Ctx> = ({ args, result, setResult }) => {
      if (!result.errors) return;
      const context = args.contextValue;
      const statusless = !answersWithStatus(context.request);
      setResult({
        ...result,
        errors: result.errors.map((error) => {
          const mapped = mapError(error, context.log);
          return statusless ? withoutHttp(mapped) : mapped;
        }),
      });
    };
    const onResult = (payload: OnExecuteDoneEventPayload<Ctx>) =>
      handleStreamOrSingleExecutionResult(payload, mapResult);
    // The error hook's payload has no args: the one closure each operation needs.
    const mapSubscribeError =
      (log: Logger) =>
      ({ error, setError }: { error: unknown; setError: (error: unknown) => void }) =>
        setError(mapError(error, log));
    return {
      onExecute() {
        return { onExecuteDone: onResult };
      },
      onSubscribe({ args }) {
        return {
          onSubscribeResult: onResult,
          onSubscribeError: mapSubscribeError(args.contextValue.log),
        };
      },
    };
  }

  return { mapError, mapRequestError, useContractErrors };
}

export type ErrorMapper = ReturnType<typeof createErrorMapper>;

/**
 * A refusal of a hostile operation: BAD_USER_INPUT with HTTP 400 whatever the client accepts
 * (graphql-armor's own errors carry no code and leave yoga to answer 200), and on graphql-ws an
 * error for that one operation.
 */
export function refusal(message: string, details: Record<string, unknown> = {}): GraphQLError {
  // yoga marks every parse error `spec` (answered 200 to legacy `Accept: application/json`
  // clients) by assigning `http.spec ||= true`: this one ignores the assignment.
  const http = Object.defineProperty({ status: 400 }, 'spec', { get: () => false, set: () => {} });
  return new GraphQLError(message, { extensions: { ...details, code: 'BAD_USER_INPUT', http } });
}

/** The body of a refusal answered before GraphQL runs (body size, content type). */
export function refusalBody(message: string) {
  return { errors: [{ message, extensions: { code: 'BAD_USER_INPUT' } }] };
}

/** Request errors (parse, validation, variables) leave yoga without a code: give them theirs. */
export function useRequestErrorCodes(): Plugin {
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

/**
 * Only a plain HTTP response has a status of its own to set: an SSE stream and a graphql-ws
 * operation carry a refusal as an error result (and `extensions.http` would only leak).
 */
function answersWithStatus(request: Request | undefined): boolean {
  return request !== undefined && !request.headers.get('accept')?.includes('text/event-stream');
}

function withoutHttp(error: GraphQLError): GraphQLError {
  if (!error.extensions || !('http' in error.extensions)) return error;
  const { http: _status, ...extensions } = error.extensions;
  return withExtensions(error, extensions);
}

/** The same error (message, locations, path, cause) with other extensions. */
function withExtensions(error: GraphQLError, extensions: GraphQLErrorExtensions): GraphQLError {
  return new GraphQLError(error.message, {
    nodes: error.nodes,
    source: error.source,
    positions: error.positions,
    path: error.path,
    originalError: error.originalError,
    extensions,
  });
}

/**
 * By name as well as by class: yoga, envelop and Pothos may run on another copy of graphql
 * than this file (its CommonJS and ESM builds are distinct modules, as under vitest), and
 * `instanceof` is false across copies.
 */
export function isGraphQLError(error: unknown): error is GraphQLError {
  return error instanceof GraphQLError || (error instanceof Error && error.name === 'GraphQLError');
}

/**
 * A GraphQLError that carries no contract code is a request error: the caller's to fix. Yoga
 * and its parsers attach `originalError` (a parser message quoting the body): it never leaves.
 */
export function withContractCode(error: GraphQLError): GraphQLError {
  const code = error.extensions?.code;
  const leaks = error.extensions !== undefined && 'originalError' in error.extensions;
  const known = typeof code === 'string' && CONTRACT_CODES.has(code);
  if (known && !leaks) return error;
  return withExtensions(error, {
    ...clientExtensions(error.extensions),
    code: known ? code : 'BAD_USER_INPUT',
  });
}

function clientExtensions(extensions: GraphQLErrorExtensions | undefined): GraphQLErrorExtensions {
  const { originalError: _dropped, ...rest } = extensions ?? {};
  return rest;
}
