import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMemoryBackend } from '../../src/infra/backend/memory.js';
import type { Backend } from '../../src/infra/backend/types.js';
import { collectWs, startConversation, wsClient } from '../support/client.js';
import { startServer, type TestServer } from '../support/server.js';

describe('transports on one port', () => {
  let server: TestServer;
  let backendDown = false;

  beforeAll(async () => {
    const memory = createMemoryBackend({ streamLogTtlSeconds: 3600 });
    const backend: Backend = {
      ...memory,
      ping: async () => {
        if (backendDown) throw new Error('backend down');
      },
    };
    server = await startServer({ overrides: { backend } });
  });
  afterAll(async () => {
    await server.close();
  });

  const base = () => server.httpUrl.replace('/graphql', '');

  it('GET /graphql from a browser serves GraphiQL, wired for SSE subscriptions', async () => {
    const response = await fetch(server.httpUrl, { headers: { accept: 'text/html' } });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toContain('text/html');
    const page = await response.text();
    expect(page).toContain('GraphiQL');
    expect(page).toContain('"subscriptionsProtocol":"SSE"');
  });

  it('GET /graphql runs queries and refuses mutations', async () => {
    const query = encodeURIComponent('{ viewer { principal } }');
    const ok = await fetch(`${server.httpUrl}?query=${query}`, {
      headers: { accept: 'application/graphql-response+json' },
    });
    expect(ok.status).toBe(200);
    expect(await ok.json()).toEqual({
      data: { viewer: { principal: 'anonymous' } },
      extensions: { cost: expect.objectContaining({ requested: 1, actual: 1 }) },
    });
    const mutation = encodeURIComponent('mutation { createSession(input: {}) { id } }');
    const refused = await fetch(`${server.httpUrl}?query=${mutation}`, {
      headers: { accept: 'application/graphql-response+json' },
    });
    expect(refused.status).toBe(405);
  });

  it('GET /graphql with Accept: text/event-stream streams a subscription (the GraphiQL path)', async () => {
    const { assistantMessageId } = await startConversation(server);
    const query = encodeURIComponent(
      `subscription { messageStream(messageId: "${assistantMessageId}") { __typename ... on MessageEnd { message { status } } } }`,
    );
    const response = await fetch(`${server.httpUrl}?query=${query}`, {
      headers: { accept: 'text/event-stream' },
    });
    expect(response.headers.get('content-type')).toContain('text/event-stream');
    const body = await response.text();
    expect(body).toContain('"__typename":"MessageDelta"');
    expect(body).toContain('"status":"COMPLETED"');
    expect(body).toContain('event: complete');
  });

  it('graphql-ws runs queries and mutations as well as subscriptions', async () => {
    const client = wsClient(server);
    const result = await new Promise<unknown>((resolve, reject) => {
      let value: unknown;
      client.subscribe(
        { query: 'mutation { createSession(input: { title: "over ws" }) { title } }' },
        { next: (next) => (value = next), error: reject, complete: () => resolve(value) },
      );
    });
    const { assistantMessageId } = await startConversation(server);
    const stream = await collectWs(client, assistantMessageId);
    await client.dispose();
    expect(result).toEqual({
      data: { createSession: { title: 'over ws' } },
      extensions: { cost: expect.objectContaining({ requested: 11, actual: 11 }) },
    });
    expect(stream.end?.message?.status).toBe('COMPLETED');
  });

  it('/health is liveness: 200 even when the backend is down', async () => {
    backendDown = true;
    try {
      expect((await fetch(`${base()}/health`)).status).toBe(200);
    } finally {
      backendDown = false;
    }
  });

  it('/ready is 200 only while the backend answers', async () => {
    expect((await fetch(`${base()}/ready`)).status).toBe(200);
    backendDown = true;
    try {
      expect((await fetch(`${base()}/ready`)).status).toBe(503);
    } finally {
      backendDown = false;
    }
    expect((await fetch(`${base()}/ready`)).status).toBe(200);
  });

  it('other paths are 404', async () => {
    expect((await fetch(`${base()}/nope`)).status).toBe(404);
  });
});
