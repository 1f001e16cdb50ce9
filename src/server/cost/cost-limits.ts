import type { OnExecuteHookResult } from '@envelop/core';
import type { ExecutionResult, GraphQLError } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import type { Context } from '../../context.js';
import { CostLimitExceeded, RateLimited, Unavailable } from '../../errors.js';
import type { BucketState, MaybePromise } from '../../infra/backend/ledger.js';
import type { PointBuckets } from '../../services/limits/point-buckets.js';
import type { ErrorMapper } from '../errors.js';
import type { CostModel, OperationRequest } from './cost-model.js';

export interface CostLimitsOptions {
  model: CostModel;
  points: PointBuckets;
  errors: ErrorMapper;
}

/** What `extensions.cost` carries on every response (Shopify's requested/actual, GitHub's reset). */
export interface CostReport {
  requested: number;
  actual: number;
  limit: number;
  remaining: number;
  restoreRate: number;
  resetAt: string;
}

/**
 * Query-cost rate limiting on every transport (HTTP, SSE, graphql-ws run the same envelop
 * pipeline): before any resolver runs, the operation's static cost is computed; over the maximum
 * it is COST_LIMIT_EXCEEDED, and otherwise the cost is debited from the principal's bucket
 * (RATE_LIMITED when it does not hold them). After execution the actual cost replaces the
 * requested one and the difference is refunded (with the principal's next debit: see
 * PointBuckets). Subscriptions are charged once, at subscribe.
 */
export function useCostLimits(options: CostLimitsOptions): Plugin<Context> {
  const { model, points, errors } = options;

  /**
   * The bucket fails open while its store is unreachable: an operation that needs Redis fails
   * anyway, and health, readiness and the rest must not be refused for the limiter's outage.
   */
  const openOnOutage = (error: unknown): BucketState => {
    if (!(error instanceof Unavailable)) throw error;
    return { allowed: true, remaining: points.policy.limit, resetAt: Date.now(), retryAfterMs: 0 };
  };

  /** Without a promise when the ledger answers at once (the embedded backend). */
  function debit(key: string, cost: number): MaybePromise<BucketState> {
    let state: MaybePromise<BucketState>;
    try {
      state = points.debit(key, cost);
    } catch (error) {
      return openOnOutage(error);
    }
    return state instanceof Promise ? state.catch(openOnOutage) : state;
  }

  /**
   * Takes the operation's cost; the refusal to answer with, or undefined when it may run. On
   * the embedded backend all of it happens at once: no promise, and no closure per operation.
   */
  function charge(
    request: OperationRequest,
    context: Context,
  ): MaybePromise<ExecutionResult | undefined> {
    const requested = model.staticCost(request);
    const overMaximum = requested > points.maximum;
    const state = debit(context.ledgerKey, overMaximum ? 0 : requested);
    if (state instanceof Promise) {
      return state.then((debited) => verdict(requested, overMaximum, debited, context));
    }
    return verdict(requested, overMaximum, state, context);
  }

  function verdict(
    requested: number,
    overMaximum: boolean,
    state: BucketState,
    context: Context,
  ): ExecutionResult | undefined {
    if (overMaximum) {
      const error = errors.mapRequestError(new CostLimitExceeded(requested, points.maximum));
      return refusal(error, requested, state, context);
    }
    if (!state.allowed) {
      const error = errors.mapRequestError(
        new RateLimited(`This operation costs ${requested} points; the bucket refills soon.`, {
          retryAfterMs: state.retryAfterMs,
        }),
      );
      return refusal(error, requested, state, context);
    }
    context.operationCost = { requested, state };
    return undefined;
  }

  function reportOf(requested: number, actual: number, state: BucketState): CostReport {
    return {
      requested,
      actual,
      limit: points.policy.limit,
      remaining: state.remaining,
      restoreRate: points.policy.restoreRate,
      resetAt: isoTime(state.resetAt),
    };
  }

  function refusal(
    error: GraphQLError,
    requested: number,
    state: BucketState,
    context: Context,
  ): ExecutionResult {
    return {
      errors: [error],
      extensions: extensionsOf(context, reportOf(requested, 0, state), state),
    };
  }

  /**
   * After execution the actual cost replaces the requested one. One hook object for every
   * operation: the cost it settles is the context's (one context per operation), so nothing is
   * made per operation to carry it.
   */
  const settleActualCost: OnExecuteHookResult<Context> = {
    onExecuteDone: ({ args, result, setResult }) => {
      if (Symbol.asyncIterator in result) return;
      const context = args.contextValue;
      const cost = context.operationCost;
      if (!cost) return;
      const { requested, state } = cost;
      const actual = Math.min(requested, model.actualCost(requestOf(args), result.data));
      const settled =
        actual < requested ? points.refund(context.ledgerKey, requested - actual, state) : state;
      const extensions = extensionsOf(context, reportOf(requested, actual, settled), settled);
      // Built field by field, not by spreading the result and both extensions (a copy each).
      setResult({
        data: result.data,
        ...(result.errors ? { errors: result.errors } : {}),
        extensions: result.extensions
          ? Object.assign({}, result.extensions, extensions)
          : extensions,
      });
    },
  };

  /** An admitted query settles its actual cost once it ran; a refused one gets its refusal. */
  const settleOrRefuse = (refused: ExecutionResult | undefined, refuse: Refuse) => {
    if (!refused) return settleActualCost;
    refuse(refused);
    return undefined;
  };

  return {
    onExecute({ args, setResultAndStopExecution }) {
      const refused = charge(requestOf(args), args.contextValue);
      return whenCharged(refused, settleOrRefuse, setResultAndStopExecution);
    },
    onSubscribe({ args, setResultAndStopExecution }) {
      const refused = charge(requestOf(args), args.contextValue);
      return whenCharged(refused, refuseIfRefused, setResultAndStopExecution);
    },
  };
}

