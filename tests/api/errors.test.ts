import type { Client } from 'graphql-ws';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createMemoryBackend } from '../../src/infra/backend/memory.js';
import type { Backend, Store } from '../../src/infra/backend/types.js';
import { codesOf, withTimeout } from '../support/assertions.js';
import {
  collectSse,
  collectWs,
  type GraphQLErrorShape,
  gql,
  gqlData,
  type StreamEventResult,
  startConversation,
  wsClient,
} from '../support/client.js';
import { startServer, type TestServer } from '../support/server.js';

const MAX_MESSAGE_CHARS = 50;

const CREATE =
  'mutation ($input: CreateSessionInput!) { createSession(input: $input) { id persona { id } } }';
const SEND = /* GraphQL */ `
  mutation ($input: SendMessageInput!) {
    sendMessage(input: $input) { userMessage { id } assistantMessage { id status } }
  }
`;
const MESSAGES = /* GraphQL */ `
  query ($id: ID!) {
    session(id: $id) { messages { edges { node { id role content status } } } }
  }
`;

type MessagesData = {
  session: {
    messages: { edges: { node: { id: string; role: string; content: string; status: string } }[] };
  };
};

/**
 * Runs one operation over graphql-ws and returns the errors it was answered with: an `error`
 * message (rejects the sink with the errors) or a result carrying errors.
 */
function wsErrors(client: Client, query: string): Promise<GraphQLErrorShape[]> {
  return withTimeout(
    new Promise<GraphQLErrorShape[]>((resolve, reject) => {
      const errors: GraphQLErrorShape[] = [];
      client.subscribe(
        { query },
        {
          next: (result) => errors.push(...((result.errors ?? []) as GraphQLErrorShape[])),
          error: (error) =>
            Array.isArray(error)
              ? resolve(error as GraphQLErrorShape[])
              : reject(new Error(`socket failed: ${JSON.stringify(error)}`)),
          complete: () => resolve(errors),
        },
      );
    }),
    'the WebSocket answer',
  );
}

async function createSession(server: TestServer, input: Record<string, unknown> = {}) {
  const data = await gqlData<{ createSession: { id: string } }>(server, CREATE, { input });
  return data.createSession.id;
}

async function messagesOf(server: TestServer, sessionId: string) {
  const data = await gqlData<MessagesData>(server, MESSAGES, { id: sessionId });
  return data.session.messages.edges.map((edge) => edge.node);
}

