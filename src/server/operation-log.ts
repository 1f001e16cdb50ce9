import { type DocumentNode, getOperationAST } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import type { Context } from '../context.js';

export function describeOperation(
  document: DocumentNode,
  operationName: string | null | undefined,
) {
  const operation = getOperationAST(document, operationName);
  return { operation: operation?.operation ?? 'unknown', operationName: operation?.name?.value };
}

export const errorCodes = (result: unknown): string[] => {
  const errors = (result as { errors?: readonly { extensions?: { code?: unknown } }[] }).errors;
  return (errors ?? []).map((error) => String(error.extensions?.code ?? 'UNKNOWN'));
};

/**
 * One info line per operation, carrying the request id (the context logger has it): type, name,
 * duration and error codes. Never variables or results, so no message content or secret.
 */
export function useOperationLog(enabled: boolean): Plugin<Context> {
  // Below info level every line would be dropped: skip the per-operation work entirely.
  if (!enabled) return {};
  return {
    onExecute({ args }) {
      const started = performance.now();
      const described = describeOperation(args.document, args.operationName);
      return {
        onExecuteDone({ result }) {
          const codes = Symbol.asyncIterator in result ? [] : errorCodes(result);
          args.contextValue.log.info(
            { ...described, durationMs: performance.now() - started, errorCodes: codes },
            'operation',
          );
        },
      };
    },
    onSubscribe({ args }) {
      args.contextValue.log.info(
        describeOperation(args.document, args.operationName),
        'subscription started',
      );
    },
  };
}
