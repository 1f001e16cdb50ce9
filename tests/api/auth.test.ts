import type { Client } from 'graphql-ws';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { codesOf, withTimeout } from '../support/assertions.js';
import { type GraphQLResponse, gql, sseClient, wsClient } from '../support/client.js';
import { startServer, type TestServer } from '../support/server.js';

const API_KEYS = 'alice:key-alice,bob:key-bob,ops:key-ops:admin';
const VIEWER = '{ viewer { principal scopes } }';

type Viewer = { viewer: { principal: string; scopes: string[] } };

/** Runs one operation over graphql-ws; rejects with what the client rejects with (CloseEvent or errors). */
function wsExecute<T>(client: Client, query: string): Promise<GraphQLResponse<T>> {
  return withTimeout(
    new Promise<GraphQLResponse<T>>((resolve, reject) => {
      let last: GraphQLResponse<T> | undefined;
      client.subscribe<T>(
        { query },
        {
          next: (result) => {
            last = result as unknown as GraphQLResponse<T>;
          },
          error: reject,
          complete: () => (last ? resolve(last) : reject(new Error('completed without a result'))),
        },
      );
    }),
    'a WebSocket result',
  );
}

/** The close code of the client's socket, once it closes. */
function closeCode(client: Client): Promise<number> {
  return withTimeout(
    new Promise<number>((resolve) => {
      client.on('closed', (event) => resolve((event as { code: number }).code));
    }),
    'the socket to close',
  );
}

