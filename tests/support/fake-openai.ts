import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/**
 * A fake OpenAI-compatible upstream speaking the real wire format (SSE `data:` chunks of
 * chat.completion.chunk, `[DONE]`, JSON error bodies), so the real openai SDK is exercised.
 * Each request takes the next script queued for its model, or its model's default, or the next
 * script queued for every model, or the default one, and can fail in every way a real upstream
 * does. A request without `stream: true` gets one chat.completion (JSON) whose content is the
 * script's `content` (or its chunks joined), for structured output.
 */
export interface UpstreamScript {
  /** Text deltas, one chunk each. */
  chunks?: string[];
  /** Pause before each chunk. */
  delayMs?: number;
  /** Send this many chunks, then wait for `release()`. */
  holdAfter?: number;
  /** Answer with this HTTP status and an OpenAI error body instead of a stream. */
  status?: number;
  /** Sent with `status` (seconds), as a Retry-After header. */
  retryAfter?: number;
  /** Send this many chunks, then nothing more (connection stays open). */
  stallAfter?: number;
  /** Send this many chunks, then destroy the socket. */
  resetAfter?: number;
  /** Send this many chunks, then one that is not JSON. */
  badChunkAfter?: number;
  /** End the stream without finish_reason and without [DONE]. */
  truncate?: boolean;
  /** Usage reported in the last chunk (or the completion); null sends none. */
  usage?: { prompt_tokens: number; completion_tokens: number } | null;
  /** Non-streaming: the message content (a JSON string for structured output). */
  content?: string;
  /**
   * Non-streaming: answer 400 (as an upstream without it does) to a request whose
   * `response_format.type` is this one; the script is used up either way.
   */
  rejectResponseFormat?: 'json_schema' | 'json_object';
}

export interface RecordedRequest {
  path: string;
  headers: IncomingMessage['headers'];
  body: {
    model: string;
    messages: { role: string; content: string }[];
    stream?: boolean;
    stream_options?: { include_usage?: boolean };
    max_tokens?: number;
    response_format?: {
      type: 'json_schema' | 'json_object' | 'text';
      json_schema?: { name: string; schema: Record<string, unknown>; strict?: boolean };
    };
  };
  /** Resolves when the client closed the connection before the response finished. */
  clientClosed: Promise<void>;
  /** True once the response was sent completely. */
  finished: boolean;
  /** Date.now() when the request arrived. */
  receivedAt: number;
}

const DEFAULT_SCRIPT: UpstreamScript = {
  chunks: ['Hello', ', ', 'world', '!'],
  usage: { prompt_tokens: 12, completion_tokens: 4 },
};

/** One POST /v1/embeddings as it arrived. */
export interface EmbeddingRequest {
  body: { model: string; input: string | string[]; encoding_format?: 'float' | 'base64' };
  headers: IncomingMessage['headers'];
}

const EMBEDDING_DIMENSIONS = 64;

/** A deterministic, lexical embedding: hashed lower-case words, L2-normalised. */
export function fakeEmbedding(text: string): number[] {
  const vector = new Array<number>(EMBEDDING_DIMENSIONS).fill(0);
  for (const word of text.toLowerCase().match(/[a-z0-9]+/g) ?? []) {
    let hash = 0;
    for (const char of word) hash = (hash * 31 + char.charCodeAt(0)) >>> 0;
    vector[hash % EMBEDDING_DIMENSIONS]! += 1;
  }
  const norm = Math.hypot(...vector) || 1;
  return vector.map((value) => value / norm);
}

export class FakeOpenAI {
  readonly requests: RecordedRequest[] = [];
  /** Embedding requests are kept apart, so chat request indexes stay what tests expect. */
  readonly embeddingRequests: EmbeddingRequest[] = [];
  /** While set, /v1/embeddings answers this HTTP status (a JSON error body). */
  embeddingsFailure: number | undefined;
  private readonly queue: UpstreamScript[] = [];
  private defaultScript: UpstreamScript = DEFAULT_SCRIPT;
  private readonly modelQueues = new Map<string, UpstreamScript[]>();
  private readonly modelDefaults = new Map<string, UpstreamScript>();
  private releaseHeld: (() => void)[] = [];
  private requestWaiters: (() => void)[] = [];
  private readonly sockets = new Set<Socket>();
  private server: Server | undefined;
  private port = 0;

