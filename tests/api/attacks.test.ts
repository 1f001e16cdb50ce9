import { connect, type Socket } from 'node:net';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { type Client, createClient } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { codesOf, withTimeout, wsExecute } from '../support/assertions.js';
import { type GraphQLErrorShape, gql, gqlData, startConversation } from '../support/client.js';
import { startServer, type TestServer } from '../support/server.js';

const API_KEY = 'key-attacker-7f3a';
const AUTH = { authorization: `Bearer ${API_KEY}` };
/** Every refusal is answered within this (they take a few ms; the machine is shared and slow). */
const REFUSAL_MS = 2_000;
/** What the attacks may add to the process's resident memory, server and test together. */
const RSS_BOUND_BYTES = 200 * 1024 * 1024;
/** What may stay on the heap once collected: the server keeps nothing of a refused attack. */
const RETAINED_BOUND_BYTES = 48 * 1024 * 1024;

setFlagsFromString('--expose-gc');
const collectGarbage = runInNewContext('gc') as () => void;

/** The server runs in this process: its memory once what died has been collected. */
async function settledMemory() {
  // Sockets and bodies let go of their buffers a turn after they end (finalizers): collect twice.
  for (let round = 0; round < 3; round++) {
    collectGarbage();
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  const usage = process.memoryUsage();
  return { rss: usage.rss, heap: usage.heapUsed + usage.external };
}

interface Answer {
  status: number;
  /** Answered as an SSE event stream. */
  stream: boolean;
  errors: GraphQLErrorShape[];
  text: string;
  ms: number;
}

/** POSTs a raw body to /graphql and reads the JSON (or SSE) answer, however it is shaped. */
async function post(
  server: TestServer,
  body: string,
  headers: Record<string, string> = {},
): Promise<Answer> {
  const started = performance.now();
  const response = await fetch(server.httpUrl, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/graphql-response+json',
      ...AUTH,
      ...headers,
    },
    body,
  });
  const text = await response.text();
  const ms = performance.now() - started;
  const isStream = response.headers.get('content-type')?.includes('text/event-stream') ?? false;
  const results = isStream
    ? text
        .split('\n')
        .filter((line) => line.startsWith('data: '))
        .map((line) => JSON.parse(line.slice(6)) as { errors?: GraphQLErrorShape[] })
    : [JSON.parse(text) as { errors?: GraphQLErrorShape[] }];
  const errors = results.flatMap((result) => result.errors ?? []);
  return { status: response.status, stream: isStream, errors, text, ms };
}

const operation = (query: string, variables: Record<string, unknown> = {}) =>
  JSON.stringify({ query, variables });

/** `session → messages → node → session` repeated: `levels` levels of fields. */
function deepQuery(levels: number): string {
  let selection = 'id';
  for (let level = 0; level < Math.ceil(levels / 4); level++) {
    selection = `messages { edges { node { session { ${selection} } } } }`;
  }
  return `{ session(id: "ses_attack") { ${selection} } }`;
}

/** 20 fragments, each spreading the next twice: 2^20 paths to the last one's field. */
const FAN_OUT = `{ ...F0 } ${Array.from(
  { length: 20 },
  (_, index) => `fragment F${index} on Query { ...F${index + 1} ...F${index + 1} }`,
).join(' ')} fragment F20 on Query { viewer { principal } }`;

const aliases = (count: number) =>
  `{ ${Array.from({ length: count }, (_, index) => `a${index}: viewer { principal }`).join(' ')} }`;

/** JSON text of arrays nested `depth` deep (JSON.stringify itself overflows past ~4,000). */
const deepArray = (depth: number) => `${'['.repeat(depth)}${']'.repeat(depth)}`;

interface DocumentAttack {
  name: string;
  query: string;
  /** The one contract code expected. */
  code: string;
  /** Names the limit that refused it. */
  message: RegExp;
  /**
   * Refused by one of graphql's own validation rules: those keep the GraphQL-over-HTTP rule
   * for legacy `Accept: application/json` clients (200 with the errors), 400 otherwise.
   */
  graphqlRule?: boolean;
}

