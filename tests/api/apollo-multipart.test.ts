import {
  ApolloClient,
  CombinedGraphQLErrors,
  HttpLink,
  InMemoryCache,
  ServerError,
} from '@apollo/client';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { getFragmentData } from '../../examples/generated/fragment-masking.js';
import {
  CreateSessionDocument,
  MessageStreamDocument,
  SendMessageDocument,
  StreamDeltaFragmentDoc,
  StreamEndFragmentDoc,
} from '../../examples/generated/graphql.js';
import possibleTypesResult from '../../examples/generated/possible-types.js';
import { STREAM_SUBSCRIPTION, startConversation } from '../support/client.js';
import { FakeOpenAI } from '../support/fake-openai.js';
import { type BackendKind, startServer, type TestServer } from '../support/server.js';
import { until } from '../support/wait.js';

const CHUNKS = ['Streamed ', 'to Apollo ', 'over plain ', 'HTTP.'];
const UPSTREAM_ENV = (upstream: FakeOpenAI) => ({
  OPENAI_BASE_URL: upstream.baseURL,
  OPENAI_API_KEY: 'sk-test',
  LLM_MODEL: 'fake-model',
  // The heartbeat test holds the upstream mid-answer: the answer must not time out meanwhile.
  LLM_IDLE_TIMEOUT_MS: '30000',
});
/** What Apollo Client 3 sends; Apollo Client 4 sends `…;boundary=graphql;subscriptionSpec=1.0`. */
const MULTIPART_ACCEPT = 'multipart/mixed;subscriptionSpec="1.0", application/json';

/** A frontend's client: only an HttpLink, no WebSocket, set up the way the README says. */
function apolloClient(server: TestServer, apiKey?: string) {
  return new ApolloClient({
    link: new HttpLink({
      uri: server.httpUrl,
      headers: apiKey ? { authorization: `Bearer ${apiKey}` } : {},
    }),
    cache: new InMemoryCache({
      possibleTypes: possibleTypesResult.possibleTypes,
      typePolicies: { Subscription: { fields: { messageStream: { merge: false } } } },
    }),
  });
}

type Events = { deltas: string[]; ends: { status: string; content: string }[]; errors: unknown[] };

/** Subscribes through Apollo and resolves when the observable completes (or errors). */
function streamWithApollo(client: ApolloClient, messageId: string): Promise<Events> {
  const events: Events = { deltas: [], ends: [], errors: [] };
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      subscription.unsubscribe();
      resolve(events);
    }, 15_000);
    const done = () => {
      clearTimeout(timer);
      resolve(events);
    };
    const subscription = client
      .subscribe({ query: MessageStreamDocument, variables: { messageId } })
      .subscribe({
        next: (result) => {
          if (result.error) events.errors.push(result.error);
          const event = result.data?.messageStream;
          if (event?.__typename === 'MessageDelta') {
            events.deltas.push(getFragmentData(StreamDeltaFragmentDoc, event).text);
          }
          if (event?.__typename === 'MessageEnd') {
            events.ends.push(getFragmentData(StreamEndFragmentDoc, event).message);
          }
        },
        error: (error) => {
          events.errors.push(error);
          done();
        },
        complete: done,
      });
  });
}

/** The JSON bodies of a multipart/mixed response as they arrive, and whether it closed. */
async function* multipartParts(
  response: Response,
  onRead?: (received: string) => void,
): AsyncGenerator<unknown, void> {
  const boundary = '\r\n--graphql';
  const decoder = new TextDecoder();
  let buffer = '';
  let received = '';
  const reader = response.body!.getReader();
  for (let read = await reader.read(); !read.done; read = await reader.read()) {
    const text = decoder.decode(read.value, { stream: true });
    buffer += text;
    received += text;
    onRead?.(received);
    for (let at = buffer.indexOf(boundary); at !== -1; at = buffer.indexOf(boundary)) {
      const part = buffer.slice(0, at);
      buffer = buffer.slice(at + boundary.length);
      const body = part.slice(part.indexOf('\r\n\r\n') + 4);
      if (part.includes('\r\n\r\n')) yield JSON.parse(body);
      if (buffer.startsWith('--')) {
        yield 'closed';
        await reader.cancel();
        return;
      }
    }
  }
}

function postSubscription(server: TestServer, messageId: string, headers = {}) {
  return fetch(server.httpUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: MULTIPART_ACCEPT, ...headers },
    body: JSON.stringify({ query: STREAM_SUBSCRIPTION, variables: { messageId } }),
  });
}

