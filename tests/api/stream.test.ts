import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  type CollectedStream,
  collectSse,
  collectWs,
  gqlData,
  startConversation,
  textReaches,
  wsClient,
} from '../support/client.js';
import { FakeOpenAI } from '../support/fake-openai.js';
import { type BackendKind, startServer, type TestServer } from '../support/server.js';
import { until } from '../support/wait.js';

const CHUNKS = ['The ', 'quick ', 'brown ', 'fox ', 'jumps ', 'over ', 'the ', 'lazy ', 'dog.'];
const FULL_TEXT = CHUNKS.join('');

/** Every delta once, seq 1..n in order, one MessageEnd last, text equal to the stored content. */
function expectWholeStream(stream: CollectedStream, status = 'COMPLETED') {
  expect(stream.errors).toEqual([]);
  const seqs = stream.deltas.map((delta) => delta.seq);
  expect(seqs).toEqual(seqs.map((_, index) => index + 1));
  expect(stream.events.filter((event) => event.__typename === 'MessageEnd')).toHaveLength(1);
  expect(stream.events.at(-1)?.__typename).toBe('MessageEnd');
  expect(stream.end?.message?.status).toBe(status);
  expect(stream.text).toBe(stream.end?.message?.content);
}

const MESSAGE_QUERY = 'query($id: ID!) { node(id: $id) { ... on Message { status content } } }';

