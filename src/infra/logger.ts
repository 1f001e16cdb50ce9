import { type Logger, pino } from 'pino';

export type { Logger };

/**
 * Structured JSON logs. Credentials are redacted wherever they appear; message content is never
 * logged at info level (callers log ids and sizes, not text).
 */
export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: 'parley' },
      redact: {
        paths: [
          'authorization',
          'apiKey',
          '*.authorization',
          '*.apiKey',
          'headers.authorization',
          'headers["x-api-key"]',
          'req.headers.authorization',
          'req.headers["x-api-key"]',
        ],
        censor: '[redacted]',
      },
      serializers: { err: serializeError },
    },
    destination,
  );
}

/**
 * Type, code and a bounded message: no stack trace reaches a log line, and no upstream body. An
 * error that carries an HTTP status came from an upstream's answer (the openai SDK puts the
 * response body into its message): it is logged by status and code only.
 */
function serializeError(error: unknown): Record<string, unknown> {
  if (!(error instanceof Error)) return { type: typeof error };
  const { code, status } = error as { code?: unknown; status?: unknown };
  const fromUpstreamAnswer = typeof status === 'number';
  return {
    type: error.name,
    ...(fromUpstreamAnswer ? {} : { message: error.message.slice(0, 200) }),
    ...(typeof code === 'string' || typeof code === 'number'
      ? { code: String(code).slice(0, 64) }
      : {}),
    ...(fromUpstreamAnswer ? { status } : {}),
    ...(error.cause instanceof Error ? { cause: serializeError(error.cause) } : {}),
  };
}