/** Documents refused by a parse or validation limit, on every transport alike. */
const DOCUMENT_ATTACKS: DocumentAttack[] = [
  {
    name: 'an alias bomb (2,000 aliases)',
    query: aliases(2_000),
    code: 'BAD_USER_INPUT',
    message: /Token limit of 2000/,
  },
  {
    name: '100 aliases within the token limit',
    query: aliases(100),
    code: 'BAD_USER_INPUT',
    message: /Aliases limit of 30 exceeded, found 100/,
  },
  {
    name: 'depth 60 through session → messages → node → session',
    query: deepQuery(60),
    code: 'BAD_USER_INPUT',
    message: /depth limit of 12 exceeded/,
  },
  {
    name: 'depth 600',
    query: deepQuery(600),
    code: 'BAD_USER_INPUT',
    message: /Token limit|depth limit/,
  },
  {
    name: 'a 2^20 fragment fan-out',
    query: FAN_OUT,
    code: 'COST_LIMIT_EXCEEDED',
    message: /1048576 points/,
  },
  {
    name: '10,000 directives',
    query: `{ viewer ${'@include(if: true) '.repeat(10_000)} { principal } }`,
    code: 'BAD_USER_INPUT',
    message: /Documents are limited|Token limit/,
  },
  {
    name: '60 directives within the token limit',
    query: `{ viewer ${'@include(if: true) '.repeat(60)} { principal } }`,
    code: 'BAD_USER_INPUT',
    message: /Directives limit of 50 exceeded, found 60/,
  },
  {
    name: '5,000 tokens',
    query: `{ viewer { ${'principal '.repeat(5_000)} } }`,
    code: 'BAD_USER_INPUT',
    message: /Token limit of 2000/,
  },
  {
    name: 'a 900 KB document (one long comment)',
    query: `{ viewer { principal } } # ${'x'.repeat(900_000)}`,
    code: 'BAD_USER_INPUT',
    message: /Documents are limited to 64000 characters/,
  },
  {
    name: 'a 1,000-deep list variable type',
    query: `query ($v: ${'['.repeat(1_000)}ID${']'.repeat(1_000)}) { viewer { principal } }`,
    code: 'BAD_USER_INPUT',
    message: /Token limit of 2000/,
  },
  {
    name: 'circular fragments',
    query: '{ ...A } fragment A on Query { ...B } fragment B on Query { ...A }',
    code: 'BAD_USER_INPUT',
    message: /within itself/,
    graphqlRule: true,
  },
  {
    name: 'introspection',
    query: '{ __schema { types { name } } }',
    code: 'BAD_USER_INPUT',
    message: /introspection/i,
    graphqlRule: true,
  },
];

const SEND =
  'mutation ($input: SendMessageInput!) { sendMessage(input: $input) { userMessage { id } } }';

/** Variables nested far deeper than allowed, as JSON text: refused before they are coerced. */
const DEEP_VARIABLES: [string, string, string][] = [
  [
    'a 10,000-deep array for an ID',
    'query ($id: ID!) { session(id: $id) { id } }',
    `{"id": ${deepArray(10_000)}}`,
  ],
  [
    'a 10,000-deep array inside an input object',
    SEND,
    `{"input": {"sessionId": "ses_x", "content": "hi", "rag": {"collection": ${deepArray(10_000)}}}}`,
  ],
  [
    '17 nested objects in an unused variable',
    '{ viewer { principal } }',
    JSON.stringify({ extra: nested(17) }),
  ],
];

function nested(depth: number): unknown {
  let value: unknown = 'leaf';
  for (let level = 0; level < depth; level++) value = { deeper: value };
  return value;
}

/** A graphql-ws client that keeps one socket for all its operations and records its closes. */
function persistentWs(server: TestServer) {
  const closes: number[] = [];
  let connects = 0;
  const client: Client = createClient({
    url: server.wsUrl,
    webSocketImpl: WebSocket,
    connectionParams: AUTH,
    retryAttempts: 0,
    lazy: false,
    on: {
      connected: () => connects++,
      closed: (event) => closes.push((event as { code: number }).code),
    },
  });
  return { client, closes, connects: () => connects };
}

