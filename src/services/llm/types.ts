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
  /** One whole answer without streaming (structured output: text operations). */
  complete(
    turns: readonly ChatTurn[],
    request: CompletionRequest,
    signal: AbortSignal,
  ): Promise<Completion>;
}

/** The JSON an answer must be: asked of the upstream as `response_format` where it can. */
export interface StructuredOutput {
  /** Letters, digits, _ and - (OpenAI's rule for a schema name). */
  name: string;
  /** A JSON Schema object. */
  schema: Record<string, unknown>;
}

/**
 * What the offline responder answers from, since it reads no prompt: the task in plain terms.
 * A model reads the turns instead and never sees this.
 */
export interface OfflineTask {
  operation: 'SUMMARIZE' | 'SENTIMENT' | 'KEY_POINTS' | 'QUESTIONS' | 'ANSWER';
  text: string;
  question?: string;
  /** Most items in a list answer; most words in a prose answer. */
  maxItems: number;
  maxWords: number;
}

export interface CompletionRequest {
  output: StructuredOutput;
  offline: OfflineTask;
  /** The completion cap (`max_tokens`). */
  maxTokens: number;
}

export interface Completion {
  /** The answer's text as the model sent it (for structured output: the JSON, unparsed). */
  text: string;
  model: string;
  /** Null when the upstream reported none. */
  usage: TokenUsage | null;
  /** Set when no language model answered (the offline responder says so here). */
  notice?: string;
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
