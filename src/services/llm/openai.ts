import {
  context,
  type Span,
  SpanKind,
  SpanStatusCode,
  type Tracer,
  trace,
} from '@opentelemetry/api';
import OpenAI from 'openai';
import { NO_TRACING, traceHeaders } from '../../infra/tracing.js';
import type { ChatTurn, LlmChunk, LlmProvider } from './types.js';
import { GenerationFailure } from './types.js';
import { upstreamFailure } from './upstream-failure.js';
import { StreamWatchdog } from './watchdog.js';

export interface OpenAiProviderOptions {
  baseURL: string | undefined;
  apiKey: string | undefined;
  model: string;
  firstTokenTimeoutMs: number;
  idleTimeoutMs: number;
  totalTimeoutMs: number;
  maxCompletionTokens: number;
  /** Each call is a `chat {model}` span (GenAI conventions); the no-op tracer when off. */
  tracer?: Tracer;
}

/** Any OpenAI-compatible chat-completions endpoint, streamed through the official SDK. */
export class OpenAiProvider implements LlmProvider {
  readonly model: string;
  readonly describe: string;
  private readonly client: OpenAI;
  private readonly options: OpenAiProviderOptions;
  private readonly tracer: Tracer;
  private readonly server: { 'server.address': string; 'server.port'?: number };

  constructor(options: OpenAiProviderOptions) {
    this.options = options;
    this.model = options.model;
    this.tracer = options.tracer ?? NO_TRACING.tracer;
    const endpoint = new URL(options.baseURL ?? 'https://api.openai.com/v1');
    this.server = {
      'server.address': endpoint.hostname,
      ...(endpoint.port ? { 'server.port': Number(endpoint.port) } : {}),
    };
    this.describe = `openai-compatible ${endpoint.host} model ${options.model}`;
    this.client = new OpenAI({
      baseURL: options.baseURL,
      // Self-hosted endpoints (vLLM, Ollama, llama.cpp) often take no key; the SDK wants one.
      apiKey: options.apiKey ?? 'not-set',
      // The SDK's retry waits out Retry-After uncapped and ignores aborts while waiting.
      maxRetries: 0,
      timeout: options.firstTokenTimeoutMs,
      // Its logger prints raw upstream chunks on parse errors; failures are reported by us.
      logLevel: 'off',
    });
  }

  async *stream(turns: readonly ChatTurn[], signal: AbortSignal): AsyncGenerator<LlmChunk> {
    const span = this.tracer.startSpan(`chat ${this.model}`, {
      kind: SpanKind.CLIENT,
      attributes: {
        'gen_ai.operation.name': 'chat',
        'gen_ai.system': 'openai',
        'gen_ai.provider.name': 'openai',
        'gen_ai.request.model': this.model,
        'gen_ai.request.max_tokens': this.options.maxCompletionTokens,
        ...this.server,
      },
    });
    // The upstream joins this trace: its spans become children of the model call.
    const headers = span.isRecording()
      ? traceHeaders(trace.setSpan(context.active(), span))
      : undefined;
    try {
      yield* this.streamCall(turns, signal, span, headers);
    } catch (error) {
      const code = error instanceof GenerationFailure ? error.code : errorName(error);
      span.setAttribute('error.type', code);
      span.setStatus({ code: SpanStatusCode.ERROR, message: code });
      throw error;
    } finally {
      span.end();
    }
  }

  private async *streamCall(
    turns: readonly ChatTurn[],
    signal: AbortSignal,
    span: Span,
    headers: Record<string, string> | undefined,
  ): AsyncGenerator<LlmChunk> {
    const recording = span.isRecording();
    let firstToken = true;
    const controller = new AbortController();
    const forwardAbort = () => controller.abort(signal.reason);
    if (signal.aborted) forwardAbort();
    signal.addEventListener('abort', forwardAbort, { once: true });
    const watchdog = new StreamWatchdog(
      controller,
      this.options.firstTokenTimeoutMs,
      this.options.idleTimeoutMs,
      this.options.totalTimeoutMs,
    );
    let finished = false;
    try {
      const chunks = await this.client.chat.completions.create(
        {
          model: this.model,
          messages: turns.map((turn) => ({ role: turn.role, content: turn.content })),
          stream: true,
          stream_options: { include_usage: true },
          // max_tokens rather than max_completion_tokens: every OpenAI-compatible server reads it.
          max_tokens: this.options.maxCompletionTokens,
        },
        { signal: controller.signal, ...(headers ? { headers } : {}) },
      );
      for await (const chunk of chunks) {
        const choice = chunk.choices[0];
        const text = choice?.delta?.content;
        watchdog.chunk(Boolean(text));
        if (recording && firstToken && text) {
          firstToken = false;
          span.addEvent('gen_ai.first_token');
          span.setAttribute('gen_ai.response.model', chunk.model || this.model);
        }
        if (text) yield { kind: 'text', text };
        if (choice?.finish_reason) {
          finished = true;
          if (recording)
            span.setAttribute('gen_ai.response.finish_reasons', [choice.finish_reason]);
        }
        if (chunk.usage) {
          if (recording) {
            span.setAttributes({
              'gen_ai.usage.input_tokens': chunk.usage.prompt_tokens,
              'gen_ai.usage.output_tokens': chunk.usage.completion_tokens,
            });
          }
          yield {
            kind: 'usage',
            usage: {
              promptTokens: chunk.usage.prompt_tokens,
              completionTokens: chunk.usage.completion_tokens,
            },
          };
        }
      }
    } catch (error) {
      throw controller.signal.aborted ? controller.signal.reason : toFailure(error);
    } finally {
      watchdog.stop();
      signal.removeEventListener('abort', forwardAbort);
    }
    // The SDK ends the loop quietly on abort and on a truncated stream; neither is an answer.
    if (controller.signal.aborted) throw controller.signal.reason;
    if (!finished) {
      throw new GenerationFailure(
        'UPSTREAM_INCOMPLETE',
        'The model stream ended before finishing.',
        {
          transient: true,
        },
      );
    }
  }
}

function errorName(error: unknown): string {
  return error instanceof Error ? error.name : 'Error';
}

function toFailure(error: unknown): GenerationFailure {
  if (error instanceof SyntaxError) {
    return new GenerationFailure('UPSTREAM_BAD_RESPONSE', 'The model sent a malformed chunk.', {
      cause: error,
    });
  }
  return (
    upstreamFailure(error, 'The model endpoint') ??
    new GenerationFailure('UPSTREAM_ERROR', 'The model stream failed.', {
      transient: true,
      cause: error,
    })
  );
}
