import type { MessageErrorCode, TokenUsage } from '../../model.js';

export interface ChatTurn {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

export type LlmChunk =
  | { kind: 'text'; text: string }
  | { kind: 'usage'; usage: TokenUsage }
  /** Which model is answering: sent once, before its first text. */
  | { kind: 'model'; model: string };

/** One model on one endpoint: a stream of text deltas (and usage), cancelled by the signal. */
export interface LlmProvider {
  /** What `Message.model` reports for answers from this provider. */
  readonly model: string;
  /** Human-readable description for health checks; never contains a secret. */
  readonly describe: string;
  stream(turns: readonly ChatTurn[], signal: AbortSignal): AsyncIterable<LlmChunk>;
}

export interface FailureOptions {
  /** Worth retrying (network errors, timeouts, 429, 5xx); also what counts against a breaker. */
  transient?: boolean;
  /** What the upstream asked for (Retry-After), before any cap. */
  retryAfterMs?: number;
  cause?: unknown;
}

/**
 * A generation that could not finish. `code` lands in `Message.error.code`; `message` is safe to
 * show a client (never an upstream body or a secret).
 */
export class GenerationFailure extends Error {
  override name = 'GenerationFailure';
  readonly transient: boolean;
  readonly retryAfterMs: number | undefined;

  constructor(
    readonly code: MessageErrorCode,
    message: string,
    options: FailureOptions = {},
  ) {
    super(message, { cause: options.cause });
    this.transient = options.transient ?? false;
    this.retryAfterMs = options.retryAfterMs;
  }
}
