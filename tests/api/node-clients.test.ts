import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createApolloChat } from '../../examples/node/apollo.js';
import {
  answerText,
  type ChatClient,
  type ParleyEndpoints,
  type StreamDelta,
} from '../../examples/node/chat-client.js';
import { createUrqlChat } from '../../examples/node/urql.js';
import { FakeOpenAI } from '../support/fake-openai.js';
import { startServer, type TestServer } from '../support/server.js';

const CHUNKS = ['Every ', 'delta ', 'arrives ', 'exactly ', 'once, ', 'in ', 'order.'];
const FULL_TEXT = CHUNKS.join('');

const clients: [string, (endpoints: ParleyEndpoints) => ChatClient][] = [
  ['Apollo Client', createApolloChat],
  ['urql', createUrqlChat],
];

/** Resolves once `count` deltas have arrived through `onDelta`. */
function deltasArrived(count: number) {
  const deltas: StreamDelta[] = [];
  let reached: () => void = () => {};
  const arrived = new Promise<void>((resolve) => {
    reached = resolve;
  });
  const onDelta = (delta: StreamDelta) => {
    deltas.push(delta);
    if (deltas.length === count) reached();
  };
  return { arrived, onDelta };
}

describe.each(clients)('the Node example with %s', (_name, createChat) => {
  const upstream = new FakeOpenAI();
  let server: TestServer;
  let chat: ChatClient;

  beforeAll(async () => {
    await upstream.start();
    server = await startServer({
      env: {
        OPENAI_BASE_URL: upstream.baseURL,
        OPENAI_API_KEY: 'sk-test-upstream',
        LLM_MODEL: 'fake-model',
      },
    });
    chat = createChat({ httpUrl: server.httpUrl, wsUrl: server.wsUrl });
  });
  afterEach(() => {
    upstream.release();
  });
  afterAll(async () => {
    await chat?.close();
    await server?.close();
    await upstream.close();
  });

  async function ask(question: string): Promise<string> {
    const sessionId = await chat.createSession(question);
    return chat.sendMessage(sessionId, question);
  }

  it('streams the whole answer: the deltas spell the final content, one MessageEnd', async () => {
    upstream.enqueue({ chunks: CHUNKS, delayMs: 2 });
    const messageId = await ask('Stream it all');
    const answer = await chat.streamAnswer(messageId);
    expect(answer.ends).toHaveLength(1);
    const [end] = answer.ends;
    expect(end?.message.status).toBe('COMPLETED');
    expect(answerText(answer)).toBe(FULL_TEXT);
    expect(end?.message.content).toBe(FULL_TEXT);
    const seqs = answer.deltas.map((delta) => delta.seq);
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    expect(new Set(seqs).size).toBe(seqs.length);
  });

  it('cancelling mid-answer ends the stream CANCELLED with what was streamed', async () => {
    upstream.enqueue({ chunks: CHUNKS, holdAfter: 2 });
    const messageId = await ask('Cancel it');
    const { arrived, onDelta } = deltasArrived(1);
    const streamed = chat.streamAnswer(messageId, { onDelta });
    await arrived;
    expect(await chat.cancelMessage(messageId)).toBe('CANCELLED');
    const answer = await streamed;
    expect(answer.ends).toHaveLength(1);
    expect(answer.ends[0]?.message.status).toBe('CANCELLED');
    expect(answerText(answer)).toBe(answer.ends[0]?.message.content);
    expect(FULL_TEXT.startsWith(answerText(answer))).toBe(true);
  });

  it('resuming with after gets only the later events, then the one MessageEnd', async () => {
    upstream.enqueue({ chunks: CHUNKS, holdAfter: 3 });
    const messageId = await ask('Resume it');
    const stop = new AbortController();
    const { arrived, onDelta } = deltasArrived(1);
    const first = chat.streamAnswer(messageId, { onDelta, signal: stop.signal });
    await arrived;
    stop.abort();
    const before = await first;
    expect(before.ends).toHaveLength(0);
    const last = before.deltas.at(-1)!;

    upstream.release();
    const rest = await chat.streamAnswer(messageId, { after: last.cursor });
    expect(rest.deltas.every((delta) => delta.seq > last.seq)).toBe(true);
    expect(rest.ends).toHaveLength(1);
    expect(rest.ends[0]?.message.status).toBe('COMPLETED');
    expect(answerText(before) + answerText(rest)).toBe(FULL_TEXT);
  });
});