  /** Base URL for the SDK (`OPENAI_BASE_URL`). */
  get baseURL(): string {
    return `http://127.0.0.1:${this.port}/v1`;
  }

  async start(): Promise<this> {
    this.server = createServer((request, response) => {
      this.handle(request, response).catch(() => response.destroy());
    });
    this.server.on('connection', (socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
    this.server.listen(0, '127.0.0.1');
    await once(this.server, 'listening');
    this.port = (this.server.address() as AddressInfo).port;
    return this;
  }

  /** The next request gets this script (queued in order). */
  enqueue(...scripts: UpstreamScript[]): this {
    this.queue.push(...scripts);
    return this;
  }

  /** Requests with nothing queued get this script. */
  setDefault(script: UpstreamScript): this {
    this.defaultScript = script;
    return this;
  }

  /** The next requests for `model` get these scripts, before anything queued for every model. */
  enqueueFor(model: string, ...scripts: UpstreamScript[]): this {
    this.modelQueues.set(model, [...(this.modelQueues.get(model) ?? []), ...scripts]);
    return this;
  }

  /**
   * Requests for `model` with nothing queued for it get this script; `undefined` sends them back
   * to the shared queue and default.
   */
  setDefaultFor(model: string, script: UpstreamScript | undefined): this {
    if (script) this.modelDefaults.set(model, script);
    else this.modelDefaults.delete(model);
    return this;
  }

  /** Lets every stream waiting at `holdAfter` go on. */
  release(): void {
    const waiting = this.releaseHeld;
    this.releaseHeld = [];
    for (const resume of waiting) resume();
  }

  /** Resolves with request number `index` (0-based) once it has arrived. */
  async request(index: number, timeoutMs = 10_000): Promise<RecordedRequest> {
    const deadline = Date.now() + timeoutMs;
    while (this.requests.length <= index) {
      const remaining = deadline - Date.now();
      if (remaining <= 0) throw new Error(`upstream request ${index} did not arrive`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, remaining);
        this.requestWaiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    return this.requests[index]!;
  }

  async close(): Promise<void> {
    this.release();
    for (const socket of this.sockets) socket.destroy();
    if (this.server) await new Promise<void>((resolve) => this.server!.close(() => resolve()));
  }

  private async handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const bodyChunks: Buffer[] = [];
    for await (const chunk of request) bodyChunks.push(chunk as Buffer);
    if (request.url?.endsWith('/embeddings')) {
      this.embed(
        JSON.parse(Buffer.concat(bodyChunks).toString()) as EmbeddingRequest['body'],
        request.headers,
        response,
      );
      return;
    }
    let markClosed: () => void = () => {};
    const recorded: RecordedRequest = {
      path: request.url ?? '',
      headers: request.headers,
      body: JSON.parse(Buffer.concat(bodyChunks).toString() || '{}') as RecordedRequest['body'],
      clientClosed: new Promise<void>((resolve) => {
        markClosed = resolve;
      }),
      finished: false,
      receivedAt: Date.now(),
    };
    response.on('close', () => {
      if (!recorded.finished) markClosed();
    });
    this.requests.push(recorded);
    const waiters = this.requestWaiters;
    this.requestWaiters = [];
    for (const wake of waiters) wake();

    const model = recorded.body.model;
    const script =
      this.modelQueues.get(model)?.shift() ??
      this.modelDefaults.get(model) ??
      this.queue.shift() ??
      this.defaultScript;
    if (script.status !== undefined) {
      response.writeHead(script.status, {
        'content-type': 'application/json',
        ...(script.retryAfter !== undefined ? { 'retry-after': String(script.retryAfter) } : {}),
      });
      response.end(
        JSON.stringify({
          error: {
            message: `fake upstream error ${script.status}`,
            type: 'server_error',
            code: null,
          },
        }),
      );
      recorded.finished = true;
      return;
    }
    if (recorded.body.stream !== true) {
      this.complete(recorded, script, response);
      return;
    }
    await this.stream(recorded, script, response);
  }

  /** The real non-streaming wire format: one chat.completion object. */
  private complete(recorded: RecordedRequest, script: UpstreamScript, response: ServerResponse) {
    const format = recorded.body.response_format?.type;
    if (script.rejectResponseFormat !== undefined && format === script.rejectResponseFormat) {
      response.writeHead(400, { 'content-type': 'application/json' });
      response.end(
        JSON.stringify({
          error: {
            message: `response_format ${format} is not supported by this model`,
            type: 'invalid_request_error',
            code: null,
          },
        }),
      );
      recorded.finished = true;
      return;
    }
    const usage = script.usage === undefined ? DEFAULT_SCRIPT.usage : script.usage;
    response.writeHead(200, { 'content-type': 'application/json' });
    response.end(
      JSON.stringify({
        id: `chatcmpl-${this.requests.length}`,
        object: 'chat.completion',
        created: Math.floor(Date.now() / 1000),
        model: recorded.body.model,
        choices: [
          {
            index: 0,
            message: {
              role: 'assistant',
              content: script.content ?? (script.chunks ?? []).join(''),
              refusal: null,
            },
            finish_reason: 'stop',
            logprobs: null,
          },
        ],
        ...(usage
          ? { usage: { ...usage, total_tokens: usage.prompt_tokens + usage.completion_tokens } }
          : {}),
      }),
    );
    recorded.finished = true;
  }

  /** The real wire format: { object: 'list', data: [{ object, index, embedding }], model, usage }. */
  private embed(
    body: EmbeddingRequest['body'],
    headers: IncomingMessage['headers'],
    response: ServerResponse,
  ): void {
    this.embeddingRequests.push({ body, headers });
    if (this.embeddingsFailure !== undefined) {
      response.writeHead(this.embeddingsFailure, { 'content-type': 'application/json' });
      response.end(
        JSON.stringify({
          error: { message: 'fake embeddings error', type: 'server_error', code: null },
        }),
      );
      return;
    }
    const inputs = Array.isArray(body.input) ? body.input : [body.input];
    const data = inputs.map((text, index) => {
      const vector = fakeEmbedding(text);
      return {
        object: 'embedding',
        index,
        embedding:
          body.encoding_format === 'base64'
            ? Buffer.from(new Float32Array(vector).buffer).toString('base64')
            : vector,
      };
    });
    const tokens = inputs.reduce((sum, text) => sum + Math.ceil(text.length / 4), 0);
    response.writeHead(200, { 'content-type': 'application/json' });
    response.end(
      JSON.stringify({
        object: 'list',
        data,
        model: body.model,
        usage: { prompt_tokens: tokens, total_tokens: tokens },
      }),
    );
  }

  private async stream(
    recorded: RecordedRequest,
    script: UpstreamScript,
    response: ServerResponse,
  ): Promise<void> {
    response.writeHead(200, {
      'content-type': 'text/event-stream',
      'cache-control': 'no-cache',
      connection: 'keep-alive',
    });
    const id = `chatcmpl-${this.requests.length}`;
    const created = Math.floor(Date.now() / 1000);
    const send = (payload: unknown) => response.write(`data: ${JSON.stringify(payload)}\n\n`);
    const chunk = (delta: Record<string, unknown>, finishReason: string | null) => ({
      id,
      object: 'chat.completion.chunk',
      created,
      model: recorded.body.model,
      choices: [{ index: 0, delta, finish_reason: finishReason }],
    });
    const chunks = script.chunks ?? [];
    send(chunk({ role: 'assistant', content: '' }, null));
    for (let index = 0; index < chunks.length; index++) {
      if (response.destroyed) return;
      if (index === script.holdAfter) {
        await new Promise<void>((resolve) => this.releaseHeld.push(resolve));
      }
      if (index === script.stallAfter) return;
      if (index === script.resetAfter) {
        response.socket?.destroy();
        return;
      }
      if (index === script.badChunkAfter) {
        response.write('data: {"choices": [ this is not json\n\n');
        continue;
      }
      if (script.delayMs) await new Promise((resolve) => setTimeout(resolve, script.delayMs));
      if (response.destroyed) return;
      send(chunk({ content: chunks[index] }, null));
    }
    if (script.truncate) {
      recorded.finished = true;
      response.end();
      return;
    }
    send(chunk({}, 'stop'));
    if (script.usage !== null) {
      send({
        id,
        object: 'chat.completion.chunk',
        created,
        model: recorded.body.model,
        choices: [],
        usage: {
          ...(script.usage ?? DEFAULT_SCRIPT.usage),
          total_tokens:
            (script.usage ?? DEFAULT_SCRIPT.usage)!.prompt_tokens +
            (script.usage ?? DEFAULT_SCRIPT.usage)!.completion_tokens,
        },
      });
    }
    response.write('data: [DONE]\n\n');
    recorded.finished = true;
    response.end();
  }
}
