import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  collectSse,
  collectWs,
  gqlData,
  startConversation,
  textReaches,
  wsClient,
} from '../support/client.js';
import { FakeOpenAI } from '../support/fake-openai.js';
import { deleteKeys, SHARED_REDIS_URL } from '../support/redis.js';
import { startServer, type TestServer } from '../support/server.js';
import { until } from '../support/wait.js';

const CHUNKS = ['one ', 'two ', 'three ', 'four ', 'five ', 'six'];

describe('two instances sharing one Redis', () => {
  const upstream = new FakeOpenAI();
  const keyPrefix = `test:${randomUUID()}:`;
  let instanceA: TestServer;
  let instanceB: TestServer;

  const startInstance = () =>
    startServer({
      backend: 'redis',
      keyPrefix,
      env: {
        OPENAI_BASE_URL: upstream.baseURL,
        OPENAI_API_KEY: 'sk-test',
        LLM_MODEL: 'fake-model',
        API_KEYS: 'alice:key-alice',
      },
    });
  const alice = { apiKey: 'key-alice' };
  const aliceWs = { authorization: 'Bearer key-alice' };

  beforeAll(async () => {
    await upstream.start();
  });
  afterEach(async () => {
    upstream.release();
    await Promise.all([instanceA?.close(), instanceB?.close()]);
  });
  afterAll(async () => {
    await upstream.close();
    await deleteKeys(SHARED_REDIS_URL, keyPrefix);
  });

  it('a message sent on A streams whole to subscribers on B, before, during and after', async () => {
    upstream.enqueue({ chunks: CHUNKS, holdAfter: 2 });
    [instanceA, instanceB] = await Promise.all([startInstance(), startInstance()]);
    const { assistantMessageId } = await startConversation(instanceA, 'hi', alice);
    const clientB = wsClient(instanceB, aliceWs);
    const during = collectWs(clientB, assistantMessageId);
    const overSse = collectSse(instanceB, assistantMessageId, undefined, { apiKey: 'key-alice' });
    await until(() => instanceB.app.services.streams.openCount === 2);
    upstream.release();
    const [wsStream, sseStream] = await Promise.all([during, overSse]);
    const after = await collectWs(clientB, assistantMessageId);
    await clientB.dispose();
    for (const stream of [wsStream, sseStream, after]) {
      expect(stream.errors).toEqual([]);
      expect(stream.text).toBe(CHUNKS.join(''));
      expect(stream.deltas.map((delta) => delta.seq)).toEqual(
        stream.deltas.map((_, index) => index + 1),
      );
      expect(stream.end?.message?.status).toBe('COMPLETED');
    }
  });

  it('cancelMessage on B stops the generation running on A', async () => {
    upstream.enqueue({ chunks: CHUNKS, holdAfter: 2 });
    [instanceA, instanceB] = await Promise.all([startInstance(), startInstance()]);
    const requestIndex = upstream.requests.length;
    const { assistantMessageId } = await startConversation(instanceA, 'hi', alice);
    const upstreamRequest = await upstream.request(requestIndex);
    const clientA = wsClient(instanceA, aliceWs);
    const streamed = collectWs(clientA, assistantMessageId);
    const cancelled = await gqlData<{ cancelMessage: { status: string } }>(
      instanceB,
      'mutation($id: ID!) { cancelMessage(id: $id) { status } }',
      { id: assistantMessageId },
      alice,
    );
    await upstreamRequest.clientClosed;
    const stream = await streamed;
    await clientA.dispose();
    expect(cancelled.cancelMessage.status).toBe('CANCELLED');
    expect(stream.end?.message?.status).toBe('CANCELLED');
    expect(stream.text).toBe('one two ');
  });

  it('when B shuts down, its subscriber of A’s generation gets a MessageEnd to resume from on A', async () => {
    upstream.enqueue({ chunks: CHUNKS, holdAfter: 3 });
    [instanceA, instanceB] = await Promise.all([startInstance(), startInstance()]);
    const { assistantMessageId } = await startConversation(instanceA, 'hi', alice);
    const clientB = wsClient(instanceB, aliceWs);
    const { seen, onEvent } = textReaches('one two three ');
    const onB = collectWs(clientB, assistantMessageId, undefined, { onEvent });
    await seen;
    await instanceB.close();
    const cut = await onB;
    expect(cut.end?.message?.status).toBe('STREAMING');
    expect(cut.text).toBe('one two three ');
    const clientA = wsClient(instanceA, aliceWs);
    const resumed = collectWs(clientA, assistantMessageId, cut.end!.cursor);
    upstream.release();
    const rest = await resumed;
    await clientA.dispose();
    expect(cut.text + rest.text).toBe(CHUNKS.join(''));
    expect(rest.end?.message?.status).toBe('COMPLETED');
  });
});
