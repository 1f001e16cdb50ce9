import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { print } from 'graphql';
import { type Client, createClient } from 'graphql-ws';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { ViewerDocument } from '../../examples/generated/graphql.js';
import { createApp } from '../../src/app.js';
import { ConfigError, loadConfig } from '../../src/config.js';
import { codesOf, withTimeout } from '../support/assertions.js';
import { type GraphQLErrorShape, gql, sseClient } from '../support/client.js';
import { startServer, type TestServer } from '../support/server.js';

/** The manifest `npm run codegen` wrote, exactly as a deployment would point at it. */
const MANIFEST_PATH = fileURLToPath(
  new URL('../../examples/generated/persisted-documents.json', import.meta.url),
);
const manifest = JSON.parse(readFileSync(MANIFEST_PATH, 'utf8')) as Record<string, string>;
const API_KEY = 'key-alice';
const ARBITRARY = '{ viewer { principal } }';

/** The manifest id (`sha256:<hex>`) of the example operation with this name. */
function idOf(operationName: string): string {
  const entry = Object.entries(manifest).find(([, document]) =>
    new RegExp(`\\b(query|mutation|subscription) ${operationName}\\b`).test(document),
  );
  if (!entry) throw new Error(`no ${operationName} in the manifest`);
  return entry[0];
}
const hexOf = (id: string) => id.replace(/^sha256:/, '');

interface Body {
  data?: Record<string, unknown> | null;
  errors?: GraphQLErrorShape[];
}

async function post(
  server: TestServer,
  body: Record<string, unknown>,
  apiKey: string | null = API_KEY,
) {
  const response = await fetch(server.httpUrl, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/graphql-response+json',
      ...(apiKey ? { authorization: `Bearer ${apiKey}` } : {}),
    },
    body: JSON.stringify(body),
  });
  return { status: response.status, ...((await response.json()) as Body) };
}

function expectUntrusted(result: { errors?: readonly GraphQLErrorShape[] }) {
  expect(codesOf(result)).toEqual(['BAD_USER_INPUT']);
  expect(result.errors![0]!.extensions?.reason).toBe('UNTRUSTED_DOCUMENT');
}

/** One operation over graphql-ws with any payload; resolves with its last result. */
function wsRun(client: Client, payload: Record<string, unknown>): Promise<Body> {
  return withTimeout(
    new Promise<Body>((resolve, reject) => {
      let last: Body | undefined;
      client.subscribe(payload as never, {
        next: (result) => {
          last = result as Body;
        },
        error: (error) =>
          Array.isArray(error) ? resolve({ errors: error as GraphQLErrorShape[] }) : reject(error),
        complete: () => (last ? resolve(last) : reject(new Error('completed without a result'))),
      });
    }),
    'a WebSocket result',
  );
}

/** Every result of one operation over SSE, until it completes. */
function sseRun(server: TestServer, payload: Record<string, unknown>): Promise<Body[]> {
  const client = sseClient(server, API_KEY);
  return withTimeout(
    new Promise<Body[]>((resolve, reject) => {
      const results: Body[] = [];
      client.subscribe(payload as never, {
        next: (result) => results.push(result as Body),
        error: reject,
        complete: () => resolve(results),
      });
    }),
    'an SSE stream',
  ).finally(() => client.dispose());
}

describe('trusted documents off', () => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startServer();
  });

  afterAll(async () => {
    await server.close();
  });

  it('any document runs', async () => {
    const response = await gql<{ viewer: { principal: string } }>(server, ARBITRARY);
    expect(response.errors).toBeUndefined();
    expect(response.data?.viewer.principal).toBe('anonymous');
  });
});

