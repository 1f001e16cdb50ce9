import type { ExecutionResult, GraphQLError } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import type { Context, OperationCost } from '../../context.js';
import { CostLimitExceeded, RateLimited, Unavailable } from '../../errors.js';
import type { BucketState } from '../../infra/backend/ledger.js';
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
  async function debit(key: string, cost: number): Promise<BucketState> {
    try {
      return await points.debit(key, cost);
    } catch (error) {
      if (!(error instanceof Unavailable)) throw error;
      return {
        allowed: true,
        remaining: points.policy.limit,
        resetAt: Date.now(),
        retryAfterMs: 0,
      };
    }
  }

  async function charge(
    request: OperationRequest,
    context: Context,
  ): Promise<{ refusal: ExecutionResult } | { cost: OperationCost }> {
    const requested = model.staticCost(request);
    if (requested > points.maximum) {
      const state = await debit(context.ledgerKey, 0);
      const error = errors.mapRequestError(new CostLimitExceeded(requested, points.maximum));
      return { refusal: refusal(error, requested, state, context) };
    }
    const state = await debit(context.ledgerKey, requested);
    if (!state.allowed) {
      const error = errors.mapRequestError(
        new RateLimited(`This operation costs ${requested} points; the bucket refills soon.`, {
          retryAfterMs: state.retryAfterMs,
        }),
      );
      return { refusal: refusal(error, requested, state, context) };
    }
    const cost: OperationCost = { requested, state };
    context.operationCost = cost;
    return { cost };
  }

  function reportOf(requested: number, actual: number, state: BucketState): CostReport {
    return {
      requested,
      actual,
      limit: points.policy.limit,
      remaining: state.remaining,
      restoreRate: points.policy.restoreRate,
      resetAt: new Date(state.resetAt).toISOString(),
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

  return {
    async onExecute({ args, setResultAndStopExecution }) {
      const request = requestOf(args);
      const charged = await charge(request, args.contextValue);
      if ('refusal' in charged) {
        setResultAndStopExecution(charged.refusal);
        return;
      }
      return {
        onExecuteDone: ({ result, setResult }) => {
          if (Symbol.asyncIterator in result) return;
          const { requested, state } = charged.cost;
          const actual = Math.min(requested, model.actualCost(request, result.data));
          const settled =
            actual < requested
              ? points.refund(args.contextValue.ledgerKey, requested - actual, state)
              : state;
          const report = reportOf(requested, actual, settled);
          setResult({
            ...result,
            extensions: {
              ...result.extensions,
              ...extensionsOf(args.contextValue, report, settled),
            },
          });
        },
      };
    },
    async onSubscribe({ args, setResultAndStopExecution }) {
      const charged = await charge(requestOf(args), args.contextValue);
      if ('refusal' in charged) setResultAndStopExecution(charged.refusal);
    },
  };
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
