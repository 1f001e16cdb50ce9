import { tracingChannel } from 'node:diagnostics_channel';
import { type Span, SpanKind, SpanStatusCode, type Tracer, trace } from '@opentelemetry/api';

/** What ioredis 6 publishes on its `ioredis:command` tracing channel for each command. */
interface CommandMessage {
  command: string;
  args: readonly string[];
  database: number;
  serverAddress: string;
  serverPort: number | undefined;
  error?: unknown;
}

/**
 * A span per Redis command, from ioredis's own diagnostics channel (nothing is patched). Only
 * commands issued inside a traced operation or answer get one: heartbeats and sweeps would
 * otherwise start a trace every few seconds. Arguments are left out (keys hold ids and the
 * values are user data); a script call keeps only its SHA, one of a handful.
 * Returns the unsubscribe.
 */
export function traceRedisCommands(tracer: Tracer): () => void {
  const channel = tracingChannel<CommandMessage, CommandMessage>('ioredis:command');
  const spans = new WeakMap<CommandMessage, Span>();
  const finish = (message: CommandMessage) => {
    const span = spans.get(message);
    if (!span) return;
    spans.delete(message);
    if (message.error !== undefined) {
      span.setStatus({ code: SpanStatusCode.ERROR, message: errorName(message.error) });
      span.setAttribute('error.type', errorName(message.error));
    }
    span.end();
  };
  const handlers = {
    start(message: CommandMessage) {
      if (!trace.getActiveSpan()?.isRecording()) return;
      const operation = message.command.toUpperCase();
      const span = tracer.startSpan(operation, {
        kind: SpanKind.CLIENT,
        attributes: {
          'db.system': 'redis',
          'db.system.name': 'redis',
          'db.operation.name': operation,
          'db.namespace': String(message.database),
          'server.address': message.serverAddress,
          ...(message.serverPort === undefined ? {} : { 'server.port': message.serverPort }),
          ...(operation === 'EVALSHA' && message.args[0]
            ? { 'db.stored_procedure.name': message.args[0] }
            : {}),
        },
      });
      spans.set(message, span);
    },
    // A command that throws synchronously ends here with an error; others end asynchronously.
    end(message: CommandMessage) {
      if (message.error !== undefined) finish(message);
    },
    asyncStart() {},
    asyncEnd: finish,
    error() {},
  };
  channel.subscribe(handlers);
  return () => channel.unsubscribe(handlers);
}

function errorName(error: unknown): string {
  return error instanceof Error ? error.name : 'Error';
}