describe('request errors', () => {
  let server: TestServer;
  const clients: Client[] = [];

  const openWs = () => {
    const client = wsClient(server);
    clients.push(client);
    return client;
  };

  beforeAll(async () => {
    server = await startServer({ env: { MAX_MESSAGE_CHARS: String(MAX_MESSAGE_CHARS) } });
  });

  afterEach(async () => {
    await Promise.all(clients.splice(0).map((client) => client.dispose()));
  });

  afterAll(async () => {
    await server?.close();
  });

  describe('unknown ids are NOT_FOUND', () => {
    it.each([
      ['session(id)', '{ session(id: "ses_0000") { id } }'],
      ['node(id) with a session id', '{ node(id: "ses_0000") { id } }'],
      ['node(id) with a message id', '{ node(id: "msg_0000") { id } }'],
      ['node(id) with an id of no known type', '{ node(id: "nothing-like-an-id") { id } }'],
      [
        'sendMessage',
        'mutation { sendMessage(input: { sessionId: "ses_0000", content: "hi" }) { userMessage { id } } }',
      ],
      ['cancelMessage', 'mutation { cancelMessage(id: "msg_0000") { id } }'],
      ['deleteSession', 'mutation { deleteSession(id: "ses_0000") }'],
    ])('%s', async (_name, query) => {
      const response = await gql(server, query);

      expect(response.status).toBe(200);
      expect(codesOf(response)).toEqual(['NOT_FOUND']);
    });

    it('messageStream over WebSocket', async () => {
      const stream = await collectWs(openWs(), 'msg_0000');

      expect(stream.events).toEqual([]);
      expect(codesOf(stream)).toEqual(['NOT_FOUND']);
    });

    it('messageStream over SSE', async () => {
      const stream = await collectSse(server, 'msg_0000');

      expect(stream.events).toEqual([]);
      expect(codesOf(stream)).toEqual(['NOT_FOUND']);
    });
  });

  describe('message content', () => {
    it.each([
      ['empty', ''],
      ['whitespace only', ' \n\t  '],
    ])('refuses %s content with BAD_USER_INPUT and stores nothing', async (_name, content) => {
      const sessionId = await createSession(server);

      const response = await gql(server, SEND, { input: { sessionId, content } });

      expect(codesOf(response)).toEqual(['BAD_USER_INPUT']);
      expect(await messagesOf(server, sessionId)).toEqual([]);
    });

    it('refuses content over MAX_MESSAGE_CHARS with BAD_USER_INPUT and stores nothing', async () => {
      const sessionId = await createSession(server);

      const response = await gql(server, SEND, {
        input: { sessionId, content: 'x'.repeat(MAX_MESSAGE_CHARS + 1) },
      });

      expect(codesOf(response)).toEqual(['BAD_USER_INPUT']);
      expect(response.errors?.[0]?.extensions).toMatchObject({ field: 'content' });
      expect(await messagesOf(server, sessionId)).toEqual([]);
    });

    it('accepts content of exactly MAX_MESSAGE_CHARS', async () => {
      const sessionId = await createSession(server);
      const content = 'y'.repeat(MAX_MESSAGE_CHARS);

      const response = await gql(server, SEND, { input: { sessionId, content } });

      expect(response.errors).toBeUndefined();
      const messages = await messagesOf(server, sessionId);
      expect(messages[0]).toMatchObject({ role: 'USER', content });
    });
  });

  it('refuses an unknown persona with BAD_USER_INPUT', async () => {
    const response = await gql(server, CREATE, { input: { persona: 'pirate' } });

    expect(codesOf(response)).toEqual(['BAD_USER_INPUT']);
    expect(response.errors?.[0]?.extensions).toMatchObject({ field: 'persona' });
  });

  describe('pagination', () => {
    let sessionId: string;

    beforeAll(async () => {
      sessionId = await createSession(server);
    });

    it.each([
      ['sessions(first: 101)', '{ sessions(first: 101) { edges { node { id } } } }'],
      [
        'messages(first: 101)',
        'query ($id: ID!) { session(id: $id) { messages(first: 101) { edges { node { id } } } } }',
      ],
      [
        'messages(last: 101)',
        'query ($id: ID!) { session(id: $id) { messages(last: 101) { edges { node { id } } } } }',
      ],
      [
        'sessions(after: <not a cursor>)',
        '{ sessions(after: "not-a-cursor") { edges { node { id } } } }',
      ],
      [
        'messages(after: <not a cursor>)',
        'query ($id: ID!) { session(id: $id) { messages(after: "not-a-cursor") { edges { node { id } } } } }',
      ],
    ])('refuses %s with BAD_USER_INPUT', async (_name, query) => {
      const response = await gql(server, query, query.includes('$id') ? { id: sessionId } : {});

      expect(codesOf(response)).toEqual(['BAD_USER_INPUT']);
    });

    it('accepts first: 100', async () => {
      const response = await gql(server, '{ sessions(first: 100) { edges { node { id } } } }');

      expect(response.errors).toBeUndefined();
    });
  });

  describe('messageStream(after:) that is not a cursor', () => {
    it('is BAD_USER_INPUT over WebSocket', async () => {
      const { assistantMessageId } = await startConversation(server);

      const stream = await collectWs(openWs(), assistantMessageId, 'abc');

      expect(stream.events).toEqual([]);
      expect(codesOf(stream)).toEqual(['BAD_USER_INPUT']);
    });

    it('is BAD_USER_INPUT over SSE', async () => {
      const { assistantMessageId } = await startConversation(server);

      const stream = await collectSse(server, assistantMessageId, 'abc');

      expect(stream.events).toEqual([]);
      expect(codesOf(stream)).toEqual(['BAD_USER_INPUT']);
    });
  });

  describe('documents that do not parse or validate', () => {
    it('answers a parse error over HTTP with 400 and BAD_USER_INPUT', async () => {
      const response = await gql(server, '{ viewer { principal ');

      expect(response.status).toBe(400);
      expect(codesOf(response)).toEqual(['BAD_USER_INPUT']);
    });

    it('answers an unknown field over HTTP with 400 and BAD_USER_INPUT', async () => {
      const response = await gql(server, '{ viewer { principal favouriteColour } }');

      expect(response.status).toBe(400);
      expect(codesOf(response)).toEqual(['BAD_USER_INPUT']);
    });

    it('answers variables of the wrong type over HTTP with 400 and BAD_USER_INPUT', async () => {
      const response = await gql(server, 'query ($id: ID!) { session(id: $id) { id } }', {
        id: { not: 'an id' },
      });

      expect(response.status).toBe(400);
      expect(codesOf(response)).toEqual(['BAD_USER_INPUT']);
      expect(response.errors?.[0]?.message).toContain('$id');
    });

    it('answers an unknown field over WebSocket with BAD_USER_INPUT, not by closing the socket', async () => {
      const client = openWs();
      const closeCodes: number[] = [];
      client.on('closed', (event) => closeCodes.push((event as { code: number }).code));

      const errors = await wsErrors(client, '{ viewer { principal favouriteColour } }');
      const after = await wsErrors(client, '{ viewer { principal } }');

      expect(codesOf({ errors })).toEqual(['BAD_USER_INPUT']);
      expect(after).toEqual([]);
      // The lazy client may close normally (1000) between operations; never the server with 4xxx.
      expect(closeCodes.filter((code) => code !== 1000)).toEqual([]);
    });
  });

  describe('malformed HTTP requests carry a contract code and a 4xx status', () => {
    const JSON_HEADERS = {
      'content-type': 'application/json',
      accept: 'application/graphql-response+json',
    };

    it.each([
      ['a body that is not JSON', { method: 'POST', headers: JSON_HEADERS, body: '{"query": ' }],
      ['a body without a query', { method: 'POST', headers: JSON_HEADERS, body: '{}' }],
      [
        'an operationName the document does not define',
        {
          method: 'POST',
          headers: JSON_HEADERS,
          body: JSON.stringify({ query: 'query A { viewer { principal } }', operationName: 'B' }),
        },
      ],
      [
        'a document with two anonymous operations',
        {
          method: 'POST',
          headers: JSON_HEADERS,
          body: JSON.stringify({ query: '{ viewer { principal } } { health { status } }' }),
        },
      ],
    ] as [string, RequestInit][])('%s', async (_name, init) => {
      const response = await fetch(server.httpUrl, init);

      expect(response.status).toBeGreaterThanOrEqual(400);
      expect(response.status).toBeLessThan(500);
      expect(codesOf((await response.json()) as { errors?: GraphQLErrorShape[] })).toEqual([
        'BAD_USER_INPUT',
      ]);
    });

    it('a mutation sent with GET is refused and not executed', async () => {
      const title = 'created-by-get';
      const query = `mutation { createSession(input: { title: "${title}" }) { id } }`;

      const response = await fetch(`${server.httpUrl}?query=${encodeURIComponent(query)}`, {
        headers: { accept: 'application/graphql-response+json' },
      });

      expect(response.status).toBe(405);
      expect(codesOf((await response.json()) as { errors?: GraphQLErrorShape[] })).toEqual([
        'BAD_USER_INPUT',
      ]);
      const list = await gqlData<{ sessions: { edges: { node: { title: string | null } }[] } }>(
        server,
        '{ sessions(first: 100) { edges { node { title } } } }',
      );
      expect(list.sessions.edges.map((edge) => edge.node.title)).not.toContain(title);
    });
  });

  describe('POST bodies other than JSON (CSRF "simple requests")', () => {
    it.each([
      [
        'application/x-www-form-urlencoded',
        (query: string) => new URLSearchParams({ query }).toString(),
      ],
      ['text/plain', (query: string) => JSON.stringify({ query })],
      [
        'multipart/form-data; boundary=xyz',
        (query: string) =>
          `--xyz\r\nContent-Disposition: form-data; name="query"\r\n\r\n${query}\r\n--xyz--\r\n`,
      ],
    ])('refuses %s with 415 and does not execute it', async (contentType, bodyOf) => {
      const title = `csrf-${contentType.split(';')[0]}`;
      const query = `mutation { createSession(input: { title: "${title}" }) { id } }`;

      const response = await fetch(server.httpUrl, {
        method: 'POST',
        headers: { 'content-type': contentType },
        body: bodyOf(query),
      });

      expect(response.status).toBe(415);
      expect(codesOf((await response.json()) as { errors?: GraphQLErrorShape[] })).toEqual([
        'BAD_USER_INPUT',
      ]);
      const list = await gqlData<{ sessions: { edges: { node: { title: string | null } }[] } }>(
        server,
        '{ sessions(first: 100) { edges { node { title } } } }',
      );
      expect(list.sessions.edges.map((edge) => edge.node.title)).not.toContain(title);
    });
  });
});

