import { setTimeout as sleep } from 'node:timers/promises';
import type { RetrySettings } from '../../config.js';
import { type Breaker, BreakerOpenError } from '../../infra/breakers.js';
import type { Logger } from '../../infra/logger.js';
import type { LlmMetrics, ModelCallResult } from '../../infra/metrics.js';
import { retryDelayMs } from './backoff.js';
import {
  type ChatTurn,
  type Completion,
  type CompletionRequest,
  GenerationFailure,
  type LlmChunk,
  type LlmProvider,
} from './types.js';

export interface ChainLink {
  provider: LlmProvider;
  breaker: Breaker;
}

const NOTHING_AVAILABLE = () =>
  new GenerationFailure('UPSTREAM_UNAVAILABLE', 'No model is available right now.', {
    transient: true,
  });

interface OpenedStream {
  chunks: AsyncIterator<LlmChunk>;
  first: IteratorResult<LlmChunk>;
}

/**
 * The fallback chain: each model of each endpoint in order, each behind its own breaker. Before
 * the first token a transient failure is retried (backoff with full jitter, Retry-After honoured
 * up to a cap, bounded attempts, one deadline for the whole chain), a lasting one moves on to the
 * next link, and an open breaker is skipped without a request. After the first token nothing is
 * retried: the failure ends the answer, whose text so far is kept.
 *
 * A breaker judges its model by answers, not attempts: one answer's tries on one model are one
 * call through the breaker, so a short blip that the retries ride out counts as a success, and a
 * breaker that opens meanwhile (because of other answers) never cuts short retries already
 * admitted.
 */
export class LlmChain implements LlmProvider {
  readonly model: string;
  readonly describe: string;

  private readonly links: readonly ChainLink[];
  private readonly retry: RetrySettings;
  private readonly log: Logger;
  private readonly metrics: LlmMetrics | undefined;

  constructor(parts: {
    links: readonly ChainLink[];
    retry: RetrySettings;
    log: Logger;
    metrics?: LlmMetrics;
  }) {
    const { links } = parts;
    this.links = links;
    this.retry = parts.retry;
    this.log = parts.log;
    this.metrics = parts.metrics;
    if (links.length === 0) throw new Error('an LLM chain needs at least one link');
    this.model = links[0]!.provider.model;
    this.describe = links.map((link) => link.provider.describe).join(', then ');
  }

  /** True when every link's breaker is open: a new answer would fail at once. */
  get unavailable(): boolean {
    return this.links.every((link) => link.breaker.refusing);
  }

  async *stream(turns: readonly ChatTurn[], signal: AbortSignal): AsyncGenerator<LlmChunk> {
    const asked = performance.now();
    const deadline = Date.now() + this.retry.deadlineMs;
    // Made only when it is thrown: an Error captures its stack, once per answer otherwise.
    let lastFailure: GenerationFailure | undefined;
    for (const link of this.links) {
      if (Date.now() >= deadline) break;
      let opened: OpenedStream;
      try {
        opened = await link.breaker.fire(() => this.open(link, turns, signal, deadline));
      } catch (error) {
        signal.throwIfAborted();
        if (!(error instanceof BreakerOpenError)) lastFailure = asFailure(error);
        continue;
      }
      yield { kind: 'model', model: link.provider.model };
      yield* this.rest(link, opened.chunks, opened.first, signal, asked);
      return;
    }
    throw lastFailure ?? NOTHING_AVAILABLE();
  }

  /** Tries one model until its first chunk arrives, retrying transient failures. */
  private open(
    link: ChainLink,
    turns: readonly ChatTurn[],
    signal: AbortSignal,
    deadline: number,
  ): Promise<OpenedStream> {
    return this.withRetries(
      link,
      signal,
      deadline,
      'model call failed before its first token',
      async () => {
        const chunks = link.provider.stream(turns, signal)[Symbol.asyncIterator]();
        try {
          return { chunks, first: await chunks.next() };
        } catch (error) {
          await chunks.return?.().catch(() => {});
          throw error;
        }
      },
    );
  }

