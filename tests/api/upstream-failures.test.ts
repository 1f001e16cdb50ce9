import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { collectWs, startConversation, wsClient } from '../support/client.js';
import { FakeOpenAI, type UpstreamScript } from '../support/fake-openai.js';
import { startServer, type TestServer } from '../support/server.js';

const CHUNKS = ['alpha ', 'beta ', 'gamma ', 'delta'];

/**
 * Each way an upstream fails still ends the stream with exactly one MessageEnd, FAILED, text
 * kept. One attempt and no breaker trips here: retries and breakers are resilience.test.ts.
 */
describe('upstream failures end the stream FAILED with one MessageEnd', () => {
  const upstream = new FakeOpenAI();
  let server: TestServer;

  beforeAll(async () => {
    await upstream.start();
    server = await startServer({
      env: {
        OPENAI_BASE_URL: upstream.baseURL,
        OPENAI_API_KEY: 'sk-test',
        LLM_MODEL: 'fake-model',
        LLM_FIRST_TOKEN_TIMEOUT_MS: '400',
        LLM_IDLE_TIMEOUT_MS: '400',
        LLM_RETRY_MAX_ATTEMPTS: '1',
        BREAKER_VOLUME_THRESHOLD: '1000',
        BREAKER_FAILURE_THRESHOLD: '1000',
      },
    });
  });
  afterEach(() => upstream.release());
  afterAll(async () => {
    await server.close();
    await upstream.close();
  });

  const run = async (script: UpstreamScript) => {
    upstream.enqueue(script);
    const index = upstream.requests.length;
    const { assistantMessageId } = await startConversation(server);
    const request = await upstream.request(index);
    const client = wsClient(server);
    const stream = await collectWs(client, assistantMessageId);
    await client.dispose();
    expect(stream.errors).toEqual([]);
    expect(stream.events.filter((event) => event.__typename === 'MessageEnd')).toHaveLength(1);
    expect(stream.end?.message?.status).toBe('FAILED');
    expect(stream.text).toBe(stream.end?.message?.content);
    return { stream, request, error: stream.end?.message?.error };
  };

  it('a 500 answer: UPSTREAM_ERROR, and the upstream body stays out of the message', async () => {
    const { error, stream } = await run({ status: 500 });
    expect(error?.code).toBe('UPSTREAM_ERROR');
    expect(error?.message).not.toContain('fake upstream error');
    expect(stream.text).toBe('');
  });

  it('a 429 answer: UPSTREAM_RATE_LIMITED', async () => {
    const { error } = await run({ status: 429, retryAfter: 1 });
    expect(error?.code).toBe('UPSTREAM_RATE_LIMITED');
  });

  it('a stream cut without finish_reason or [DONE]: UPSTREAM_INCOMPLETE, partial text kept', async () => {
    const { error, stream } = await run({ chunks: CHUNKS, truncate: true });
    expect(error?.code).toBe('UPSTREAM_INCOMPLETE');
    expect(stream.text).toBe(CHUNKS.join(''));
  });

  it('a stall after two tokens: UPSTREAM_TIMEOUT and the upstream connection is closed', async () => {
    const { error, stream, request } = await run({ chunks: CHUNKS, stallAfter: 2 });
    expect(error?.code).toBe('UPSTREAM_TIMEOUT');
    expect(stream.text).toBe('alpha beta ');
    await request.clientClosed;
  });

  it('a stall before the first token: UPSTREAM_TIMEOUT', async () => {
    const { error, stream, request } = await run({ chunks: CHUNKS, stallAfter: 0 });
    expect(error?.code).toBe('UPSTREAM_TIMEOUT');
    expect(stream.text).toBe('');
    await request.clientClosed;
  });

  it('a socket reset mid-stream: FAILED, keeping whatever arrived before it', async () => {
    // A reset may discard bytes the client had not read yet, so only a prefix is certain.
    const { error, stream } = await run({ chunks: CHUNKS, resetAfter: 2 });
    expect(error?.code).toMatch(/^UPSTREAM_/);
    expect('alpha beta '.startsWith(stream.text)).toBe(true);
  });

  it('a malformed chunk: UPSTREAM_BAD_RESPONSE with the text before it', async () => {
    const { error, stream } = await run({ chunks: CHUNKS, badChunkAfter: 1 });
    expect(error?.code).toBe('UPSTREAM_BAD_RESPONSE');
    expect(stream.text).toBe('alpha ');
  });
});