describe('while an answer streams (slow responder)', () => {
  let server: TestServer;
  const clients: Client[] = [];

  const openWs = () => {
    const client = wsClient(server);
    clients.push(client);
    return client;
  };

  beforeAll(async () => {
    server = await startServer({ env: { LOCAL_LLM_TOKEN_DELAY_MS: '50' } });
  });

  afterEach(async () => {
    await Promise.all(clients.splice(0).map((client) => client.dispose()));
  });

  afterAll(async () => {
    await server?.close();
  });

  it('refuses sendMessage with BAD_USER_INPUT (reason SESSION_BUSY) and does not store it', async () => {
    const { sessionId, userMessageId, assistantMessageId } = await startConversation(
      server,
      'first question',
    );

    const second = await gql(server, SEND, { input: { sessionId, content: 'second question' } });

    expect(codesOf(second)).toEqual(['BAD_USER_INPUT']);
    expect(second.errors?.[0]?.extensions).toMatchObject({
      reason: 'SESSION_BUSY',
      messageId: assistantMessageId,
    });
    const stream = await collectWs(openWs(), assistantMessageId);
    expect(stream.end?.message?.status).toBe('COMPLETED');
    const messages = await messagesOf(server, sessionId);
    expect(messages.map((message) => message.id)).toEqual([userMessageId, assistantMessageId]);
    expect(messages.map((message) => message.content)).not.toContain('second question');
  });

  it('accepts the next message once the answer has ended', async () => {
    const { sessionId, assistantMessageId } = await startConversation(server, 'first question');
    await collectWs(openWs(), assistantMessageId);

    const next = await gql(server, SEND, { input: { sessionId, content: 'second question' } });

    expect(next.errors).toBeUndefined();
  });

  it('answers a WebSocket subscribe that does not parse with an error for that operation only', async () => {
    const client = openWs();
    let closed = false;
    client.on('closed', () => {
      closed = true;
    });
    const { assistantMessageId } = await startConversation(server, 'keep streaming please');
    const events: StreamEventResult[] = [];
    let firstEvent!: () => void;
    const started = new Promise<void>((resolve) => {
      firstEvent = resolve;
    });
    const streaming = collectWs(client, assistantMessageId, undefined, {
      onEvent: (event) => {
        events.push(event);
        firstEvent();
      },
    });
    await withTimeout(started, 'the first delta');

    const errors = await wsErrors(
      client,
      'subscription { messageStream(messageId: "msg_00000000000000000000000000000000") {',
    );
    const eventsWhenRefused = events.length;
    const stream = await streaming;

    expect(codesOf({ errors })).toEqual(['BAD_USER_INPUT']);
    expect(closed).toBe(false);
    expect(stream.errors).toEqual([]);
    expect(stream.events.length).toBeGreaterThan(eventsWhenRefused);
    expect(eventsWhenRefused).toBeGreaterThan(0);
    expect(stream.end?.message?.status).toBe('COMPLETED');
    expect(stream.text).toBe(stream.end?.message?.content);
  });
});