describe.each<BackendKind>(['memory', 'redis'])(
  'Apollo Client 4 streams an answer over a plain HttpLink (%s)',
  (backend) => {
    const upstream = new FakeOpenAI();
    let server: TestServer;

    beforeAll(async () => {
      await upstream.start();
      upstream.setDefault({ chunks: CHUNKS, delayMs: 2 });
      server = await startServer({ backend, env: UPSTREAM_ENV(upstream) });
    });
    afterAll(async () => {
      await server?.close();
      await upstream.close();
    });

    it('sendMessage, then messageStream: the whole answer and exactly one MessageEnd', async () => {
      const client = apolloClient(server);
      const created = await client.mutate({
        mutation: CreateSessionDocument,
        variables: { input: {} },
      });
      const sent = await client.mutate({
        mutation: SendMessageDocument,
        variables: { input: { sessionId: created.data!.createSession.id, content: 'Multipart?' } },
      });
      const stream = await streamWithApollo(client, sent.data!.sendMessage.assistantMessage.id);
      expect(stream.errors).toEqual([]);
      expect(stream.ends).toHaveLength(1);
      expect(stream.ends[0]!.status).toBe('COMPLETED');
      expect(stream.deltas.join('')).toBe(stream.ends[0]!.content);
      expect(stream.ends[0]!.content).toBe(CHUNKS.join(''));
      client.stop();
    });
  },
);

describe('the multipart subscription wire format', () => {
  const upstream = new FakeOpenAI();
  let server: TestServer;

  beforeAll(async () => {
    await upstream.start();
    server = await startServer({
      env: UPSTREAM_ENV(upstream),
      overrides: { multipartHeartbeatMs: 50 },
    });
  });
  afterEach(() => upstream.release());
  afterAll(async () => {
    await server?.close();
    await upstream.close();
  });

  it('answers Apollo 3’s Accept with multipart parts wrapped in payload, then the closing boundary', async () => {
    upstream.enqueue({ chunks: CHUNKS });
    const { assistantMessageId } = await startConversation(server);
    const response = await postSubscription(server, assistantMessageId);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe(
      'multipart/mixed; boundary="graphql"; subscriptionSpec="1.0"',
    );
    const parts: unknown[] = [];
    // Each write ends with a delimiter (or the close): a part is never left open until the
    // next one, which is when a client would see it.
    const openEnds: string[] = [];
    const onRead = (received: string) => {
      if (!/\r\n--graphql(--\r\n)?$/.test(received)) openEnds.push(received.slice(-40));
    };
    for await (const part of multipartParts(response, onRead)) parts.push(part);
    expect(openEnds).toEqual([]);
    expect(parts.at(-1)).toBe('closed');
    type Payload = { payload: { data: { messageStream: { __typename: string; text?: string } } } };
    const payloads = parts.filter(
      (part): part is Payload => typeof part === 'object' && part !== null && 'payload' in part,
    );
    const events = payloads.map((part) => part.payload.data.messageStream);
    expect(events.filter((event) => event.__typename === 'MessageEnd')).toHaveLength(1);
    expect(events.at(-1)?.__typename).toBe('MessageEnd');
    expect(events.map((event) => event.text ?? '').join('')).toBe(CHUNKS.join(''));
    // Nothing but payloads and heartbeats between the boundaries.
    expect(parts.slice(0, -1).every((part) => typeof part === 'object')).toBe(true);
  });

  it('sends {} heartbeats while the answer is idle', async () => {
    upstream.enqueue({ chunks: CHUNKS, holdAfter: 1 });
    const index = upstream.requests.length;
    const { assistantMessageId } = await startConversation(server);
    await upstream.request(index);
    const response = await postSubscription(server, assistantMessageId);
    const parts: unknown[] = [];
    let heartbeatsAfterFirstDelta = 0;
    for await (const part of multipartParts(response)) {
      parts.push(part);
      const sawDelta = parts.some((seen) => JSON.stringify(seen).includes('MessageDelta'));
      if (sawDelta && JSON.stringify(part) === '{}') {
        heartbeatsAfterFirstDelta += 1;
        // The upstream holds the answer until heartbeats proved the idle connection alive.
        if (heartbeatsAfterFirstDelta === 2) upstream.release();
      }
    }
    expect(heartbeatsAfterFirstDelta).toBeGreaterThanOrEqual(2);
    expect(parts.at(-1)).toBe('closed');
    expect(JSON.stringify(parts)).toContain('MessageEnd');
  });

  it('a client that goes away ends its subscription on the server', async () => {
    upstream.enqueue({ chunks: CHUNKS, holdAfter: 1 });
    const index = upstream.requests.length;
    const { assistantMessageId } = await startConversation(server);
    await upstream.request(index);
    const abort = new AbortController();
    const response = await fetch(server.httpUrl, {
      method: 'POST',
      signal: abort.signal,
      headers: { 'content-type': 'application/json', accept: MULTIPART_ACCEPT },
      body: JSON.stringify({
        query: STREAM_SUBSCRIPTION,
        variables: { messageId: assistantMessageId },
      }),
    });
    for await (const part of multipartParts(response)) {
      if (JSON.stringify(part).includes('MessageDelta')) break;
    }
    await until(() => server.app.services.streams.openCount === 1, { what: 'the open stream' });
    abort.abort();
    await until(() => server.app.services.streams.openCount === 0, { what: 'the stream to end' });
  });

  it('on shutdown an open stream ends with its MessageEnd and the closing boundary', async () => {
    const draining = await startServer({ env: UPSTREAM_ENV(upstream) });
    upstream.enqueue({ chunks: CHUNKS, holdAfter: 1 });
    const index = upstream.requests.length;
    const { assistantMessageId } = await startConversation(draining);
    await upstream.request(index);
    const response = await postSubscription(draining, assistantMessageId);
    const parts: unknown[] = [];
    let closing: Promise<void> | undefined;
    for await (const part of multipartParts(response)) {
      parts.push(part);
      if (!closing && JSON.stringify(part).includes('MessageDelta')) closing = draining.close();
    }
    await closing;

    expect(parts.at(-1)).toBe('closed');
    const ends = parts.filter((part) => JSON.stringify(part).includes('MessageEnd'));
    expect(ends).toHaveLength(1);
  });

  it('leaves Server-Sent Events to clients that ask for them first', async () => {
    const { assistantMessageId } = await startConversation(server);
    const response = await postSubscription(server, assistantMessageId, {
      accept: `text/event-stream, ${MULTIPART_ACCEPT}`,
    });
    expect(response.headers.get('content-type')).toContain('text/event-stream');
    await response.body?.cancel();
  });
});

