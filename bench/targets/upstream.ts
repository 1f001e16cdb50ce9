import { once } from 'node:events';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { wallClockMs } from '../harness/clock.js';
import { type AnswerShape, decodePrompt, tokenText } from '../harness/prompt.js';
import { serve } from '../harness/rpc.js';

/**
 * The bench's fake OpenAI-compatible upstream, in a process of its own. It speaks the same wire
 * format as tests/support/fake-openai.ts (SSE `chat.completion.chunk` lines, a finish_reason,
 * usage, `[DONE]`) but takes each answer's shape from the prompt (harness/prompt.ts), paces
 * tokens against a schedule instead of chained timers, and stamps when each answer's first
 * token leaves, which the ttft scenario needs.
 */

const DEFAULT_SHAPE: AnswerShape = { id: '', tokens: 8, intervalMs: 0, thinkMs: 0, hold: false };
/** Bounds the first-token record when nobody collects it. */
const MAX_RECORDED = 200_000;

const firstTokenSentAt = new Map<string, number>();
let releaseHeld: (() => void)[] = [];
let requests = 0;

interface ChatRequest {
  model?: string;
  messages?: { role: string; content: string }[];
}

async function readJson(request: IncomingMessage): Promise<ChatRequest> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return JSON.parse(Buffer.concat(chunks).toString() || '{}') as ChatRequest;
}

const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function answer(request: IncomingMessage, response: ServerResponse): Promise<void> {
  const body = await readJson(request);
  requests++;
  const prompt = body.messages?.filter((message) => message.role === 'user').at(-1)?.content ?? '';
  const shape = decodePrompt(prompt) ?? DEFAULT_SHAPE;
  const model = body.model ?? 'bench-model';
  const id = `chatcmpl-${requests}`;
  const created = Math.floor(Date.now() / 1000);
  // Everything but the delta is the same in every chunk: build the two halves once.
  const head = `data: {"id":"${id}","object":"chat.completion.chunk","created":${created},"model":${JSON.stringify(model)},"choices":[{"index":0,"delta":`;
  const chunk = (delta: string, finishReason: string | null) =>
    `${head}${delta},"finish_reason":${finishReason ? `"${finishReason}"` : 'null'}}]}\n\n`;

  response.writeHead(200, {
    'content-type': 'text/event-stream',
    'cache-control': 'no-cache',
    connection: 'keep-alive',
  });
  response.write(chunk('{"role":"assistant","content":""}', null));
  let closed = false;
  response.once('close', () => {
    closed = true;
  });
  if (shape.hold) {
    await new Promise<void>((resolve) => {
      releaseHeld.push(resolve);
      response.once('close', resolve);
    });
  }
  if (shape.thinkMs > 0) await delay(shape.thinkMs);
  const start = performance.now();
  for (let index = 0; index < shape.tokens && !closed; index++) {
    if (shape.intervalMs > 0 && index > 0) {
      // Against a schedule, so timer lateness does not add up over a long answer.
      const due = start + index * shape.intervalMs;
      const wait = due - performance.now();
      if (wait > 0) await delay(wait);
      if (closed) return;
    }
    if (index === 0 && shape.id && firstTokenSentAt.size < MAX_RECORDED) {
      firstTokenSentAt.set(shape.id, wallClockMs());
    }
    response.write(chunk(`{"content":${JSON.stringify(tokenText(index))}}`, null));
  }
  if (closed) return;
  response.write(chunk('{}', 'stop'));
  response.write(
    `data: {"id":"${id}","object":"chat.completion.chunk","created":${created},"model":${JSON.stringify(model)},"choices":[],"usage":{"prompt_tokens":${prompt.length},"completion_tokens":${shape.tokens},"total_tokens":${prompt.length + shape.tokens}}}\n\n`,
  );
  response.end('data: [DONE]\n\n');
}

const server = createServer((request, response) => {
  answer(request, response).catch(() => response.destroy());
});
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1');
await once(server, 'listening');
const { port } = server.address() as AddressInfo;

const methods = {
  /** Lets every answer waiting on `hold=1` go on. */
  release: () => {
    const held = releaseHeld;
    releaseHeld = [];
    for (const resume of held) resume();
    return held.length;
  },
  /** Answers waiting on `hold=1` for a release. */
  held: () => releaseHeld.length,
  /** First-token send times (wall-clock ms) by answer id; collected ones are forgotten. */
  takeFirstTokenTimes: (): [string, number][] => {
    const entries = [...firstTokenSentAt];
    firstTokenSentAt.clear();
    return entries;
  },
  requests: () => requests,
  stop: async () => {
    methods.release();
    server.closeAllConnections();
    server.close();
  },
};

export type UpstreamMethods = typeof methods;

serve(methods, { port, baseURL: `http://127.0.0.1:${port}/v1` });