describe.each<BackendKind>(['memory', 'redis'])('message streams on the %s backend', (backend) => {
  const upstream = new FakeOpenAI();
  let server: TestServer;

  beforeAll(async () => {
    await upstream.start();
  });
  afterAll(async () => {
    await upstream.close();
  });
  afterEach(async () => {
    upstream.release();
    await server?.close();
  });

  const start = async () => {
    server = await startServer({
      backend,
      env: {
        OPENAI_BASE_URL: upstream.baseURL,
        OPENAI_API_KEY: 'sk-test-upstream',
        LLM_MODEL: 'fake-model',
      },
    });
    return server;
  };

  it('a subscriber that arrives before the first token gets the whole answer once', async () => {
    upstream.enqueue({ chunks: CHUNKS, holdAfter: 0 });
    await start();
    const requestsBefore = upstream.requests.length;
    const { assistantMessageId } = await startConversation(server);
    await upstream.request(requestsBefore);
    const client = wsClient(server);
    const streamed = collectWs(client, assistantMessageId);
    await until(() => server.app.services.streams.openCount === 1);
    upstream.release();
    const stream = await streamed;
    await client.dispose();
    expectWholeStream(stream);
    expect(stream.text).toBe(FULL_TEXT);
    expect(stream.end?.message?.model).toBe('fake-model');
    expect(stream.end?.message?.usage).toEqual({ promptTokens: 12, completionTokens: 4 });
  });

  it('a subscriber that arrives mid-answer gets the past from the log, then the live rest', async () => {
    upstream.enqueue({ chunks: CHUNKS, holdAfter: 4 });
    await start();
    const { assistantMessageId } = await startConversation(server);
    const client = wsClient(server);
    const { seen, onEvent } = textReaches('The quick brown fox ');
    const early = collectWs(client, assistantMessageId, undefined, { onEvent });
    await seen;
    const midway = collectWs(client, assistantMessageId);
    const during = await gqlData<{ node: { status: string; content: string } }>(
      server,
      MESSAGE_QUERY,
      { id: assistantMessageId },
    );
    expect(during.node.status).toBe('STREAMING');
    expect(during.node.content).toBe('The quick brown fox ');
    upstream.release();
    const [first, second] = await Promise.all([early, midway]);
    await client.dispose();
    expectWholeStream(first);
    expectWholeStream(second);
    expect(second.text).toBe(FULL_TEXT);
  });

  it('a subscriber that arrives after the end gets the whole answer from the log', async () => {
    upstream.enqueue({ chunks: CHUNKS });
    await start();
    const { assistantMessageId } = await startConversation(server);
    const client = wsClient(server);
    const first = await collectWs(client, assistantMessageId);
    const late = await collectWs(client, assistantMessageId);
    await client.dispose();
    expectWholeStream(late);
    expect(late.events).toEqual(first.events);
    const stored = await gqlData<{ node: { status: string; content: string } }>(
      server,
      MESSAGE_QUERY,
      { id: assistantMessageId },
    );
    expect(stored.node).toEqual({ status: 'COMPLETED', content: FULL_TEXT });
  });

  it('`after` resumes: only the events after that cursor arrive', async () => {
    // Paced so that the answer is several deltas (a fast upstream is batched into fewer).
    upstream.enqueue({ chunks: CHUNKS, delayMs: 5 });
    await start();
    const { assistantMessageId } = await startConversation(server);
    const client = wsClient(server);
    const whole = await collectWs(client, assistantMessageId);
    expect(whole.deltas.length).toBeGreaterThan(2);
    const cursor = whole.deltas[1]!.cursor;
    const resumed = await collectWs(client, assistantMessageId, cursor);
    await client.dispose();
    expect(resumed.events).toEqual(whole.events.slice(2));
    expect(
      whole.deltas
        .slice(0, 2)
        .map((delta) => delta.text)
        .join('') + resumed.text,
    ).toBe(FULL_TEXT);
  });

  it('resuming after the end of a finished stream is BAD_USER_INPUT, not a wait forever', async () => {
    upstream.enqueue({ chunks: CHUNKS });
    await start();
    const { assistantMessageId } = await startConversation(server);
    const client = wsClient(server);
    const whole = await collectWs(client, assistantMessageId);
    const pastEnd = await collectWs(client, assistantMessageId, whole.end!.cursor);
    await client.dispose();
    expect(pastEnd.events).toEqual([]);
    expect(pastEnd.errors[0]?.extensions?.code).toBe('BAD_USER_INPUT');
  });

  it('SSE subscribers get the same stream as WebSocket subscribers', async () => {
    upstream.enqueue({ chunks: CHUNKS, delayMs: 2 });
    await start();
    const { assistantMessageId } = await startConversation(server);
    const client = wsClient(server);
    const [overSse, overWs] = await Promise.all([
      collectSse(server, assistantMessageId),
      collectWs(client, assistantMessageId),
    ]);
    await client.dispose();
    expectWholeStream(overSse);
    expect(overSse.events).toEqual(overWs.events);
  });

  it('cancelMessage closes the upstream connection and ends the stream CANCELLED with the partial text', async () => {
    upstream.enqueue({ chunks: CHUNKS, holdAfter: 3 });
    await start();
    const requestIndex = upstream.requests.length;
    const { assistantMessageId } = await startConversation(server);
    const upstreamRequest = await upstream.request(requestIndex);
    const client = wsClient(server);
    const { seen, onEvent } = textReaches('The quick brown ');
    const streamed = collectWs(client, assistantMessageId, undefined, { onEvent });
    await seen;
    const cancelled = await gqlData<{ cancelMessage: { status: string; content: string } }>(
      server,
      'mutation($id: ID!) { cancelMessage(id: $id) { status content } }',
      { id: assistantMessageId },
    );
    await upstreamRequest.clientClosed;
    const stream = await streamed;
    await client.dispose();
    expect(cancelled.cancelMessage).toEqual({ status: 'CANCELLED', content: 'The quick brown ' });
    expectWholeStream(stream, 'CANCELLED');
    expect(stream.text).toBe('The quick brown ');
  });

  it('sends the persona prompt and the last LLM_HISTORY_MESSAGES messages upstream', async () => {
    upstream.setDefault({ chunks: ['ok'] });
    server = await startServer({
      backend,
      env: {
        OPENAI_BASE_URL: upstream.baseURL,
        OPENAI_API_KEY: 'sk-test-upstream',
        LLM_MODEL: 'fake-model',
        LLM_HISTORY_MESSAGES: '3',
      },
    });
    const { sessionId, assistantMessageId } = await startConversation(server, 'first question', {
      persona: 'engineer',
    });
    const client = wsClient(server);
    await collectWs(client, assistantMessageId);
    const send = (content: string) =>
      gqlData<{ sendMessage: { assistantMessage: { id: string } } }>(
        server,
        'mutation($input: SendMessageInput!) { sendMessage(input: $input) { assistantMessage { id } } }',
        { input: { sessionId, content } },
      );
    const second = await send('second question');
    await collectWs(client, second.sendMessage.assistantMessage.id);
    const before = upstream.requests.length;
    const third = await send('third question');
    await collectWs(client, third.sendMessage.assistantMessage.id);
    await client.dispose();
    const request = upstream.requests[before]!;
    expect(request.headers.authorization).toBe('Bearer sk-test-upstream');
    expect(request.body.model).toBe('fake-model');
    expect(request.body.stream).toBe(true);
    expect(request.body.stream_options).toEqual({ include_usage: true });
    expect(request.body.messages[0]?.role).toBe('system');
    expect(request.body.messages[0]?.content).toContain('senior software engineer');
    expect(request.body.messages.slice(1)).toEqual(
      [
        { role: 'assistant', content: 'ok' },
        { role: 'user', content: 'second question' },
        { role: 'assistant', content: 'ok' },
        { role: 'user', content: 'third question' },
      ].slice(-3),
    );
    upstream.setDefault({ chunks: ['Hello', ', ', 'world', '!'] });
  });
});
