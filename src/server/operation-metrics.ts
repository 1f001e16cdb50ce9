import type { ExecutionResult } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import type { Context } from '../context.js';
import { type Metrics, refusalKindOf } from '../infra/metrics.js';
import { describeOperation, errorCodes } from './operation-log.js';

/** "ok", or the contract code of the result's first error (mapped before this runs). */
const resultOf = (result: ExecutionResult) => errorCodes(result)[0] ?? 'ok';

/** A refusal by a limit is told by its code and, for RATE_LIMITED, the `reason` beside it. */
const refusalOf = (result: ExecutionResult, code: string) =>
  refusalKindOf(code, result.errors?.[0]?.extensions?.reason);

/**
 * Counts every operation with its result, refusals included: registered after the error
 * mapping (so codes are the contract's) and before the limits that may stop execution.
 */
export function useOperationMetrics(metrics: Metrics): Plugin<Context> {
  const record = (
    args: { document: Parameters<typeof describeOperation>[0]; operationName?: string | null },
    started: number,
  ) => {
    const { operation, operationName } = describeOperation(args.document, args.operationName);
    return (result: ExecutionResult) => {
      const code = resultOf(result);
      metrics.recordOperation(operation, operationName, code, (performance.now() - started) / 1000);
      const refusal = code === 'ok' ? undefined : refusalOf(result, code);
      if (refusal) metrics.recordRefusal(refusal);
    };
  };
  return {
    onExecute({ args }) {
      const done = record(args, performance.now());
      return {
        onExecuteDone({ result }) {
          if (!(Symbol.asyncIterator in result)) done(result);
        },
      };
    },
    onSubscribe({ args }) {
      const done = record(args, performance.now());
      return {
        onSubscribeResult({ result }) {
          done(Symbol.asyncIterator in result ? {} : result);
        },
      };
    },
  };
}