/**
 * Sends one graphql-transport-ws subscribe whose payload is the JSON text given (too deep for
 * any JSON.stringify), then a normal query on the same socket; returns the errors of the first
 * and the data of the second, failing if the socket closes in between.
 */
async function rawWsExecute(
  server: TestServer,
  payload: string,
): Promise<{ errors: GraphQLErrorShape[]; afterwards: unknown }> {
  const socket = new WebSocket(server.wsUrl, 'graphql-transport-ws');
  const messages: { id?: string; type: string; payload?: unknown }[] = [];
  let notify = () => {};
  socket.on('message', (data) => {
    messages.push(JSON.parse(data.toString()));
    notify();
  });
  const closed = new Promise<never>((_resolve, reject) =>
    socket.on('close', (code) => reject(new Error(`socket closed with ${code}`))),
  );
  const next = async (predicate: (message: (typeof messages)[number]) => boolean) => {
    while (!messages.some(predicate)) {
      await Promise.race([new Promise<void>((resolve) => (notify = resolve)), closed]);
    }
    return messages.filter(predicate);
  };
  try {
    await withTimeout(
      (async () => {
        await new Promise((resolve) => socket.once('open', resolve));
        socket.send(JSON.stringify({ type: 'connection_init', payload: AUTH }));
        await next((message) => message.type === 'connection_ack');
        socket.send(`{"id": "deep", "type": "subscribe", "payload": ${payload}}`);
        await next((message) => message.id === 'deep' && message.type !== 'next');
        socket.send(
          JSON.stringify({
            id: 'after',
            type: 'subscribe',
            payload: { query: '{ viewer { principal } }' },
          }),
        );
        await next((message) => message.id === 'after' && message.type === 'complete');
      })(),
      'the raw graphql-ws answers',
    );
    const of = (id: string) => messages.filter((message) => message.id === id);
    const errors = of('deep').flatMap((message) =>
      message.type === 'error'
        ? (message.payload as GraphQLErrorShape[])
        : ((message.payload as { errors?: GraphQLErrorShape[] } | undefined)?.errors ?? []),
    );
    const afterwards = (of('after')[0]?.payload as { data?: unknown } | undefined)?.data;
    return { errors, afterwards };
  } finally {
    closed.catch(() => {});
    socket.close();
  }
}