describe('refusals before the stream starts keep their status and contract code', () => {
  let keyed: TestServer;
  let cheap: TestServer;

  beforeAll(async () => {
    keyed = await startServer({ env: { API_KEYS: 'alice:key-alice' } });
    cheap = await startServer({ env: { MAX_OPERATION_COST: '2' } });
  });
  afterAll(async () => {
    await keyed?.close();
    await cheap?.close();
  });

  it('unauthenticated: 401 UNAUTHENTICATED, and Apollo reports it as a GraphQL error', async () => {
    const response = await postSubscription(keyed, 'msg_unknown');
    expect(response.status).toBe(401);
    const body = (await response.json()) as { errors: { extensions: { code: string } }[] };
    expect(body.errors.map((error) => error.extensions.code)).toEqual(['UNAUTHENTICATED']);

    const client = apolloClient(keyed);
    const stream = await streamWithApollo(client, 'msg_unknown');
    expect(stream.deltas).toEqual([]);
    expect(stream.errors).toHaveLength(1);
    const error = stream.errors[0];
    expect(CombinedGraphQLErrors.is(error) || ServerError.is(error)).toBe(true);
    expect(CombinedGraphQLErrors.is(error) && error.errors[0]?.extensions?.code).toBe(
      'UNAUTHENTICATED',
    );
    client.stop();
  });

  it('a client that takes multipart alone gets the refusal as one part, not a 406', async () => {
    for (const server of [keyed, cheap]) {
      const response = await postSubscription(server, 'msg_unknown', {
        accept: 'multipart/mixed;subscriptionSpec=1.0',
      });
      expect(response.status).toBe(200);
      const parts: unknown[] = [];
      for await (const part of multipartParts(response)) parts.push(part);
      const refusal = parts.find(
        (part): part is { payload: { errors: { extensions: { code: string } }[] } } =>
          typeof part === 'object' && part !== null && 'payload' in part,
      );
      expect(refusal?.payload.errors.map((error) => error.extensions.code)).toEqual([
        server === keyed ? 'UNAUTHENTICATED' : 'COST_LIMIT_EXCEEDED',
      ]);
      expect(parts.at(-1)).toBe('closed');
    }
  });

  it('over the cost maximum: COST_LIMIT_EXCEEDED, nothing streamed', async () => {
    const client = apolloClient(cheap);
    const stream = await streamWithApollo(client, 'msg_unknown');
    expect(stream.deltas).toEqual([]);
    expect(stream.ends).toEqual([]);
    const error = stream.errors[0];
    expect(CombinedGraphQLErrors.is(error) && error.errors[0]?.extensions?.code).toBe(
      'COST_LIMIT_EXCEEDED',
    );
    client.stop();
  });
});
