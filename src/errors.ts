/**
 * The domain's error family. Services throw these; the server maps each to a GraphQLError
 * carrying the contract's `extensions.code` in one place (server/errors.ts).
 */
export const ERROR_CODES = [
  'BAD_USER_INPUT',
  'UNAUTHENTICATED',
  'FORBIDDEN',
  'NOT_FOUND',
  'RATE_LIMITED',
  'COST_LIMIT_EXCEEDED',
  'UPSTREAM_UNAVAILABLE',
  'INTERNAL_SERVER_ERROR',
] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];

export abstract class AppError extends Error {
  abstract readonly code: ErrorCode;
  /** Extra, client-safe fields for `extensions`. */
  readonly details: Record<string, unknown>;

  constructor(message: string, details: Record<string, unknown> = {}, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
    this.details = details;
  }
}

export class BadInput extends AppError {
  readonly code = 'BAD_USER_INPUT';
}

export class Unauthenticated extends AppError {
  readonly code = 'UNAUTHENTICATED';
}

export class Forbidden extends AppError {
  readonly code = 'FORBIDDEN';
}

export class NotFound extends AppError {
  readonly code = 'NOT_FOUND';

  constructor(what: string, id: string) {
    super(`${what} "${echo(id)}" was not found.`);
  }
}

export class Unavailable extends AppError {
  readonly code = 'UPSTREAM_UNAVAILABLE';
}

/** Why a RATE_LIMITED refusal happened when it is not the point bucket. */
export type RateLimitReason =
  | 'TOKEN_BUDGET'
  | 'CONCURRENT_GENERATIONS'
  | 'CONCURRENT_SUBSCRIPTIONS'
  | 'CONTACT_LIMIT';

export class RateLimited extends AppError {
  readonly code = 'RATE_LIMITED';
  /** Whole seconds until a retry can succeed (at least 1). */
  readonly retryAfter: number;

  constructor(message: string, options: { retryAfterMs: number; reason?: RateLimitReason }) {
    const retryAfter = Math.max(1, Math.ceil(options.retryAfterMs / 1000));
    super(message, { retryAfter, ...(options.reason ? { reason: options.reason } : {}) });
    this.retryAfter = retryAfter;
  }
}

export class CostLimitExceeded extends AppError {
  readonly code = 'COST_LIMIT_EXCEEDED';

  constructor(requested: number, maximum: number) {
    super(`This operation costs ${requested} points; at most ${maximum} are allowed.`, {
      cost: { requested, maximum },
    });
  }
}

const MAX_ECHO_CHARS = 64;

/** What a caller sent, cut short: an error message never repeats a whole input. */
export function echo(input: string): string {
  return input.length <= MAX_ECHO_CHARS ? input : `${input.slice(0, MAX_ECHO_CHARS)}…`;
}

export function isAppError(error: unknown): error is AppError {
  return error instanceof AppError;
}