describe('hostile operations against one production server', () => {
  let server: TestServer;
  let ws: ReturnType<typeof persistentWs>;
  let atStart = { rss: 0, heap: 0 };

  beforeAll(async () => {
    server = await startServer({
      env: { NODE_ENV: 'production', API_KEYS: `attacker:${API_KEY}`, MAX_OPERATION_COST: '1000' },
    });
    ws = persistentWs(server);
    // Warm every path once, so what is measured after is what the attacks add.
    await gqlData(server, '{ viewer { principal } }', {}, { apiKey: API_KEY });
    await post(server, operation('{ viewer { principal } }'), { accept: 'text/event-stream' });
    await wsExecute(ws.client, '{ viewer { principal } }');
    atStart = await settledMemory();
  });

  afterAll(async () => {
    await ws?.client.dispose();
    await server?.close();
  });

  describe.each(DOCUMENT_ATTACKS)('$name', ({ query, code, message, graphqlRule }) => {
    it('is refused over HTTP with 400 within the bound, whatever the client accepts', async () => {
      for (const accept of ['application/graphql-response+json', 'application/json']) {
        const answer = await post(server, operation(query), { accept });

        expect(answer.ms).toBeLessThan(REFUSAL_MS);
        expect(answer.status).toBe(graphqlRule && accept === 'application/json' ? 200 : 400);
        expect(new Set(codesOf(answer.errors))).toEqual(new Set([code]));
        expect(answer.errors[0]?.message).toMatch(message);
        expect(answer.text).not.toContain('"data"');
      }
    });

    it('is refused over SSE as that one operation (an event stream with the error)', async () => {
      const answer = await post(server, operation(query), { accept: 'text/event-stream' });

      expect(answer.ms).toBeLessThan(REFUSAL_MS);
      expect(answer.stream).toBe(true);
      expect(new Set(codesOf(answer.errors))).toEqual(new Set([code]));
      expect(answer.errors[0]?.message).toMatch(message);
    });

    it('is refused over graphql-ws as that one operation, the socket staying open', async () => {
      const started = performance.now();
      const answer = await wsExecute(ws.client, query);

      expect(performance.now() - started).toBeLessThan(REFUSAL_MS);
      expect(new Set(codesOf(answer))).toEqual(new Set([code]));
      expect(answer.errors?.[0]?.message).toMatch(message);
      expect(answer.data ?? null).toBeNull();
    });
  });

  describe.each(DEEP_VARIABLES)('variables: %s', (_name, query, variables) => {
    it('are refused over HTTP, SSE and graphql-ws before coercion', async () => {
      const message = /nested at most 16 levels/;
      const body = `{"query": ${JSON.stringify(query)}, "variables": ${variables}}`;
      const http = await post(server, body);
      expect(http.ms).toBeLessThan(REFUSAL_MS);
      expect(http.status).toBe(400);
      expect(codesOf(http.errors)).toEqual(['BAD_USER_INPUT']);
      expect(http.errors[0]?.message).toMatch(message);

      const sse = await post(server, body, { accept: 'text/event-stream' });
      expect(sse.stream).toBe(true);
      expect(codesOf(sse.errors)).toEqual(['BAD_USER_INPUT']);
      expect(sse.errors[0]?.message).toMatch(message);

      const overWs = await rawWsExecute(server, body);
      expect(codesOf(overWs.errors)).toEqual(['BAD_USER_INPUT']);
      expect(overWs.errors[0]?.message).toMatch(message);
      expect(overWs.afterwards).toEqual({ viewer: { principal: 'attacker' } });
    });
  });

  it('accepts variables nested exactly as deep as allowed', async () => {
    const answer = await post(server, operation('{ viewer { principal } }', { extra: nested(15) }));

    expect(answer.status).toBe(200);
    expect(answer.errors).toEqual([]);
  });

  it('refuses a 10 MB body with 413 before reading it', async () => {
    const answer = await post(server, `{"query": "${'x'.repeat(10 * 1024 * 1024)}"}`);

    expect(answer.ms).toBeLessThan(REFUSAL_MS);
    expect(answer.status).toBe(413);
    expect(codesOf(answer.errors)).toEqual(['BAD_USER_INPUT']);
  });

  it('refuses a body without Content-Length (chunked) with 411', async () => {
    const response = await rawRequest(
      server.port,
      [
        'POST /graphql HTTP/1.1',
        'Host: 127.0.0.1',
        'Content-Type: application/json',
        `Authorization: Bearer ${API_KEY}`,
        'Transfer-Encoding: chunked',
        '',
        '',
      ].join('\r\n'),
    );

    expect(response).toMatch(/^HTTP\/1\.1 411 /);
    expect(response).toContain('"code":"BAD_USER_INPUT"');
  });

  it('refuses a batch of 100 operations (batching is off)', async () => {
    const batch = Array.from({ length: 100 }, () => ({ query: '{ viewer { principal } }' }));
    const answer = await post(server, JSON.stringify(batch));

    expect(answer.ms).toBeLessThan(REFUSAL_MS);
    expect(answer.status).toBe(400);
    expect(codesOf(answer.errors)).toEqual(['BAD_USER_INPUT']);
  });

  it('refuses malformed JSON with 400', async () => {
    const answer = await post(server, '{"query": "{ viewer { principal } }", oops');

    expect(answer.status).toBe(400);
    expect(codesOf(answer.errors)).toEqual(['BAD_USER_INPUT']);
  });

  it('refuses a wrong content type with 415', async () => {
    const answer = await post(server, operation('{ viewer { principal } }'), {
      'content-type': 'text/plain',
    });

    expect(answer.status).toBe(415);
    expect(codesOf(answer.errors)).toEqual(['BAD_USER_INPUT']);
  });

  it('executes no mutation sent as a form POST or with GET', async () => {
    const mutation = 'mutation { createSession(input: { title: "csrf-attack" }) { id } }';
    const form = await post(server, new URLSearchParams({ query: mutation }).toString(), {
      'content-type': 'application/x-www-form-urlencoded',
    });
    const get = await fetch(`${server.httpUrl}?query=${encodeURIComponent(mutation)}`, {
      headers: { accept: 'application/graphql-response+json', ...AUTH },
    });

    expect(form.status).toBe(415);
    expect(codesOf(form.errors)).toEqual(['BAD_USER_INPUT']);
    expect(get.status).toBe(405);
    expect(codesOf((await get.json()) as { errors?: GraphQLErrorShape[] })).toEqual([
      'BAD_USER_INPUT',
    ]);
    const sessions = await gqlData<{ sessions: { edges: { node: { title: string | null } }[] } }>(
      server,
      '{ sessions(first: 100) { edges { node { title } } } }',
      {},
      { apiKey: API_KEY },
    );
    expect(sessions.sessions.edges.map((edge) => edge.node.title)).not.toContain('csrf-attack');
  });

  it('keeps nothing of 50 distinct 900 KB documents (none reaches the document cache)', async () => {
    const before = await settledMemory();
    const statuses = new Set<number>();
    for (let index = 0; index < 50; index++) {
      const document = `{ viewer { principal } } # ${index} ${'x'.repeat(900_000)}`;
      statuses.add((await post(server, operation(document))).status);
    }
    const after = await settledMemory();

    expect([...statuses]).toEqual([400]);
    // Cached, they would hold 45 MB of text (yoga keeps 1,024 documents for an hour).
    expect(after.heap - before.heap).toBeLessThan(16 * 1024 * 1024);
  });

  it('shows no field, argument, type or value suggestions', async () => {
    const answers = await Promise.all([
      post(server, operation('{ viewr { principal } sessions(frist: 1) { edges { cursor } } }')),
      post(server, operation('query ($i: CreateSessionInpt) { viewer { principal } }')),
      post(server, operation('mutation { createSession(input: { titel: "x" }) { id } }')),
      post(
        server,
        operation('mutation ($i: CreateSessionInput!) { createSession(input: $i) { id } }', {
          i: { titel: 'x' },
        }),
      ),
    ]);

    for (const answer of answers) {
      expect(answer.status).toBe(400);
      expect(codesOf(answer.errors).length).toBeGreaterThan(0);
      expect(answer.text).not.toMatch(/did you mean/i);
    }
  });

  it('sends no CORS headers to a foreign origin (same origin only)', async () => {
    const response = await fetch(server.httpUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', origin: 'https://evil.example', ...AUTH },
      body: operation('{ viewer { principal } }'),
    });
    const preflight = await fetch(server.httpUrl, {
      method: 'OPTIONS',
      headers: { origin: 'https://evil.example', 'access-control-request-method': 'POST' },
    });

    expect(response.headers.get('access-control-allow-origin')).toBeNull();
    expect(response.headers.get('access-control-allow-credentials')).toBeNull();
    expect(preflight.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('still answers on every transport afterwards, with its memory bounded', async () => {
    const http = await gqlData<{ viewer: { principal: string } }>(
      server,
      '{ viewer { principal } }',
      {},
      { apiKey: API_KEY },
    );
    const sse = await post(server, operation('{ viewer { principal } }'), {
      accept: 'text/event-stream',
    });
    const overWs = await wsExecute<{ viewer: { principal: string } }>(
      ws.client,
      '{ viewer { principal } }',
    );

    expect(http.viewer.principal).toBe('attacker');
    expect(sse.errors).toEqual([]);
    expect(sse.text).toContain('"principal":"attacker"');
    expect(overWs.data?.viewer.principal).toBe('attacker');
    // One socket served every graphql-ws attack: never closed, never reopened.
    expect(ws.closes).toEqual([]);
    expect(ws.connects()).toBe(1);
    const atEnd = await settledMemory();
    expect(atEnd.rss - atStart.rss).toBeLessThan(RSS_BOUND_BYTES);
    expect(atEnd.heap - atStart.heap).toBeLessThan(RETAINED_BOUND_BYTES);
  });
});

describe('operation batching turned on (GRAPHQL_BATCH_LIMIT=3)', () => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startServer({
      env: { NODE_ENV: 'production', API_KEYS: `attacker:${API_KEY}`, GRAPHQL_BATCH_LIMIT: '3' },
    });
  });
  afterAll(async () => {
    await server?.close();
  });

  const batch = (size: number) =>
    JSON.stringify(Array.from({ length: size }, () => ({ query: '{ viewer { principal } }' })));

  it('runs a batch up to the limit', async () => {
    const response = await fetch(server.httpUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json', ...AUTH },
      body: batch(3),
    });
    const results = (await response.json()) as { data?: { viewer: { principal: string } } }[];

    expect(response.status).toBe(200);
    expect(results.map((result) => result.data?.viewer.principal)).toEqual([
      'attacker',
      'attacker',
      'attacker',
    ]);
  });

  it('refuses a batch over the limit with 400, running none of it', async () => {
    const answer = await post(server, batch(4));

    expect(answer.status).toBe(400);
    expect(codesOf(answer.errors)).toEqual(['BAD_USER_INPUT']);
    expect(answer.errors[0]?.message).toMatch(/At most 3 operations/);
  });

  it('applies the operation limits to each operation of a batch', async () => {
    const body = JSON.stringify([{ query: '{ viewer { principal } }' }, { query: deepQuery(60) }]);
    const response = await fetch(server.httpUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json', ...AUTH },
      body,
    });
    const results = (await response.json()) as {
      data?: unknown;
      errors?: GraphQLErrorShape[];
    }[];

    expect(results[0]?.data).toEqual({ viewer: { principal: 'attacker' } });
    expect(codesOf(results[1])).toEqual(['BAD_USER_INPUT']);
  });
});

