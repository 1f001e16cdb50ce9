import type { TokenUsage } from '../../model.js';

export interface ChatTurn {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

export type LlmChunk = { kind: 'text'; text: string } | { kind: 'usage'; usage: TokenUsage };

/** One model on one endpoint: a stream of text deltas (and usage), cancelled by the signal. */
export interface LlmProvider {
  /** What `Message.model` reports for answers from this provider. */
  readonly model: string;
  /** Human-readable description for health checks; never contains a secret. */
  readonly describe: string;
  stream(turns: readonly ChatTurn[], signal: AbortSignal): AsyncIterable<LlmChunk>;
}

/**
 * A generation that could not finish. `code` lands in `Message.error.code`; `message` is safe to
 * show a client (never an upstream body or a secret).
 */
export class GenerationFailure extends Error {
  override name = 'GenerationFailure';

  constructor(
    readonly code: string,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}
