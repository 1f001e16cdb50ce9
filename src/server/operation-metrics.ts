import type { ExecutionResult } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import type { Context } from '../context.js';
import type { Metrics } from '../infra/metrics.js';
import { describeOperation, errorCodes } from './operation-log.js';

/** "ok", or the contract code of the result's first error (mapped before this runs). */
const resultOf = (result: ExecutionResult) => errorCodes(result)[0] ?? 'ok';

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
    return (result: ExecutionResult) =>
      metrics.recordOperation(
        operation,
        operationName,
        resultOf(result),
        (performance.now() - started) / 1000,
      );
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
