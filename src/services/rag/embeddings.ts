import { setTimeout as sleep } from 'node:timers/promises';
import {
  context,
  type Span,
  SpanKind,
  SpanStatusCode,
  type Tracer,
  trace,
} from '@opentelemetry/api';
import OpenAI from 'openai';
import type { RetrySettings } from '../../config.js';
import { Unavailable } from '../../errors.js';
import { type Breaker, BreakerOpenError } from '../../infra/breakers.js';
import type { Logger } from '../../infra/logger.js';
import type { LlmMetrics } from '../../infra/metrics.js';
import { NO_TRACING, traceHeaders } from '../../infra/tracing.js';
import { retryDelayMs } from '../llm/backoff.js';
import { GenerationFailure } from '../llm/index.js';
import { upstreamFailure } from '../llm/upstream-failure.js';

/** Turns texts into vectors of one model (all of one length). */
export interface Embedder {
  /** Recorded per collection: a collection holds the vectors of one model only. */
  readonly model: string;
  /** True while a call would be refused at once (its breaker is open). */
  readonly unavailable: boolean;
  /** Throws Unavailable when the embedding endpoint cannot answer. */
  embed(texts: readonly string[], signal?: AbortSignal): Promise<number[][]>;
}

export interface OpenAiEmbedderOptions {
  baseURL: string | undefined;
  apiKey: string | undefined;
  model: string;
  batchSize: number;
  timeoutMs: number;
  retry: RetrySettings;
  breaker: Breaker;
  log: Logger;
  metrics?: LlmMetrics;
  /** Each request is an `embeddings {model}` span; the no-op tracer when off. */
  tracer?: Tracer;
}

/**
 * An OpenAI-compatible /embeddings endpoint through the SDK, in batches. Like model calls it owns
 * its retries (capped backoff with jitter, Retry-After up to a cap, one deadline) and the SDK's
 * are off; the whole embed call, retries included, is one outcome for the `embeddings` breaker.
 */
export class OpenAiEmbedder implements Embedder {
  readonly model: string;
  private readonly client: OpenAI;

  constructor(private readonly options: OpenAiEmbedderOptions) {
    this.model = options.model;
    this.client = new OpenAI({
      baseURL: options.baseURL,
      apiKey: options.apiKey ?? 'not-set',
      maxRetries: 0,
      timeout: options.timeoutMs,
      logLevel: 'off',
    });
  }

  get unavailable(): boolean {
    return this.options.breaker.refusing;
  }

  async embed(texts: readonly string[], signal?: AbortSignal): Promise<number[][]> {
    try {
      return await this.options.breaker.fire(() => this.embedWithRetries(texts, signal));
    } catch (error) {
      if (error instanceof BreakerOpenError) {
        throw new Unavailable('The embeddings endpoint is unavailable (circuit open).');
      }
      if (error instanceof GenerationFailure) {
        throw new Unavailable(
          `The embeddings endpoint failed: ${error.message}`,
          {},
          { cause: error },
        );
      }
      throw error;
    }
  }

  private async embedWithRetries(texts: readonly string[], signal?: AbortSignal) {
    const { retry, batchSize } = this.options;
    const deadline = Date.now() + retry.deadlineMs;
    const vectors: number[][] = [];
    for (let start = 0; start < texts.length; start += batchSize) {
      const batch = texts.slice(start, start + batchSize);
      for (let attempt = 0; ; attempt++) {
        try {
          vectors.push(...(await this.embedBatch(batch, signal)));
          this.options.metrics?.embeddingsCall(this.model, 'ok');
          break;
        } catch (error) {
          if (signal?.aborted) this.options.metrics?.embeddingsCall(this.model, 'cancelled');
          signal?.throwIfAborted();
          const failure = toFailure(error);
          this.options.metrics?.embeddingsCall(this.model, failure.code);
          const delay = retryDelayMs(attempt, retry, failure.retryAfterMs);
          const retryable =
            failure.transient && attempt + 1 < retry.maxAttempts && Date.now() + delay < deadline;
          this.options.log.warn(
            { model: this.model, attempt, code: failure.code, retryInMs: retryable ? delay : null },
            'embeddings call failed',
          );
          if (!retryable) throw failure;
          await sleep(delay, undefined, { signal });
        }
      }
    }
    return vectors;
  }

  private async embedBatch(batch: readonly string[], signal?: AbortSignal): Promise<number[][]> {
    const tracer = this.options.tracer ?? NO_TRACING.tracer;
    const span = tracer.startSpan(`embeddings ${this.model}`, {
      kind: SpanKind.CLIENT,
      attributes: {
        'gen_ai.operation.name': 'embeddings',
        'gen_ai.system': 'openai',
        'gen_ai.provider.name': 'openai',
        'gen_ai.request.model': this.model,
        'parley.embeddings.inputs': batch.length,
      },
    });
    try {
      return await this.requestBatch(batch, signal, span.isRecording() ? span : undefined);
    } catch (error) {
      const code = error instanceof GenerationFailure ? error.code : 'UPSTREAM_UNAVAILABLE';
      span.setAttribute('error.type', code);
      span.setStatus({ code: SpanStatusCode.ERROR, message: code });
      throw error;
    } finally {
      span.end();
    }
  }

  private async requestBatch(
    batch: readonly string[],
    signal: AbortSignal | undefined,
    span: Span | undefined,
  ): Promise<number[][]> {
    const headers = span ? traceHeaders(trace.setSpan(context.active(), span)) : undefined;
    const response = await this.client.embeddings.create(
      // Floats on the wire: not every compatible server speaks the SDK's default base64.
      { model: this.model, input: [...batch], encoding_format: 'float' },
      { signal, ...(headers ? { headers } : {}) },
    );
    span?.setAttributes({
      'gen_ai.response.model': response.model || this.model,
      ...(response.usage ? { 'gen_ai.usage.input_tokens': response.usage.prompt_tokens } : {}),
    });
    const vectors = [...response.data]
      .sort((a, b) => a.index - b.index)
      .map((item) => item.embedding);
    const dimensions = vectors[0]?.length ?? 0;
    if (
      vectors.length !== batch.length ||
      dimensions === 0 ||
      vectors.some((vector) => !Array.isArray(vector) || vector.length !== dimensions)
    ) {
      throw new GenerationFailure('UPSTREAM_BAD_RESPONSE', 'The embeddings response is malformed.');
    }
    return vectors;
  }
}

function toFailure(error: unknown): GenerationFailure {
  return (
    upstreamFailure(error, 'it') ??
    new GenerationFailure('UPSTREAM_UNAVAILABLE', 'it is unreachable.', {
      transient: true,
      cause: error,
    })
  );
}