type Refuse = (refusal: ExecutionResult) => void;

function refuseIfRefused(refused: ExecutionResult | undefined, refuse: Refuse): void {
  if (refused) refuse(refused);
}

/**
 * `decide` on the charge's outcome, once it is known: at once for the embedded ledger (no
 * promise, no closure), after the debit's round trip otherwise.
 */
function whenCharged<R>(
  refused: MaybePromise<ExecutionResult | undefined>,
  decide: (refused: ExecutionResult | undefined, refuse: Refuse) => R,
  refuse: Refuse,
): MaybePromise<R> {
  if (refused instanceof Promise) return refused.then((outcome) => decide(outcome, refuse));
  return decide(refused, refuse);
}

/**
 * `new Date(ms).toISOString()`, with the part up to the second made once a second: every
 * response's `extensions.cost.resetAt` was a Date and its formatting, a measurable part of
 * what cost limiting adds to a query.
 */
let isoSecond = Number.NaN;
let isoPrefix = '';
export function isoTime(ms: number): string {
  if (!Number.isInteger(ms) || ms < 0) return new Date(ms).toISOString();
  const second = Math.floor(ms / 1000);
  if (second !== isoSecond) {
    const iso = new Date(second * 1000).toISOString();
    // Past year 9999 the format changes (+YYYYYY): not cached.
    if (iso.length !== 24) return new Date(ms).toISOString();
    isoSecond = second;
    isoPrefix = iso.slice(0, 20);
  }
  return `${isoPrefix}${String(ms - second * 1000).padStart(3, '0')}Z`;
}

function requestOf(args: {
  schema: OperationRequest['schema'];
  document: OperationRequest['document'];
  operationName?: string | null;
  variableValues?: Readonly<Record<string, unknown>> | null;
}): OperationRequest {
  return {
    schema: args.schema,
    document: args.document,
    operationName: args.operationName,
    variables: args.variableValues,
  };
}

/**
 * `extensions.cost`, and for a plain HTTP response its RateLimit headers through yoga's
 * `extensions.http` (which yoga applies to the response and never serialises). SSE and
 * graphql-ws results carry the report only.
 */
function extensionsOf(
  context: Context,
  report: CostReport,
  state: BucketState,
): Record<string, unknown> {
  const request = (context as { request?: Request }).request;
  const plainHttp =
    request !== undefined && !request.headers.get('accept')?.includes('text/event-stream');
  return plainHttp
    ? { cost: report, http: { headers: rateLimitHeaders(report, state.resetAt) } }
    : { cost: report };
}

/**
 * What most clients parse today (RateLimit-Limit/-Remaining/-Reset, in points and seconds),
 * and the IETF draft's structured fields (draft-ietf-httpapi-ratelimit-headers-11).
 */
function rateLimitHeaders(report: CostReport, resetAt: number): Record<string, string> {
  const resetSeconds = Math.max(0, Math.ceil((resetAt - Date.now()) / 1000));
  const windowSeconds = Math.ceil(report.limit / report.restoreRate);
  return {
    'RateLimit-Limit': String(report.limit),
    'RateLimit-Remaining': String(report.remaining),
    'RateLimit-Reset': String(resetSeconds),
    'RateLimit-Policy': `"points";q=${report.limit};w=${windowSeconds}`,
    RateLimit: `"points";r=${report.remaining};t=${resetSeconds}`,
  };
}