describe('internal errors', () => {
  const SECRET = 'secret-redis-password';
  let server: TestServer;
  let client: Client | undefined;
  const failNext = new Map<keyof Store, number>();

  /** A real memory backend whose store throws a plain Error for the next call of a method. */
  function faultyBackend(): Backend {
    const real = createMemoryBackend({ streamLogTtlSeconds: 3600 });
    const store = new Proxy(real.store, {
      get(target, property, receiver) {
        const value = Reflect.get(target, property, receiver);
        if (typeof value !== 'function') return value;
        return (...args: unknown[]) => {
          const remaining = failNext.get(property as keyof Store) ?? 0;
          if (remaining > 0) {
            failNext.set(property as keyof Store, remaining - 1);
            return Promise.reject(new Error(`connect ECONNREFUSED redis://:${SECRET}@10.0.0.7`));
          }
          return value.apply(target, args);
        };
      },
    });
    return { ...real, store };
  }

  /** The masked error, checked for what must never leave the server. */
  function expectMasked(raw: string, errors: readonly GraphQLErrorShape[] | undefined) {
    expect(raw).not.toContain(SECRET);
    expect(raw).not.toContain('ECONNREFUSED');
    expect(raw).not.toMatch(/\bat .+:\d+:\d+/); // a stack frame
    expect(raw).not.toContain('stack');
    expect(errors).toHaveLength(1);
    expect(codesOf({ errors })).toEqual(['INTERNAL_SERVER_ERROR']);
    expect(errors?.[0]?.extensions?.errorId).toEqual(expect.any(String));
  }

  beforeAll(async () => {
    server = await startServer({ overrides: { backend: faultyBackend() } });
  });

  afterEach(async () => {
    failNext.clear();
    await client?.dispose();
    client = undefined;
  });

  afterAll(async () => {
    await server?.close();
  });

  it('is masked over HTTP: INTERNAL_SERVER_ERROR with an errorId, no secret, no stack', async () => {
    const sessionId = await createSession(server);
    failNext.set('getSessions', 1);

    const response = await fetch(server.httpUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json' },
      body: JSON.stringify({
        query: 'query ($id: ID!) { session(id: $id) { id } }',
        variables: { id: sessionId },
      }),
    });
    const raw = await response.text();

    expectMasked(raw, (JSON.parse(raw) as { errors?: GraphQLErrorShape[] }).errors);
  });

  it('leaves the next request unaffected', async () => {
    const sessionId = await createSession(server);
    failNext.set('getSessions', 1);
    await gql(server, 'query ($id: ID!) { session(id: $id) { id } }', { id: sessionId });

    const again = await gql<{ session: { id: string } }>(
      server,
      'query ($id: ID!) { session(id: $id) { id } }',
      { id: sessionId },
    );

    expect(again.errors).toBeUndefined();
    expect(again.data?.session.id).toBe(sessionId);
  });

  it('is masked over WebSocket', async () => {
    client = wsClient(server);
    failNext.set('getMessages', 1);

    const errors = await wsErrors(
      client,
      'subscription { messageStream(messageId: "msg_00000000000000000000000000000000") { __typename } }',
    );

    expectMasked(JSON.stringify(errors), errors);
  });

  it('is masked over SSE', async () => {
    failNext.set('getMessages', 1);

    const stream = await collectSse(server, 'msg_00000000000000000000000000000000');

    expect(stream.events).toEqual([]);
    expectMasked(JSON.stringify(stream.errors), stream.errors);
  });
});
