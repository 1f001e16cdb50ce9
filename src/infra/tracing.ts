import {
  type Context,
  context,
  defaultTextMapGetter,
  defaultTextMapSetter,
  ProxyTracerProvider,
  ROOT_CONTEXT,
  type Tracer,
} from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import type { TracingConfig } from '../config.js';

/** The instrumentation scope every Parley span is created under. */
export const SCOPE = 'parley';

/** A traceparent is 55 characters; anything much longer is not one and is not parsed. */
const MAX_TRACE_HEADER_CHARS = 512;

/**
 * What the app traces with. Off (no endpoint configured) it is the API's no-op tracer: spans
 * cost one call returning a shared non-recording span, nothing is exported, and no context
 * manager is installed, so `context.with` is a plain call.
 */
export interface Tracing {
  readonly enabled: boolean;
  readonly tracer: Tracer;
  /** The parent a client asked for with a W3C `traceparent` (and `tracestate`), if valid. */
  extract(carrier: { traceparent?: unknown; tracestate?: unknown }, base?: Context): Context;
  /** Exports what is buffered and stops exporting (on app close). */
  shutdown(): Promise<void>;
}

const propagator = new W3CTraceContextPropagator();

/** The `traceparent`/`tracestate` headers naming `ctx`'s span; empty when it records nothing. */
export function traceHeaders(ctx: Context = context.active()): Record<string, string> {
  const headers: Record<string, string> = {};
  propagator.inject(ctx, headers, defaultTextMapSetter);
  return headers;
}

export function extractTraceContext(
  carrier: { traceparent?: unknown; tracestate?: unknown },
  base = ROOT_CONTEXT,
) {
  const { traceparent, tracestate } = carrier;
  if (typeof traceparent !== 'string' || traceparent.length > MAX_TRACE_HEADER_CHARS) return base;
  const headers: Record<string, string> = { traceparent };
  if (typeof tracestate === 'string' && tracestate.length <= MAX_TRACE_HEADER_CHARS) {
    headers.tracestate = tracestate;
  }
  return propagator.extract(base, headers, defaultTextMapGetter);
}

/** Tracing off: what the app uses without an OTLP endpoint, and parts built without a tracer. */
export const NO_TRACING: Tracing = {
  enabled: false,
  // A proxy provider with no delegate is the API's no-op, whatever a global provider may be.
  tracer: new ProxyTracerProvider().getTracer(SCOPE),
  extract: (_carrier, base = ROOT_CONTEXT) => base,
  shutdown: async () => {},
};

/**
 * Tracing as configured: off, or a provider batching spans to the OTLP/HTTP endpoint. The SDK
 * is loaded only when tracing is on.
 */
export async function createTracing(
  config: TracingConfig | undefined,
  version: string,
): Promise<Tracing> {
  if (!config) return NO_TRACING;
  const { createSdkTracing } = await import('./tracing-sdk.js');
  return createSdkTracing(config, version);
}