describe('trusted documents on (TRUSTED_DOCUMENTS = the codegen manifest)', () => {
  let server: TestServer;
  const clients: Client[] = [];

  /** Not lazy: the socket stays open between operations, so a close would show. */
  const openWs = () => {
    const client = createClient({
      url: server.wsUrl,
      webSocketImpl: WebSocket,
      connectionParams: { authorization: `Bearer ${API_KEY}` },
      retryAttempts: 0,
      lazy: false,
    });
    clients.push(client);
    return client;
  };

  beforeAll(async () => {
    server = await startServer({
      env: { TRUSTED_DOCUMENTS: MANIFEST_PATH, API_KEYS: `alice:${API_KEY}` },
    });
  });

  afterEach(async () => {
    await Promise.all(clients.splice(0).map((client) => client.dispose()));
  });

  afterAll(async () => {
    await server.close();
  });

  it.each([
    ['documentId with the sha256: prefix', { documentId: idOf('Viewer') }],
    ['documentId without it', { documentId: hexOf(idOf('Viewer')) }],
    [
      'extensions.persistedQuery.sha256Hash (Apollo)',
      { extensions: { persistedQuery: { version: 1, sha256Hash: hexOf(idOf('Viewer')) } } },
    ],
    [
      'extensions.persistedQuery.sha256Hash with the prefix',
      { extensions: { persistedQuery: { version: 1, sha256Hash: idOf('Viewer') } } },
    ],
    ['extensions.documentId', { extensions: { documentId: idOf('Viewer') } }],
  ])('HTTP: a manifest document runs by its hash as %s', async (_form, body) => {
    const response = await post(server, body);
    expect(response.errors).toBeUndefined();
    expect(response.data).toEqual({
      viewer: { principal: 'alice', scopes: ['chat', 'rag'], anonymous: false },
    });
  });

  it('HTTP GET: ?documentId= runs a query', async () => {
    const url = new URL(server.httpUrl);
    url.searchParams.set('documentId', idOf('Viewer'));
    const response = await fetch(url, {
      headers: { accept: 'application/graphql-response+json', authorization: `Bearer ${API_KEY}` },
    });
    expect(response.status).toBe(200);
    expect(((await response.json()) as Body).data).toMatchObject({
      viewer: { principal: 'alice' },
    });
  });

  it('HTTP: a hash sent with its own document runs (as the client printed it)', async () => {
    const response = await post(server, {
      query: print(ViewerDocument),
      extensions: { persistedQuery: { version: 1, sha256Hash: hexOf(idOf('Viewer')) } },
    });
    expect(response.errors).toBeUndefined();
    expect(response.data).toMatchObject({ viewer: { principal: 'alice' } });
  });

  it.each([
    ['an arbitrary query', { query: ARBITRARY }],
    ['an unknown hash', { documentId: `sha256:${'0'.repeat(64)}` }],
    ['an id that is not a hash', { documentId: 'Viewer' }],
    ['a trusted hash with another query', { query: ARBITRARY, documentId: idOf('Viewer') }],
    [
      'two ids that disagree',
      { documentId: idOf('Viewer'), extensions: { documentId: idOf('Personas') } },
    ],
    ['nothing at all', {}],
  ])('HTTP: %s is 400 BAD_USER_INPUT, UNTRUSTED_DOCUMENT', async (_case, body) => {
    const response = await post(server, body);
    expect(response.status).toBe(400);
    expectUntrusted(response);
    expect(response.data ?? null).toBeNull();
  });

  it('the public contact form runs by its hash without an API key', async () => {
    const response = await post(
      server,
      {
        documentId: idOf('SubmitContact'),
        variables: { input: { name: 'Ada', email: 'ada@example.org', message: 'Hello' } },
      },
      null,
    );
    expect(response.errors).toBeUndefined();
    expect(response.data).toMatchObject({ submitContact: { id: expect.stringMatching(/^con_/) } });
    // Trusted but not public: still needs a key.
    expect(codesOf(await post(server, { documentId: idOf('Viewer') }, null))).toEqual([
      'UNAUTHENTICATED',
    ]);
  });

  it('graphql-ws: a manifest document runs by documentId in extensions', async () => {
    const client = openWs();
    const result = await wsRun(client, { query: '', extensions: { documentId: idOf('Viewer') } });
    expect(result.errors).toBeUndefined();
    expect(result.data).toMatchObject({ viewer: { principal: 'alice' } });
  });

  it('graphql-ws: an arbitrary query or unknown hash is refused for that operation, the socket stays open', async () => {
    const client = openWs();
    let closed = false;
    client.on('closed', () => {
      closed = true;
    });
    expectUntrusted(await wsRun(client, { query: ARBITRARY }));
    expectUntrusted(
      await wsRun(client, { query: '', extensions: { documentId: `sha256:${'f'.repeat(64)}` } }),
    );
    const after = await wsRun(client, {
      query: '',
      extensions: { persistedQuery: { version: 1, sha256Hash: hexOf(idOf('Viewer')) } },
    });
    expect(after.data).toMatchObject({ viewer: { principal: 'alice' } });
    expect(closed).toBe(false);
  });

  it('graphql-ws and SSE: a whole answer streams through manifest documents only', async () => {
    const client = openWs();
    const session = await wsRun(client, {
      query: '',
      extensions: { documentId: idOf('CreateSession') },
      variables: { input: { title: 'trusted' } },
    });
    const sessionId = (session.data as { createSession: { id: string } }).createSession.id;
    const sent = await wsRun(client, {
      query: '',
      extensions: { documentId: idOf('SendMessage') },
      variables: { input: { sessionId, content: 'Hello trusted world' } },
    });
    const messageId = (sent.data as { sendMessage: { assistantMessage: { id: string } } })
      .sendMessage.assistantMessage.id;

    const streamPayload = {
      query: '',
      extensions: { documentId: idOf('MessageStream') },
      variables: { messageId },
    };
    const wsEvents: Body[] = [];
    await withTimeout(
      new Promise<void>((resolve, reject) => {
        client.subscribe(streamPayload as never, {
          next: (result) => wsEvents.push(result as Body),
          error: reject,
          complete: resolve,
        });
      }),
      'the stream over graphql-ws',
    );
    const sseEvents = await sseRun(server, streamPayload);
    for (const events of [wsEvents, sseEvents]) {
      expect(events.every((event) => event.errors === undefined)).toBe(true);
      const types = events.map(
        (event) =>
          (event.data as { messageStream: { __typename: string } }).messageStream.__typename,
      );
      expect(types.at(-1)).toBe('MessageEnd');
      expect(types.filter((type) => type === 'MessageEnd')).toHaveLength(1);
    }
  });

  it('SSE: an arbitrary subscription or an unknown hash is refused with UNTRUSTED_DOCUMENT', async () => {
    for (const payload of [
      { query: 'subscription { messageStream(messageId: "msg_0") { __typename } }' },
      { query: '', extensions: { documentId: `sha256:${'a'.repeat(64)}` } },
    ]) {
      const response = await fetch(server.httpUrl, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          accept: 'text/event-stream',
          authorization: `Bearer ${API_KEY}`,
        },
        body: JSON.stringify(payload),
      });
      expect(response.headers.get('content-type')).toContain('text/event-stream');
      const results = (await response.text())
        .split('\n')
        .filter((line) => line.startsWith('data: {'))
        .map((line) => JSON.parse(line.slice(6)) as Body);
      expect(results).toHaveLength(1);
      expectUntrusted(results[0]!);
    }
  });

  it('GraphiQL is not served', async () => {
    const response = await fetch(server.httpUrl, { headers: { accept: 'text/html' } });
    expect(response.headers.get('content-type') ?? '').not.toContain('text/html');
    await response.body?.cancel();
  });
});

