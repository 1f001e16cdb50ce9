import { randomUUID } from 'node:crypto';
import { GraphQLError } from 'graphql';
import { type AppError, ERROR_CODES, isAppError } from '../errors.js';
import type { Logger } from '../infra/logger.js';

const CONTRACT_CODES: ReadonlySet<string> = new Set(ERROR_CODES);

const HTTP_STATUS_BY_CODE: Partial<Record<string, number>> = {
  UNAUTHENTICATED: 401,
  FORBIDDEN: 403,
  UPSTREAM_UNAVAILABLE: 503,
};

function fromAppError(error: AppError, source?: GraphQLError, withHttpStatus = false): GraphQLError {
  const status = HTTP_STATUS_BY_CODE[error.code];
  return new GraphQLError(error.message, {
    nodes: source?.nodes,
    source: source?.source,
    positions: source?.positions,
    path: source?.path,
    extensions: {
      ...error.details,
      code: error.code,
      ...(withHttpStatus && status ? { http: { status } } : {}),
    },
  });
}

/**
 * The one mapping from anything thrown to what a client sees: domain errors keep their message
 * and contract code; request errors (parse, validation, variables) become BAD_USER_INPUT; every
 * other error is logged with an id and masked, so no stack, upstream body or secret leaves.
 */
export function createErrorMapper(log: Logger) {
  function mapError(error: unknown): GraphQLError {
    if (isAppError(error)) return fromAppError(error);
    if (error instanceof GraphQLError) {
      const original = error.originalError;
      if (isAppError(original)) return fromAppError(original, error);
      if (original instanceof GraphQLError && original !== error) return mapError(original);
      if (!original) return withContractCode(error);
    }
    const errorId = randomUUID();
    log.error({ err: error, errorId }, 'unexpected error');
    return new GraphQLError('Unexpected error.', {
      nodes: error instanceof GraphQLError ? error.nodes : undefined,
      path: error instanceof GraphQLError ? error.path : undefined,
      extensions: { code: 'INTERNAL_SERVER_ERROR', errorId },
    });
  }

  /** Errors raised before execution (authentication, context): they also set the HTTP status. */
  function mapRequestError(error: unknown): GraphQLError {
    return isAppError(error) ? fromAppError(error, undefined, true) : mapError(error);
  }

  return { mapError, mapRequestError };
}

export type ErrorMapper = ReturnType<typeof createErrorMapper>;

/** A GraphQLError that carries no contract code is a request error: the caller's to fix. */
export function withContractCode(error: GraphQLError): GraphQLError {
  const code = error.extensions?.code;
  if (typeof code === 'string' && CONTRACT_CODES.has(code)) return error;
  return new GraphQLError(error.message, {
    nodes: error.nodes,
    source: error.source,
    positions: error.positions,
    path: error.path,
    originalError: error.originalError,
    extensions: { ...error.extensions, code: 'BAD_USER_INPUT' },
  });
}