describe('authentication with API keys', () => {
  let server: TestServer;
  const clients: Client[] = [];

  const openWs = (params?: Record<string, unknown>) => {
    const client = wsClient(server, params);
    clients.push(client);
    return client;
  };

  beforeAll(async () => {
    server = await startServer({ env: { API_KEYS } });
  });

  afterEach(async () => {
    await Promise.all(clients.splice(0).map((client) => client.dispose()));
  });

  afterAll(async () => {
    await server?.close();
  });

  describe('over HTTP', () => {
    it('identifies the caller by `Authorization: Bearer <api-key>`', async () => {
      const response = await gql<Viewer>(server, VIEWER, {}, { apiKey: 'key-alice' });

      expect(response.status).toBe(200);
      expect(response.errors).toBeUndefined();
      expect(response.data?.viewer).toEqual({ principal: 'alice', scopes: ['chat', 'rag'] });
    });

    it('identifies the caller by `x-api-key: <api-key>`', async () => {
      const response = await gql<Viewer>(
        server,
        VIEWER,
        {},
        { headers: { 'x-api-key': 'key-bob' } },
      );

      expect(response.status).toBe(200);
      expect(response.data?.viewer).toEqual({ principal: 'bob', scopes: ['chat', 'rag'] });
    });

    it('reports the scopes a key was given', async () => {
      const response = await gql<Viewer>(server, VIEWER, {}, { apiKey: 'key-ops' });

      expect(response.data?.viewer).toEqual({ principal: 'ops', scopes: ['admin'] });
    });

    it('answers a request without a key with HTTP 401 and UNAUTHENTICATED', async () => {
      const response = await gql<Viewer>(server, VIEWER);

      expect(response.status).toBe(401);
      expect(codesOf(response)).toEqual(['UNAUTHENTICATED']);
      expect(response.data ?? null).toBeNull();
    });

    it('answers a wrong key with HTTP 403 and FORBIDDEN', async () => {
      const response = await gql<Viewer>(server, VIEWER, {}, { apiKey: 'key-mallory' });

      expect(response.status).toBe(403);
      expect(codesOf(response)).toEqual(['FORBIDDEN']);
      expect(response.data ?? null).toBeNull();
    });

    it('answers a wrong `x-api-key` with HTTP 403 and FORBIDDEN', async () => {
      const response = await gql<Viewer>(
        server,
        VIEWER,
        {},
        { headers: { 'x-api-key': 'key-mallory' } },
      );

      expect(response.status).toBe(403);
      expect(codesOf(response)).toEqual(['FORBIDDEN']);
    });

    it('answers an Authorization header that is not "Bearer <key>" with HTTP 401', async () => {
      const response = await gql<Viewer>(
        server,
        VIEWER,
        {},
        {
          headers: { authorization: `Basic ${Buffer.from('alice:key-alice').toString('base64')}` },
        },
      );

      expect(response.status).toBe(401);
      expect(codesOf(response)).toEqual(['UNAUTHENTICATED']);
    });

    it('refuses createSession with FORBIDDEN to a key without the chat scope', async () => {
      const response = await gql<{ createSession: { id: string } | null }>(
        server,
        'mutation { createSession(input: {}) { id } }',
        {},
        { apiKey: 'key-ops' },
      );

      expect(codesOf(response)).toEqual(['FORBIDDEN']);
      expect(response.errors?.[0]?.path).toEqual(['createSession']);
      expect(response.data?.createSession ?? null).toBeNull();
    });

    it('refuses the sessions list with FORBIDDEN to a key without the chat scope', async () => {
      const response = await gql(
        server,
        '{ sessions { edges { node { id } } } }',
        {},
        {
          apiKey: 'key-ops',
        },
      );

      expect(codesOf(response)).toEqual(['FORBIDDEN']);
    });
  });

  describe('over WebSocket', () => {
    it('accepts `{ authorization: "Bearer <api-key>" }` in connection_init', async () => {
      const client = openWs({ authorization: 'Bearer key-alice' });

      const result = await wsExecute<Viewer>(client, VIEWER);

      expect(result.errors).toBeUndefined();
      expect(result.data?.viewer).toEqual({ principal: 'alice', scopes: ['chat', 'rag'] });
    });

    it('accepts `{ apiKey: "<api-key>" }` in connection_init', async () => {
      const client = openWs({ apiKey: 'key-bob' });

      const result = await wsExecute<Viewer>(client, VIEWER);

      expect(result.data?.viewer).toEqual({ principal: 'bob', scopes: ['chat', 'rag'] });
    });

    it('closes the socket with 4401 when connection_init carries no key', async () => {
      const client = openWs();
      const closed = closeCode(client);

      await expect(wsExecute(client, VIEWER)).rejects.toMatchObject({ code: 4401 });
      expect(await closed).toBe(4401);
    });

    it('closes the socket with 4403 when connection_init carries a wrong key', async () => {
      const client = openWs({ apiKey: 'key-mallory' });
      const closed = closeCode(client);

      await expect(wsExecute(client, VIEWER)).rejects.toMatchObject({ code: 4403 });
      expect(await closed).toBe(4403);
    });

    it('closes the socket with 4403 when the bearer key is wrong', async () => {
      const client = openWs({ authorization: 'Bearer key-mallory' });

      await expect(wsExecute(client, VIEWER)).rejects.toMatchObject({ code: 4403 });
    });

    it('refuses messageStream with FORBIDDEN to a key without the chat scope', async () => {
      const client = openWs({ apiKey: 'key-ops' });

      const result = await wsExecute(
        client,
        'subscription { messageStream(messageId: "msg_0") { __typename } }',
      );

      expect(codesOf(result)).toEqual(['FORBIDDEN']);
    });
  });

  describe('over SSE', () => {
    const SUBSCRIPTION = 'subscription { messageStream(messageId: "msg_0") { __typename } }';

    /** Runs the subscription with graphql-sse and returns what it rejected with. */
    async function sseFailure(apiKey?: string): Promise<unknown> {
      const client = sseClient(server, apiKey);
      try {
        const results: unknown[] = [];
        await withTimeout(
          (async () => {
            for await (const result of client.iterate({ query: SUBSCRIPTION }))
              results.push(result);
          })(),
          'the SSE request',
        );
        return new Error(`expected a failure, got ${JSON.stringify(results)}`);
      } catch (error) {
        return error;
      } finally {
        client.dispose();
      }
    }

    it('refuses a wrong key with HTTP 403', async () => {
      const error = await sseFailure('key-mallory');

      expect(error).toMatchObject({ name: 'NetworkError', response: { status: 403 } });
    });

    it('refuses a missing key with HTTP 401', async () => {
      const error = await sseFailure();

      expect(error).toMatchObject({ name: 'NetworkError', response: { status: 401 } });
    });
  });
});

describe('anonymous mode (no API_KEYS, not production)', () => {
  let server: TestServer;
  const clients: Client[] = [];

  beforeAll(async () => {
    server = await startServer({ env: { NODE_ENV: 'test' } });
  });

  afterEach(async () => {
    await Promise.all(clients.splice(0).map((client) => client.dispose()));
  });

  afterAll(async () => {
    await server?.close();
  });

  it('treats an HTTP caller without a key as the anonymous principal with chat and rag', async () => {
    const response = await gql<Viewer>(server, VIEWER);

    expect(response.status).toBe(200);
    expect(response.data?.viewer).toEqual({ principal: 'anonymous', scopes: ['chat', 'rag'] });
  });

  it('treats a WebSocket caller without a key as the anonymous principal', async () => {
    const client = wsClient(server);
    clients.push(client);

    const result = await wsExecute<Viewer>(client, VIEWER);

    expect(result.data?.viewer).toEqual({ principal: 'anonymous', scopes: ['chat', 'rag'] });
  });
});