/** Writes `request` to a raw socket and resolves with everything read until the server closes. */
function rawRequest(port: number, request: string, timeoutMs = 5_000): Promise<string> {
  return withTimeout(
    new Promise<string>((resolve, reject) => {
      const socket = connect(port, '127.0.0.1');
      let received = '';
      socket.on('data', (chunk) => {
        received += chunk.toString();
        if (received.includes('\r\n\r\n') && /"}]}$/.test(received)) socket.end();
      });
      socket.on('error', reject);
      socket.on('close', () => resolve(received));
      socket.write(request);
    }),
    'the raw HTTP answer',
    timeoutMs,
  );
}

describe('slow HTTP clients (headers 500 ms, request 1 s)', () => {
  let server: TestServer;
  const sockets: Socket[] = [];

  beforeAll(async () => {
    server = await startServer({
      env: {
        HTTP_HEADERS_TIMEOUT_MS: '500',
        HTTP_REQUEST_TIMEOUT_MS: '1000',
        LOCAL_LLM_TOKEN_DELAY_MS: '40',
      },
    });
  });
  afterAll(async () => {
    for (const socket of sockets) socket.destroy();
    await server?.close();
  });

  /** Opens a socket that sends `start`, then one byte of `trickle` every 100 ms. */
  function slowClient(start: string, trickle: string) {
    const socket = connect(server.port, '127.0.0.1');
    sockets.push(socket);
    const opened = performance.now();
    let received = '';
    socket.on('data', (chunk) => {
      received += chunk.toString();
    });
    socket.on('error', () => {});
    socket.write(start);
    let sent = 0;
    const timer = setInterval(() => {
      if (sent < trickle.length && !socket.destroyed) socket.write(trickle[sent++]!);
    }, 100);
    const closed = withTimeout(
      new Promise<number>((resolve) =>
        socket.on('close', () => resolve(performance.now() - opened)),
      ),
      'the server to cut the slow client',
      5_000,
    ).finally(() => clearInterval(timer));
    return { closed, received: () => received };
  }

  it('cuts a client that sends its headers slowly after the headers timeout', async () => {
    const client = slowClient(
      'POST /graphql HTTP/1.1\r\n',
      `Host: 127.0.0.1\r\n${'X-Slow: a\r\n'.repeat(20)}`,
    );

    const closedAfter = await client.closed;

    expect(closedAfter).toBeGreaterThan(400);
    expect(closedAfter).toBeLessThan(2_000);
    expect(client.received()).toMatch(/^HTTP\/1\.1 408 /);
  });

  it('cuts a client that sends its body slowly after the request timeout', async () => {
    const body = operation('{ viewer { principal } }');
    const client = slowClient(
      [
        'POST /graphql HTTP/1.1',
        'Host: 127.0.0.1',
        'Content-Type: application/json',
        `Content-Length: ${body.length}`,
        '',
        '',
      ].join('\r\n'),
      body,
    );

    const closedAfter = await client.closed;

    expect(closedAfter).toBeGreaterThan(900);
    expect(closedAfter).toBeLessThan(2_500);
    expect(client.received()).not.toContain('"principal"');
  });

  it('keeps an idle keep-alive connection past the headers timeout', async () => {
    const socket = connect(server.port, '127.0.0.1');
    sockets.push(socket);
    const request = `GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`;
    const answers: string[] = [];
    socket.on('data', (chunk) => answers.push(chunk.toString()));
    socket.write(request);
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    socket.write(request);
    await new Promise((resolve) => setTimeout(resolve, 200));

    expect(answers.join('').match(/HTTP\/1\.1 200 /g)).toHaveLength(2);
    expect(socket.destroyed).toBe(false);
  });

  it('does not cut a stream that outlasts the request timeout', async () => {
    const { assistantMessageId } = await startConversation(server, 'a slow answer please');
    const started = performance.now();

    const answer = await post(
      server,
      operation(
        'subscription ($id: ID!) { messageStream(messageId: $id) { __typename ... on MessageEnd { message { status } } } }',
        { id: assistantMessageId },
      ),
      { accept: 'text/event-stream' },
    );

    expect(performance.now() - started).toBeGreaterThan(1_000);
    expect(answer.text).toContain('"status":"COMPLETED"');
  });

  it('answers a normal request', async () => {
    const response = await gql(server, '{ viewer { principal } }');

    expect(response.data).toEqual({ viewer: { principal: 'anonymous' } });
  });
});

describe('CORS', () => {
  const servers: TestServer[] = [];
  afterAll(async () => {
    await Promise.all(servers.map((server) => server.close()));
  });

  async function corsHeaders(env: Record<string, string>, origin: string) {
    const server = await startServer({ env });
    servers.push(server);
    const response = await fetch(server.httpUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', origin, ...AUTH },
      body: operation('{ viewer { principal } }'),
    });
    const preflight = await fetch(server.httpUrl, {
      method: 'OPTIONS',
      headers: {
        origin,
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'authorization, content-type',
      },
    });
    return {
      origin: response.headers.get('access-control-allow-origin'),
      credentials: response.headers.get('access-control-allow-credentials'),
      preflightOrigin: preflight.headers.get('access-control-allow-origin'),
      preflightHeaders: preflight.headers.get('access-control-allow-headers'),
    };
  }

  const production = { NODE_ENV: 'production', API_KEYS: `attacker:${API_KEY}` };
  const listed = { CORS_ORIGINS: 'https://app.example,https://admin.example' };

  it('in development without CORS_ORIGINS, lets any origin read, never with credentials', async () => {
    const headers = await corsHeaders({}, 'https://evil.example');

    expect(headers.origin).toBe('https://evil.example');
    expect(headers.credentials).toBeNull();
  });

  it('lets a CORS_ORIGINS origin in with credentials, in production and development', async () => {
    for (const env of [{ ...production, ...listed }, listed]) {
      const headers = await corsHeaders(env, 'https://admin.example');

      expect(headers.origin).toBe('https://admin.example');
      expect(headers.credentials).toBe('true');
      expect(headers.preflightOrigin).toBe('https://admin.example');
      expect(headers.preflightHeaders).toContain('authorization');
    }
  });

  it('sends no CORS headers to an origin CORS_ORIGINS does not list', async () => {
    for (const env of [{ ...production, ...listed }, listed]) {
      const headers = await corsHeaders(env, 'https://evil.example');

      expect(headers.origin).toBeNull();
      expect(headers.credentials).toBeNull();
      expect(headers.preflightOrigin).toBeNull();
    }
  });
});

describe('suggestions outside production', () => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startServer();
  });
  afterAll(async () => {
    await server?.close();
  });

  it('are kept in development', async () => {
    const response = await gql(server, '{ viewr { principal } }');

    expect(codesOf(response)).toEqual(['BAD_USER_INPUT']);
    expect(response.errors?.[0]?.message).toContain('Did you mean "viewer"?');
  });
});
