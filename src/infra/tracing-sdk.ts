import { context } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { OTLPTraceExporter as JsonExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { OTLPTraceExporter as ProtobufExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BatchSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
import { ATTR_SERVICE_NAME, ATTR_SERVICE_VERSION } from '@opentelemetry/semantic-conventions';
import type { TracingConfig } from '../config.js';
import { extractTraceContext, SCOPE, type Tracing } from './tracing.js';

let contextManagerInstalled = false;

/** A provider batching spans to the OTLP/HTTP endpoint (JSON or protobuf). */
export function createSdkTracing(config: TracingConfig, version: string): Tracing {
  // Spans find their parent through async context; the manager is process-wide by nature.
  if (!contextManagerInstalled) {
    contextManagerInstalled = context.setGlobalContextManager(
      new AsyncLocalStorageContextManager().enable(),
    );
  }
  // A collector that does not answer must not hold shutdown for the exporter's default 10 s.
  const exporterOptions = { url: config.url, headers: { ...config.headers }, timeoutMillis: 5_000 };
  const exporter =
    config.protocol === 'http/json'
      ? new JsonExporter(exporterOptions)
      : new ProtobufExporter(exporterOptions);
  // Not registered globally: each app owns its provider, and tests run several apps at once.
  const provider = new TracerProvider({
    resource: resourceFromAttributes({
      [ATTR_SERVICE_NAME]: config.serviceName,
      [ATTR_SERVICE_VERSION]: version,
    }),
    spanProcessors: [new BatchSpanProcessor({ exporter })],
  });
  return {
    enabled: true,
    tracer: provider.getTracer(SCOPE, version),
    extract: extractTraceContext,
    shutdown: () => provider.shutdown(),
  };
}
