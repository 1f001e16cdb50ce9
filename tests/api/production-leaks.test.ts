import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/infra/logger.js';
import { codesOf, wsExecute } from '../support/assertions.js';
import {
  collectSse,
  collectWs,
  gql,
  gqlData,
  startConversation,
  wsClient,
} from '../support/client.js';
import { FakeOpenAI } from '../support/fake-openai.js';
import { startServer, type TestServer } from '../support/server.js';

const USER_KEY = 'key-user-4b1d';
const ADMIN_KEY = 'key-ops-9c2e';
const user = { apiKey: USER_KEY };
const INTROSPECTION = '{ __schema { types { name } } }';

/**
 * One production server, met the way an attacker and an operator would, case after case: what
 * it shows, answers and logs must never carry introspection, upstream bodies, endpoints, parser
 * excerpts or whole inputs, and every log line of a request carries its id and its real code.
 */
describe('a production server leaks nothing', () => {
  const upstream = new FakeOpenAI();
  const raw: string[] = [];
  const lines: Record<string, unknown>[] = [];
  let server: TestServer;
  let upstreamHost: string;

  beforeAll(async () => {
    await upstream.start();
    upstreamHost = new URL(upstream.baseURL).host;
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        for (const line of chunk.toString().split('\n').filter(Boolean)) {
          raw.push(line);
          lines.push(JSON.parse(line) as Record<string, unknown>);
        }
        done();
      },
    });
    server = await startServer({
      env: {
        NODE_ENV: 'production',
        API_KEYS: `user:${USER_KEY}:chat+rag,ops:${ADMIN_KEY}:chat+rag+admin`,
        OPENAI_BASE_URL: upstream.baseURL,
        OPENAI_API_KEY: 'sk-upstream-secret',
        LLM_MODEL: 'secret-model-name',
        LLM_RETRY_MAX_ATTEMPTS: '1',
        BREAKER_FAILURE_THRESHOLD: '1',
      },
      overrides: { log: createLogger('info', sink) },
    });
  });

  afterAll(async () => {
    await server?.close();
    await upstream.close();
  });

  it('refuses introspection over HTTP, SSE and graphql-ws alike, and the socket stays open', async () => {
    const http = await gql(server, INTROSPECTION, {}, user);
    expect(http.status).toBe(400);
    expect(new Set(codesOf(http))).toEqual(new Set(['BAD_USER_INPUT']));
    expect(http.data ?? null).toBeNull();

    const sse = await collectSse(server, 'msg_0', undefined, { apiKey: USER_KEY });
    expect(codesOf(sse.errors)).toEqual(['NOT_FOUND']);

    const client = wsClient(server, { authorization: `Bearer ${USER_KEY}` });
    try {
      const ws = await wsExecute<{ __schema: unknown }>(client, INTROSPECTION);
      expect(new Set(codesOf(ws))).toEqual(new Set(['BAD_USER_INPUT']));
      expect(ws.data ?? null).toBeNull();
      const after = await wsExecute<{ viewer: { principal: string } }>(
        client,
        '{ viewer { principal } }',
      );
      expect(after.data?.viewer.principal).toBe('user');
    } finally {
      await client.dispose();
    }
  });

  it('logs an upstream error by status and code, never its body', async () => {
    upstream.enqueue({ status: 500 });
    const { assistantMessageId } = await startConversation(server, 'hello', user);
    const client = wsClient(server, { authorization: `Bearer ${USER_KEY}` });
    const stream = await collectWs(client, assistantMessageId);
    await client.dispose();

    expect(stream.end?.message?.status).toBe('FAILED');
    const failure = lines.find((line) => line.msg === 'generation failed');
    expect(failure).toMatchObject({ code: 'UPSTREAM_ERROR' });
    expect(JSON.stringify(failure)).toContain('"status":500');
    for (const line of raw) expect(line).not.toContain('fake upstream error');
  });

  it('logs a refusal with the code the client got, under its request id', async () => {
    // The one failed answer above opened the only model's breaker (threshold 1 here).
    const created = await gqlData<{ createSession: { id: string } }>(
      server,
      'mutation { createSession(input: {}) { id } }',
      {},
      user,
    );
    const refused = await gql(
      server,
      'mutation Ask($input: SendMessageInput!) { sendMessage(input: $input) { userMessage { id } } }',
      { input: { sessionId: created.createSession.id, content: 'again' } },
      { ...user, headers: { 'x-request-id': 'req-refused-1' } },
    );

    expect(codesOf(refused)).toEqual(['UPSTREAM_UNAVAILABLE']);
    const logged = lines.find(
      (line) => line.msg === 'operation' && line.requestId === 'req-refused-1',
    );
    expect(logged).toMatchObject({ operationName: 'Ask', errorCodes: ['UPSTREAM_UNAVAILABLE'] });
  });

  it('shows health details (endpoints, models, breakers) to admin keys only', async () => {
    const query = '{ health { status checks { name status detail } } }';
    const forUser = await gql<{ health: { checks: { name: string; detail: string | null }[] } }>(
      server,
      query,
      {},
      user,
    );
    const text = JSON.stringify(forUser);
    expect(text).not.toContain(upstreamHost);
    expect(text).not.toContain('secret-model-name');
    expect(forUser.data?.health.checks.map((check) => check.name)).toEqual(['backend', 'llm']);
    expect(forUser.data?.health.checks.every((check) => check.detail === null)).toBe(true);

    const forAdmin = await gql(server, query, {}, { apiKey: ADMIN_KEY });
    expect(JSON.stringify(forAdmin)).toContain('secret-model-name');
    expect(JSON.stringify(forAdmin)).toContain('breaker:');
  });

  it('answers a malformed JSON body without the parser message or any excerpt of the body', async () => {
    const body = '{"query": "{ viewer { principal } }", "sneaky-marker-31": oops';
    const response = await fetch(server.httpUrl, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'application/graphql-response+json',
        authorization: `Bearer ${USER_KEY}`,
      },
      body,
    });
    const text = await response.text();

    expect(response.status).toBe(400);
    expect(codesOf(JSON.parse(text) as { errors: [] })).toEqual(['BAD_USER_INPUT']);
    expect(text).not.toContain('originalError');
    expect(text).not.toContain('sneaky-marker-31');
    expect(text).not.toContain('position');
  });

  it('never echoes a whole input: a 512 KB id (under the body limit) gets a short NOT_FOUND', async () => {
    const hugeId = `ses_${'a'.repeat(512 * 1024)}`;
    const response = await gql(
      server,
      'query ($id: ID!) { session(id: $id) { id } }',
      { id: hugeId },
      user,
    );

    expect(codesOf(response)).toEqual(['NOT_FOUND']);
    expect(JSON.stringify(response.errors).length).toBeLessThan(400);
  });

  it('logs an unexpected error with the request id of the request it hit', async () => {
    const created = await gqlData<{ createSession: { id: string } }>(
      server,
      'mutation { createSession(input: {}) { id } }',
      {},
      user,
    );
    const backend = server.app.backend;
    const original = backend.store.getSessions.bind(backend.store);
    backend.store.getSessions = async () => {
      backend.store.getSessions = original;
      throw new Error('disk on fire');
    };
    const response = await gql(
      server,
      'query ($id: ID!) { session(id: $id) { id } }',
      { id: created.createSession.id },
      { ...user, headers: { 'x-request-id': 'req-unexpected-1' } },
    );

    expect(codesOf(response)).toEqual(['INTERNAL_SERVER_ERROR']);
    const logged = lines.find((line) => line.msg === 'unexpected error');
    expect(logged).toMatchObject({ requestId: 'req-unexpected-1', principal: 'user' });
    expect(JSON.stringify(response)).not.toContain('disk on fire');
  });
});
