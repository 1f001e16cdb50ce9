import { MapperKind, mapSchema } from '@graphql-tools/utils';
import {
  context,
  createContextKey,
  type Span,
  SpanKind,
  SpanStatusCode,
  type Context as TraceContext,
  type Tracer,
  trace,
} from '@opentelemetry/api';
import { type DocumentNode, defaultFieldResolver, type GraphQLSchema } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import type { Context } from '../context.js';
import type { Tracing } from '../infra/tracing.js';
import { describeOperation, errorCodes } from './operation-log.js';

/** Where the phases of an operation find its span (to name it once the document is parsed). */
const OPERATION_SPAN = createContextKey('parley.graphql.operation');

/** Operation names are client text: bounded in span names and attributes. */
const MAX_OPERATION_NAME_CHARS = 100;

/** One GraphQL operation's span, on HTTP (the yoga pipeline) or WebSocket (graphql-ws). */
export interface OperationTrace {
  /** Runs `fn` with the operation's span active, so the phases and resolvers nest under it. */
  run<T>(fn: () => T): T;
  /** Ends the span; an error code marks it failed. */
  end(errorCode?: string): void;
}

const UNTRACED: OperationTrace = { run: (fn) => fn(), end: () => {} };

/**
 * Starts an operation's span under `parent` (the client's `traceparent`, or a new trace). With
 * tracing off nothing is built.
 */
export function startOperation(
  tracing: Tracing,
  parent: TraceContext,
  transport: 'http' | 'websocket',
): OperationTrace {
  if (!tracing.enabled) return UNTRACED;
  const span = tracing.tracer.startSpan(
    'graphql operation',
    { kind: SpanKind.SERVER, attributes: { 'parley.transport': transport } },
    parent,
  );
  const active = trace.setSpan(parent, span).setValue(OPERATION_SPAN, span);
  return {
    run: (fn) => context.with(active, fn),
    end: (errorCode) => {
      if (errorCode) markFailed(span, errorCode);
      span.end();
    },
  };
}

/**
 * The operation's phases as spans (`graphql.parse`, `graphql.validate`, `graphql.execute`,
 * `graphql.subscribe`) through envelop's instrumentation, which wraps each phase on HTTP, SSE and
 * the graphql-ws path alike; on HTTP it also opens the operation's span from the request's
 * `traceparent`. The operation span is named `{type} {name}` once the document is known.
 */
export function useTracing(tracing: Tracing): Plugin<Context> {
  const { tracer } = tracing;
  return {
    instrumentation: {
      operation: ({ request }, wrapped) => {
        const parent = tracing.extract({
          traceparent: request.headers.get('traceparent') ?? undefined,
          tracestate: request.headers.get('tracestate') ?? undefined,
        });
        const operation = startOperation(tracing, parent, 'http');
        return settle(
          () => operation.run(wrapped),
          (error) => operation.end(error === undefined ? undefined : 'INTERNAL_ERROR'),
        );
      },
      parse: (_payload, wrapped) => phase(tracer, 'graphql.parse', wrapped),
      validate: (_payload, wrapped) => phase(tracer, 'graphql.validate', wrapped),
      execute: (_payload, wrapped) => asyncPhase(tracer, 'graphql.execute', wrapped),
      subscribe: (_payload, wrapped) => asyncPhase(tracer, 'graphql.subscribe', wrapped),
    },
    // Named once parsed, so refused documents are named too.
    onParse: ({ context: initial }) => {
      const params = (initial as { params?: { operationName?: unknown } }).params;
      const operationName = typeof params?.operationName === 'string' ? params.operationName : null;
      return ({ result }) => {
        if (result && typeof result === 'object' && 'kind' in result) {
          nameOperation(result, operationName);
        }
      };
    },
    onValidate:
      () =>
      ({ valid }) => {
        if (valid) return;
        const span = trace.getActiveSpan();
        if (span) markFailed(span, 'GRAPHQL_VALIDATION_FAILED');
        const operation = operationSpan();
        if (operation) markFailed(operation, 'GRAPHQL_VALIDATION_FAILED');
      },
    onExecute: () => ({
      onExecuteDone: ({ result }) => {
        if (!(Symbol.asyncIterator in result)) recordErrors(result);
      },
    }),
    onSubscribe: () => ({
      onSubscribeResult: ({ result }) => {
        if (!(Symbol.asyncIterator in result)) recordErrors(result);
      },
    }),
  };
}