  /**
   * One model's attempts at a call: a transient failure is retried with backoff while attempts
   * and the deadline allow; every failed attempt is counted and logged (code, never the body).
   */
  private async withRetries<T>(
    link: ChainLink,
    signal: AbortSignal,
    deadline: number,
    failedMessage: string,
    call: () => Promise<T>,
  ): Promise<T> {
    const { model } = link.provider;
    for (let attempt = 0; ; attempt++) {
      try {
        return await call();
      } catch (error) {
        if (signal.aborted) this.metrics?.modelCall(model, 'cancelled');
        signal.throwIfAborted();
        const failure = asFailure(error);
        this.metrics?.modelCall(model, failure.code);
        const delay = retryDelayMs(attempt, this.retry, failure.retryAfterMs);
        const retryable =
          failure.transient &&
          attempt + 1 < this.retry.maxAttempts &&
          Date.now() + delay < deadline;
        this.log.warn(
          { model, attempt, code: failure.code, retryInMs: retryable ? delay : null },
          failedMessage,
        );
        if (!retryable) throw failure;
        await sleep(delay, undefined, { signal });
      }
    }
  }

  private async *rest(
    link: ChainLink,
    chunks: AsyncIterator<LlmChunk>,
    first: IteratorResult<LlmChunk>,
    signal: AbortSignal,
    asked: number,
  ): AsyncGenerator<LlmChunk> {
    const model = link.provider.model;
    // A consumer that stops reading (its storage failed) ends the call like a cancel.
    let result: ModelCallResult = 'cancelled';
    let texted = false;
    try {
      for (let next = first; !next.done; next = await chunks.next()) {
        if (next.value.kind === 'text' && !texted) {
          texted = true;
          this.metrics?.firstToken(model, (performance.now() - asked) / 1000);
        }
        yield next.value;
      }
      result = 'ok';
    } catch (error) {
      if (!signal.aborted) {
        link.breaker.recordFailure(error);
        result = asFailure(error).code;
      }
      throw error;
    } finally {
      this.metrics?.modelCall(model, result);
      await chunks.return?.().catch(() => {});
    }
  }

  /**
   * One whole answer from the first link that gives one, with the same retries, breakers and
   * deadline as a stream before its first token (a completion has no "after" to protect).
   */
  async complete(
    turns: readonly ChatTurn[],
    request: CompletionRequest,
    signal: AbortSignal,
  ): Promise<Completion> {
    const deadline = Date.now() + this.retry.deadlineMs;
    // Made only when it is thrown: an Error captures its stack, once per answer otherwise.
    let lastFailure: GenerationFailure | undefined;
    for (const link of this.links) {
      if (Date.now() >= deadline) break;
      try {
        return await link.breaker.fire(() =>
          this.completeOn(link, turns, request, signal, deadline),
        );
      } catch (error) {
        signal.throwIfAborted();
        if (!(error instanceof BreakerOpenError)) lastFailure = asFailure(error);
      }
    }
    throw lastFailure ?? NOTHING_AVAILABLE();
  }

  private async completeOn(
    link: ChainLink,
    turns: readonly ChatTurn[],
    request: CompletionRequest,
    signal: AbortSignal,
    deadline: number,
  ): Promise<Completion> {
    const completion = await this.withRetries(
      link,
      signal,
      deadline,
      'model completion failed',
      () => link.provider.complete(turns, request, signal),
    );
    this.metrics?.modelCall(link.provider.model, 'ok');
    return completion;
  }
}

function asFailure(error: unknown): GenerationFailure {
  return error instanceof GenerationFailure
    ? error
    : new GenerationFailure('UPSTREAM_ERROR', 'The model call failed.', {
        transient: true,
        cause: error,
      });
}

/** What a breaker counts against an upstream: transient failures, not cancellations or bad input. */
export const isLlmOutage = (error: unknown) =>
  error instanceof GenerationFailure && error.transient;