describe('a TRUSTED_DOCUMENTS that cannot be used stops the start, naming the variable', () => {
  let directory: string;

  beforeAll(async () => {
    directory = await mkdtemp(join(tmpdir(), 'parley-trusted-'));
  });

  afterAll(async () => {
    await rm(directory, { recursive: true, force: true });
  });

  const withManifest = async (name: string, text: string) => {
    const path = join(directory, name);
    await writeFile(path, text);
    return path;
  };
  const config = (path: string) =>
    loadConfig({ NODE_ENV: 'test', LOG_LEVEL: 'silent', TRUSTED_DOCUMENTS: path });

  it.each([
    ['a missing file', async () => join(directory, 'missing.json'), /cannot be read/],
    ['a file that is not JSON', () => withManifest('broken.json', '{ nope'), /is not JSON/],
    ['a list instead of an object', () => withManifest('list.json', '[]'), /JSON object/],
    [
      'a key that is not a hash',
      () => withManifest('key.json', JSON.stringify({ Viewer: '{ viewer { principal } }' })),
      /is not a sha256 hash/,
    ],
    [
      'a hash that is not its document’s',
      () =>
        withManifest(
          'tampered.json',
          JSON.stringify({ [idOf('Viewer')]: '{ viewer { principal scopes } }' }),
        ),
      /is not the SHA-256 of its document/,
    ],
    ['an empty manifest', () => withManifest('empty.json', '{}'), /lists no documents/],
  ])('%s', async (_case, makePath, why) => {
    const path = await makePath();
    expect(() => config(path)).toThrow(ConfigError);
    expect(() => config(path)).toThrow(/^Invalid TRUSTED_DOCUMENTS: /);
    expect(() => config(path)).toThrow(why);
  });

  it('a document that does not parse', async () => {
    const text = 'query {';
    const hash = createHash('sha256').update(text).digest('hex');
    const path = await withManifest(
      'unparsable.json',
      JSON.stringify({ [`sha256:${hash}`]: text }),
    );
    await expect(createApp(config(path))).rejects.toThrow(
      /^Invalid TRUSTED_DOCUMENTS: the document sha256:[0-9a-f]{64} does not parse$/,
    );
  });
});