/**
 * A span for each root field of Query and Mutation (where resolvers call services) and for the
 * setup of each subscription. Per-event and nested resolvers are left alone: a streamed answer
 * resolves an event per token batch.
 */
export function traceRootFields(schema: GraphQLSchema, tracing: Tracing): GraphQLSchema {
  if (!tracing.enabled) return schema;
  const { tracer } = tracing;
  return mapSchema(schema, {
    [MapperKind.ROOT_FIELD]: (field, fieldName, typeName) => {
      const name = `${typeName}.${fieldName}`;
      const attributes = { 'graphql.field.name': fieldName, 'graphql.field.parent_type': typeName };
      if (typeName === schema.getSubscriptionType()?.name) {
        const subscribe = field.subscribe;
        if (!subscribe) return field;
        return {
          ...field,
          subscribe: (...args) => inSpan(tracer, name, attributes, () => subscribe(...args)),
        };
      }
      const resolve = field.resolve ?? defaultFieldResolver;
      return {
        ...field,
        resolve: (...args) => inSpan(tracer, name, attributes, () => resolve(...args)),
      };
    },
  });
}

function inSpan<T>(
  tracer: Tracer,
  name: string,
  attributes: Record<string, string>,
  fn: () => T,
): T {
  const span = tracer.startSpan(name, { attributes });
  return settle(
    () => context.with(trace.setSpan(context.active(), span), fn),
    (error) => {
      if (error !== undefined) markFailed(span, codeOf(error));
      span.end();
    },
  );
}

function phase(tracer: Tracer, name: string, wrapped: () => void): void {
  const span = tracer.startSpan(name);
  try {
    context.with(trace.setSpan(context.active(), span), wrapped);
  } catch (error) {
    markFailed(span, codeOf(error));
    throw error;
  } finally {
    span.end();
  }
}

function asyncPhase<T>(tracer: Tracer, name: string, wrapped: () => T): T {
  const span = tracer.startSpan(name);
  return settle(
    () => context.with(trace.setSpan(context.active(), span), wrapped),
    (error) => {
      if (error !== undefined) markFailed(span, codeOf(error));
      span.end();
    },
  );
}

/** Calls `fn`, and `done` once it has returned or its promise has settled (error or not). */
function settle<T>(fn: () => T, done: (error: unknown) => void): T {
  let result: T;
  try {
    result = fn();
  } catch (error) {
    done(error ?? 'error');
    throw error;
  }
  if (isThenable(result)) {
    return Promise.resolve(result).then(
      (value: unknown) => {
        done(undefined);
        return value;
      },
      (error: unknown) => {
        done(error ?? 'error');
        throw error;
      },
    ) as T;
  }
  done(undefined);
  return result;
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof (value as { then?: unknown } | null)?.then === 'function';
}

function operationSpan(): Span | undefined {
  return context.active().getValue(OPERATION_SPAN) as Span | undefined;
}

function nameOperation(document: DocumentNode, operationName: string | null | undefined): void {
  const span = operationSpan();
  if (!span) return;
  const described = describeOperation(document, operationName);
  const name = described.operationName?.slice(0, MAX_OPERATION_NAME_CHARS);
  span.updateName(name ? `${described.operation} ${name}` : described.operation);
  span.setAttribute('graphql.operation.type', described.operation);
  if (name) span.setAttribute('graphql.operation.name', name);
}

/** The contract codes of a result's errors (already mapped) on the operation's span. */
function recordErrors(result: unknown): void {
  const codes = errorCodes(result);
  const span = operationSpan();
  if (!span || codes.length === 0) return;
  span.setAttribute('graphql.error.codes', codes.slice(0, 10));
  markFailed(span, codes[0]!);
}

function markFailed(span: Span, code: string): void {
  span.setAttribute('error.type', code);
  span.setStatus({ code: SpanStatusCode.ERROR, message: code });
}

function codeOf(error: unknown): string {
  const code = (error as { extensions?: { code?: unknown } } | null)?.extensions?.code;
  if (typeof code === 'string') return code;
  return error instanceof Error ? error.name : 'Error';
}
