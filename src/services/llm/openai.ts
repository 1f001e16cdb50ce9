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
import type { ChatTurn, Completion, CompletionRequest, LlmChunk, LlmProvider } from './types.js';
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
  /** How structured output is asked for first (a 400 steps down the list, see `complete`). */
  structuredOutput: StructuredOutputMode;
  /** Each call is a `chat {model}` span (GenAI conventions); the no-op tracer when off. */
  tracer?: Tracer;
}

/**
 * `json_schema`: `response_format: { type: 'json_schema' }` (OpenAI, vLLM, recent Ollama);
 * `json_object`: JSON mode only; `prompt`: no response_format, the prompt alone asks for JSON.
 */
export type StructuredOutputMode = 'json_schema' | 'json_object' | 'prompt';
const OUTPUT_MODES: readonly StructuredOutputMode[] = ['json_schema', 'json_object', 'prompt'];

/** Any OpenAI-compatible chat-completions endpoint, streamed through the official SDK. */
export class OpenAiProvider implements LlmProvider {
  readonly model: string;
  readonly describe: string;
  private readonly client: OpenAI;
  private readonly options: OpenAiProviderOptions;
  /** Where structured output starts; lowered for good once an upstream refused a mode. */
  private outputMode: StructuredOutputMode;
  private readonly tracer: Tracer;
  private readonly server: { 'server.address': string; 'server.port'?: number };

  constructor(options: OpenAiProviderOptions) {
    this.options = options;
    this.outputMode = options.structuredOutput;
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

  async complete(
    turns: readonly ChatTurn[],
    request: CompletionRequest,
    signal: AbortSignal,
  ): Promise<Completion> {
    const { mode, ...completion } = await completeStructured(
      this.client,
      { model: this.model, timeoutMs: this.options.totalTimeoutMs, startMode: this.outputMode },
      turns,
      request,
      signal,
    );
    this.outputMode = mode;
    return completion;
  }
}

/**
 * A whole (non-streamed) answer, apart from the streaming path. An upstream that answers 400 to
 * a `response_format` it does not know is asked again one step down (json_schema, then
 * json_object, then the prompt alone); the caller keeps the step that worked.
 */
async function completeStructured(
  client: OpenAI,
  provider: { model: string; timeoutMs: number; startMode: StructuredOutputMode },
  turns: readonly ChatTurn[],
  request: CompletionRequest,
  signal: AbortSignal,
): Promise<Completion & { mode: StructuredOutputMode }> {
  const modes = OUTPUT_MODES.slice(OUTPUT_MODES.indexOf(provider.startMode));
  for (const [index, mode] of modes.entries()) {
    try {
      const completion = await client.chat.completions.create(
        {
          model: provider.model,
          messages: turns.map((turn) => ({ role: turn.role, content: turn.content })),
          max_tokens: request.maxTokens,
          ...responseFormat(mode, request),
        },
        { signal, timeout: provider.timeoutMs },
      );
      const usage = completion.usage;
      return {
        text: completion.choices[0]?.message?.content ?? '',
        model: provider.model,
        usage: usage
          ? { promptTokens: usage.prompt_tokens, completionTokens: usage.completion_tokens }
          : null,
        mode,
      };
    } catch (error) {
      if (signal.aborted) throw signal.reason;
      const refusedFormat =
        error instanceof OpenAI.APIError && error.status === 400 && index + 1 < modes.length;
      if (!refusedFormat) throw toFailure(error);
    }
  }
  throw new GenerationFailure('UPSTREAM_ERROR', 'The model endpoint refused the request.');
}

function responseFormat(mode: StructuredOutputMode, request: CompletionRequest) {
  if (mode === 'json_schema') {
    return {
      response_format: {
        type: 'json_schema' as const,
        json_schema: { name: request.output.name, schema: request.output.schema, strict: true },
      },
    };
  }
  if (mode === 'json_object') return { response_format: { type: 'json_object' as const } };
  return {};
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
