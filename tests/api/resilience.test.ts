import { countTokens } from 'gpt-tokenizer';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { collectWs, gql, gqlData, startConversation, wsClient } from '../support/client.js';
import { FakeOpenAI } from '../support/fake-openai.js';
import { freePort } from '../support/redis.js';
import { startServer, type TestServer } from '../support/server.js';
import { until } from '../support/wait.js';

const ADMIN = { apiKey: 'key-ops' };
const BREAKERS_QUERY = '{ admin { breakers { name state failures rejects } } }';

type Breakers = { admin: { breakers: { name: string; state: string; failures: number }[] } };

describe('resilient upstream calls', () => {
  const primary = new FakeOpenAI();
  const secondary = new FakeOpenAI();
  let server: TestServer | undefined;

  beforeAll(async () => {
    await Promise.all([primary.start(), secondary.start()]);
  });
  afterEach(async () => {
    primary.release();
    secondary.release();
    await server?.close();
    server = undefined;
  });
  afterAll(async () => {
    await Promise.all([primary.close(), secondary.close()]);
  });

  const start = async (env: Record<string, string> = {}) => {
    server = await startServer({
      env: {
        OPENAI_BASE_URL: primary.baseURL,
        OPENAI_API_KEY: 'sk-primary',
        LLM_MODEL: 'main-model',
        API_KEYS: 'ops:key-ops:chat+admin',
        LLM_RETRY_BASE_DELAY_MS: '20',
        LLM_RETRY_MAX_DELAY_MS: '50',
        BREAKER_VOLUME_THRESHOLD: '1000',
        ...env,
      },
    });
    return server;
  };

  /** Sends one message and reads its stream to the end; returns it with the upstream traffic. */
  const answer = async (s: TestServer) => {
    const before = { primary: primary.requests.length, secondary: secondary.requests.length };
    const { assistantMessageId } = await startConversation(s, 'question', ADMIN);
    const client = wsClient(s, { apiKey: 'key-ops' });
    const stream = await collectWs(client, assistantMessageId);
    await client.dispose();
    expect(stream.events.filter((event) => event.__typename === 'MessageEnd')).toHaveLength(1);
    return {
      stream,
      assistantMessageId,
      message: stream.end!.message!,
      primaryRequests: primary.requests.slice(before.primary),
      secondaryRequests: secondary.requests.slice(before.secondary),
    };
  };

  it('retries 500s before the first token, then answers', async () => {
    primary.enqueue({ status: 500 }, { status: 503 });
    const { message, primaryRequests } = await answer(await start());
    expect(message.status).toBe('COMPLETED');
    expect(message.content).toBe('Hello, world!');
    expect(primaryRequests).toHaveLength(3);
  });

  it('waits out Retry-After on a 429 before retrying', async () => {
    primary.enqueue({ status: 429, retryAfter: 1 });
    const { message, primaryRequests } = await answer(await start());
    expect(message.status).toBe('COMPLETED');
    expect(primaryRequests).toHaveLength(2);
    const waited = primaryRequests[1]!.receivedAt - primaryRequests[0]!.receivedAt;
    expect(waited).toBeGreaterThanOrEqual(950);
  });

  it('caps a long Retry-After', async () => {
    primary.enqueue({ status: 429, retryAfter: 120 });
    const { message, primaryRequests } = await answer(
      await start({ LLM_RETRY_AFTER_CAP_MS: '200' }),
    );
    expect(message.status).toBe('COMPLETED');
    const waited = primaryRequests[1]!.receivedAt - primaryRequests[0]!.receivedAt;
    expect(waited).toBeGreaterThanOrEqual(190);
    expect(waited).toBeLessThan(5_000);
  });

  it('does not retry a 400, and ends FAILED after one request', async () => {
    primary.enqueue({ status: 400 });
    const { message, primaryRequests } = await answer(await start());
    expect(message.status).toBe('FAILED');
    expect(message.error?.code).toBe('UPSTREAM_ERROR');
    expect(primaryRequests).toHaveLength(1);
  });

  it('retries a stall before the first token', async () => {
    primary.enqueue({ chunks: ['never'], stallAfter: 0 });
    const { message, primaryRequests } = await answer(
      await start({ LLM_FIRST_TOKEN_TIMEOUT_MS: '300' }),
    );
    expect(message.status).toBe('COMPLETED');
    expect(primaryRequests).toHaveLength(2);
    await primaryRequests[0]!.clientClosed;
  });

  it('never retries after the first token: a stall mid-stream ends FAILED with the text kept', async () => {
    primary.enqueue({ chunks: ['one ', 'two ', 'three'], stallAfter: 2 });
    const { message, primaryRequests } = await answer(await start({ LLM_IDLE_TIMEOUT_MS: '300' }));
    expect(message.status).toBe('FAILED');
    expect(message.error?.code).toBe('UPSTREAM_TIMEOUT');
    expect(message.content).toBe('one two ');
    expect(primaryRequests).toHaveLength(1);
  });

  it('ends an answer that runs past LLM_TOTAL_TIMEOUT_MS and closes the upstream connection', async () => {
    primary.enqueue({ chunks: Array.from({ length: 100 }, () => 'tick '), delayMs: 30 });
    const { message, primaryRequests } = await answer(
      await start({ LLM_TOTAL_TIMEOUT_MS: '1000' }),
    );
    expect(message.status).toBe('FAILED');
    expect(message.error?.code).toBe('UPSTREAM_TIMEOUT');
    expect(message.content.length).toBeGreaterThan(0);
    await primaryRequests[0]!.clientClosed;
  });

  it('falls back to the next model on the same endpoint and says who answered', async () => {
    primary.enqueue({ status: 404 });
    const { message, primaryRequests } = await answer(
      await start({ LLM_FALLBACK_MODELS: 'backup-model' }),
    );
    expect(message.status).toBe('COMPLETED');
    expect(message.model).toBe('backup-model');
    expect(primaryRequests.map((request) => request.body.model)).toEqual([
      'main-model',
      'backup-model',
    ]);
  });

  it('falls back to a second endpoint when the first refuses connections, with its own key', async () => {
    const closedPort = await freePort();
    const { message, secondaryRequests } = await answer(
      await start({
        OPENAI_BASE_URL: `http://127.0.0.1:${closedPort}/v1`,
        LLM_RETRY_MAX_ATTEMPTS: '2',
        LLM_PROVIDERS: JSON.stringify([
          {
            name: 'second',
            baseURL: secondary.baseURL,
            apiKeyEnv: 'SECOND_KEY',
            models: ['second-model'],
          },
        ]),
        SECOND_KEY: 'sk-second',
      }),
    );
    expect(message.status).toBe('COMPLETED');
    expect(message.model).toBe('second-model');
    expect(secondaryRequests).toHaveLength(1);
    expect(secondaryRequests[0]!.headers.authorization).toBe('Bearer sk-second');
  });

  it('an open breaker costs the upstream nothing, fails fast, and a half-open probe closes it', async () => {
    const s = await start({
      LLM_RETRY_MAX_ATTEMPTS: '1',
      BREAKER_VOLUME_THRESHOLD: '2',
      BREAKER_ERROR_THRESHOLD_PERCENTAGE: '50',
      BREAKER_RESET_TIMEOUT_MS: '800',
    });
    primary.enqueue({ status: 500 }, { status: 500 });
    expect((await answer(s)).message.status).toBe('FAILED');
    expect((await answer(s)).message.status).toBe('FAILED');
    const opened = await gqlData<Breakers>(s, BREAKERS_QUERY, {}, ADMIN);
    expect(opened.admin.breakers).toContainEqual(
      expect.objectContaining({ name: 'llm:primary:main-model', state: 'OPEN' }),
    );

    const requestsWhileOpen = primary.requests.length;
    const session = await gqlData<{ createSession: { id: string } }>(
      s,
      'mutation { createSession(input: {}) { id } }',
      {},
      ADMIN,
    );
    const refused = await gql(
      s,
      'mutation($input: SendMessageInput!) { sendMessage(input: $input) { assistantMessage { id } } }',
      { input: { sessionId: session.createSession.id, content: 'anyone?' } },
      ADMIN,
    );
    expect(refused.errors?.[0]?.extensions?.code).toBe('UPSTREAM_UNAVAILABLE');
    expect(primary.requests.length).toBe(requestsWhileOpen);
    const health = await gqlData<{ health: { checks: { name: string; status: string }[] } }>(
      s,
      '{ health { checks { name status } } }',
      {},
      ADMIN,
    );
    expect(health.health.checks).toContainEqual({ name: 'llm', status: 'DOWN' });

    await until(
      async () =>
        (await gqlData<Breakers>(s, BREAKERS_QUERY, {}, ADMIN)).admin.breakers.some(
          (breaker) => breaker.name === 'llm:primary:main-model' && breaker.state === 'HALF_OPEN',
        ),
      { timeoutMs: 5_000, intervalMs: 50, what: 'the breaker to go half-open' },
    );
    const probe = await answer(s);
    expect(probe.message.status).toBe('COMPLETED');
    expect(probe.primaryRequests).toHaveLength(1);
    const closed = await gqlData<Breakers>(s, BREAKERS_QUERY, {}, ADMIN);
    expect(closed.admin.breakers).toContainEqual(
      expect.objectContaining({ name: 'llm:primary:main-model', state: 'CLOSED' }),
    );
  });

  it('resetBreaker closes an open breaker, and needs the admin scope', async () => {
    const s = await start({
      LLM_RETRY_MAX_ATTEMPTS: '1',
      BREAKER_VOLUME_THRESHOLD: '1',
      API_KEYS: 'ops:key-ops:chat+admin,alice:key-alice',
    });
    primary.enqueue({ status: 500 });
    expect((await answer(s)).message.status).toBe('FAILED');
    const reset = 'mutation { resetBreaker(name: "llm:primary:main-model") { state } }';
    const forbidden = await gql(s, reset, {}, { apiKey: 'key-alice' });
    expect(forbidden.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    const done = await gqlData<{ resetBreaker: { state: string } }>(s, reset, {}, ADMIN);
    expect(done.resetBreaker.state).toBe('CLOSED');
    expect((await answer(s)).message.status).toBe('COMPLETED');
    const unknown = await gql(s, 'mutation { resetBreaker(name: "nope") { state } }', {}, ADMIN);
    expect(unknown.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
  });

  it('cancelling during a retry wait ends the answer at once, with no further request', async () => {
    primary.enqueue({ status: 429, retryAfter: 60 });
    const s = await start({ LLM_RETRY_AFTER_CAP_MS: '60000', LLM_RETRY_DEADLINE_MS: '120000' });
    const before = primary.requests.length;
    const { assistantMessageId } = await startConversation(s, 'question', ADMIN);
    await primary.request(before);
    const started = Date.now();
    const cancelled = await gqlData<{ cancelMessage: { status: string } }>(
      s,
      'mutation($id: ID!) { cancelMessage(id: $id) { status } }',
      { id: assistantMessageId },
      ADMIN,
    );
    expect(cancelled.cancelMessage.status).toBe('CANCELLED');
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(primary.requests.length).toBe(before + 1);
  });

  it('counts usage with a tokenizer when the upstream reports none', async () => {
    primary.enqueue({ chunks: ['Counting ', 'tokens ', 'locally.'], usage: null });
    const { message } = await answer(await start());
    expect(message.usage?.completionTokens).toBe(countTokens('Counting tokens locally.'));
    expect(message.usage?.promptTokens).toBeGreaterThan(0);
  });

  it('reports the usage the upstream sent when it sends one', async () => {
    primary.enqueue({ chunks: ['ok'], usage: { prompt_tokens: 42, completion_tokens: 7 } });
    const { message } = await answer(await start());
    expect(message.usage).toEqual({ promptTokens: 42, completionTokens: 7 });
  });
});
