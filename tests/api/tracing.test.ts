import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.js';
import { collectWs, gql, gqlData, startConversation, wsClient } from '../support/client.js';
import { FakeOpenAI } from '../support/fake-openai.js';
import { OtlpReceiver, type ReceivedSpan } from '../support/otlp-receiver.js';
import { type BackendKind, startServer, type TestServer } from '../support/server.js';
import { ingest } from './rag/operations.js';

const SERVER = 2;
const CLIENT = 3;

/** A client's own span: the trace and span ids its `traceparent` names. */
function clientSpan() {
  const traceId = randomBytes(16).toString('hex');
  const spanId = randomBytes(8).toString('hex');
  return { traceId, spanId, traceparent: `00-${traceId}-${spanId}-01` };
}

const named = (spans: ReceivedSpan[], name: string) => spans.filter((span) => span.name === name);

function only(spans: ReceivedSpan[], name: string): ReceivedSpan {
  const found = named(spans, name);
  expect(found, `exactly one span named "${name}"`).toHaveLength(1);
  return found[0]!;
}

const childrenOf = (spans: ReceivedSpan[], parent: ReceivedSpan) =>
  spans.filter((span) => span.parentSpanId === parent.spanId && span.traceId === parent.traceId);

const SEND = /* GraphQL */ `
  mutation Send($input: SendMessageInput!) {
    sendMessage(input: $input) { assistantMessage { id } }
  }
`;

describe.each<BackendKind>(['memory', 'redis'])('traces on the %s backend', (backend) => {
  const receiver = new OtlpReceiver();
  const upstream = new FakeOpenAI();
  const httpClient = clientSpan();
  const wsClientSpan = clientSpan();
  const refusedClient = clientSpan();
  const wsQueryClient = clientSpan();
  let spans: ReceivedSpan[] = [];
  let assistantMessageId = '';
  let sessionId = '';

  beforeAll(async () => {
    await receiver.start();
    await upstream.start();
    upstream.setDefault({
      chunks: ['Traced', ' answer'],
      usage: { prompt_tokens: 21, completion_tokens: 2 },
    });
    const server: TestServer = await startServer({
      backend,
      env: {
        OPENAI_BASE_URL: upstream.baseURL,
        OPENAI_API_KEY: 'sk-test',
        LLM_MODEL: 'fake-model',
        OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint,
        OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
        OTEL_EXPORTER_OTLP_HEADERS: 'x-collector-token=s3cret%20value',
        OTEL_SERVICE_NAME: 'parley-under-test',
      },
    });
    try {
      const created = await gqlData<{ createSession: { id: string } }>(
        server,
        'mutation { createSession(input: {}) { id } }',
      );
      sessionId = created.createSession.id;
      const sent = await gqlData<{ sendMessage: { assistantMessage: { id: string } } }>(
        server,
        SEND,
        { input: { sessionId, content: 'Trace me' } },
        { headers: { traceparent: httpClient.traceparent } },
      );
      assistantMessageId = sent.sendMessage.assistantMessage.id;
      const refused = await gql(
        server,
        'query Refused { nope }',
        {},
        {
          headers: { traceparent: refusedClient.traceparent },
        },
      );
      expect(refused.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
      // The stream over graphql-ws, its parent given in connection_init.
      const client = wsClient(server, { traceparent: wsClientSpan.traceparent });
      const streamed = await collectWs(client, assistantMessageId);
      await client.dispose();
      expect(streamed.text).toBe('Traced answer');
      // A query over graphql-ws naming its own parent in the subscribe message's extensions.
      const queryClient = wsClient(server, { traceparent: wsClientSpan.traceparent });
      const results = queryClient.iterate({
        query: 'query Who { viewer { principal } }',
        extensions: { traceparent: wsQueryClient.traceparent },
      });
      for await (const result of results) expect(result.errors).toBeUndefined();
      await queryClient.dispose();
    } finally {
      // Closing the app flushes the batch of spans: everything is at the receiver after it.
      await server.close();
    }
    spans = receiver.spans();
  });
  afterAll(async () => {
    await receiver.close();
    await upstream.close();
  });

  it('exports OTLP/HTTP JSON with the configured headers and service name', () => {
    expect(receiver.requests.length).toBeGreaterThan(0);
    for (const request of receiver.requests) {
      expect(request.path).toBe('/v1/traces');
      expect(request.headers['x-collector-token']).toBe('s3cret value');
    }
    expect(spans.length).toBeGreaterThan(0);
    expect(new Set(spans.map((span) => span.serviceName))).toEqual(new Set(['parley-under-test']));
  });

  it("the HTTP operation's span is a child of the client's traceparent, named by the operation", () => {
    const operation = only(spans, 'mutation Send');
    expect(operation.traceId).toBe(httpClient.traceId);
    expect(operation.parentSpanId).toBe(httpClient.spanId);
    expect(operation.kind).toBe(SERVER);
    expect(operation.attributes).toMatchObject({
      'graphql.operation.type': 'mutation',
      'graphql.operation.name': 'Send',
      'parley.transport': 'http',
    });
  });

  it('parse, validate and execute are children of the operation, the resolver of execute', () => {
    const operation = only(spans, 'mutation Send');
    const phases = childrenOf(spans, operation).map((span) => span.name);
    expect(phases).toEqual(
      expect.arrayContaining(['graphql.parse', 'graphql.validate', 'graphql.execute']),
    );
    const execute = childrenOf(spans, operation).find((span) => span.name === 'graphql.execute')!;
    const resolver = childrenOf(spans, execute).find(
      (span) => span.name === 'Mutation.sendMessage',
    );
    expect(resolver?.attributes).toMatchObject({
      'graphql.field.name': 'sendMessage',
      'graphql.field.parent_type': 'Mutation',
    });
  });

  it('a document that fails validation is a failed operation with a failed validate span', () => {
    const operation = only(spans, 'query Refused');
    expect(operation.traceId).toBe(refusedClient.traceId);
    expect(operation.status.code).toBe(2);
    const validate = childrenOf(spans, operation).find((span) => span.name === 'graphql.validate');
    expect(validate?.status.code).toBe(2);
    expect(childrenOf(spans, operation).map((span) => span.name)).not.toContain('graphql.execute');
  });

  it('the answer is a trace of its own, linked to the sendMessage span, with the model attributes', () => {
    const resolver = only(spans, 'Mutation.sendMessage');
    const generation = only(spans, 'answer generation');
    expect(generation.traceId).not.toBe(httpClient.traceId);
    expect(generation.parentSpanId).toBe('');
    expect(generation.links).toEqual([{ traceId: resolver.traceId, spanId: resolver.spanId }]);
    expect(generation.attributes).toMatchObject({
      'parley.message.id': assistantMessageId,
      'parley.message.status': 'COMPLETED',
      'gen_ai.request.model': 'fake-model',
      'gen_ai.response.model': 'fake-model',
      'gen_ai.usage.input_tokens': 21,
      'gen_ai.usage.output_tokens': 2,
    });
  });

  it('the model call is a GenAI client span in the answer, with usage and the first token', () => {
    const generation = only(spans, 'answer generation');
    const call = only(spans, 'chat fake-model');
    expect(call.traceId).toBe(generation.traceId);
    expect(call.parentSpanId).toBe(generation.spanId);
    expect(call.kind).toBe(CLIENT);
    expect(call.attributes).toMatchObject({
      'gen_ai.operation.name': 'chat',
      'gen_ai.provider.name': 'openai',
      'gen_ai.request.model': 'fake-model',
      'gen_ai.response.model': 'fake-model',
      'gen_ai.usage.input_tokens': 21,
      'gen_ai.usage.output_tokens': 2,
      'gen_ai.response.finish_reasons': ['stop'],
      'server.address': '127.0.0.1',
    });
    expect(call.events).toContain('gen_ai.first_token');
  });

  it("the upstream got a traceparent naming the model call's span", () => {
    const call = only(spans, 'chat fake-model');
    expect(upstream.requests).toHaveLength(1);
    expect(upstream.requests[0]!.headers.traceparent).toBe(`00-${call.traceId}-${call.spanId}-01`);
  });

  it("a WebSocket operation is traced too, under connection_init's traceparent", () => {
    const operation = only(spans, 'subscription Stream');
    expect(operation.traceId).toBe(wsClientSpan.traceId);
    expect(operation.parentSpanId).toBe(wsClientSpan.spanId);
    expect(operation.attributes).toMatchObject({ 'parley.transport': 'websocket' });
    const children = childrenOf(spans, operation).map((span) => span.name);
    expect(children).toEqual(
      expect.arrayContaining(['graphql.parse', 'graphql.validate', 'graphql.subscribe']),
    );
    const subscribe = childrenOf(spans, operation).find(
      (span) => span.name === 'graphql.subscribe',
    )!;
    expect(childrenOf(spans, subscribe).map((span) => span.name)).toContain(
      'Subscription.messageStream',
    );
  });

  it("a WebSocket operation's own extensions.traceparent wins over connection_init's", () => {
    const operation = only(spans, 'query Who');
    expect(operation.traceId).toBe(wsQueryClient.traceId);
    expect(operation.parentSpanId).toBe(wsQueryClient.spanId);
    const execute = childrenOf(spans, operation).find((span) => span.name === 'graphql.execute');
    // (On Redis the cost limiter's point bucket is a command of execute too.)
    expect(childrenOf(spans, execute!).map((span) => span.name)).toContain('Query.viewer');
  });

  it('Redis commands are spans of the operation and of the answer, without keys or values', () => {
    const redisSpans = spans.filter((span) => span.attributes['db.system'] === 'redis');
    if (backend === 'memory') {
      expect(redisSpans).toEqual([]);
      return;
    }
    const traces = new Set(redisSpans.map((span) => span.traceId));
    expect(traces).toContain(httpClient.traceId);
    expect(traces).toContain(only(spans, 'answer generation').traceId);
    for (const span of redisSpans) {
      expect(span.kind).toBe(CLIENT);
      expect(span.name).toBe(span.attributes['db.operation.name']);
      expect(Object.keys(span.attributes).sort()).toEqual(
        expect.arrayContaining(['db.operation.name', 'db.system.name', 'server.address']),
      );
      const text = JSON.stringify(span.attributes);
      expect(text).not.toContain(sessionId);
      expect(text).not.toContain(assistantMessageId);
    }
    // Heartbeats run outside any operation: they start no traces.
    expect(redisSpans.every((span) => span.parentSpanId !== '')).toBe(true);
  });
});

describe('embeddings calls', () => {
  const receiver = new OtlpReceiver();
  const upstream = new FakeOpenAI();
  const caller = clientSpan();
  let spans: ReceivedSpan[] = [];

  beforeAll(async () => {
    await receiver.start();
    await upstream.start();
    const server = await startServer({
      env: {
        OPENAI_BASE_URL: upstream.baseURL,
        OPENAI_API_KEY: 'sk-test',
        EMBEDDINGS_MODEL: 'fake-embedder',
        OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: `${receiver.endpoint}/v1/traces`,
        OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
      },
    });
    try {
      await ingest(
        server,
        { title: 'Traced', text: 'Spans nest under the operation that asked for them.' },
        { headers: { traceparent: caller.traceparent } },
      );
    } finally {
      await server.close();
    }
    spans = receiver.spans();
  });
  afterAll(async () => {
    await receiver.close();
    await upstream.close();
  });

  it('each embeddings request is an `embeddings {model}` span in the operation, sent on to the upstream', () => {
    const calls = named(spans, 'embeddings fake-embedder');
    expect(calls.length).toBeGreaterThan(0);
    for (const call of calls) {
      expect(call.traceId).toBe(caller.traceId);
      expect(call.attributes).toMatchObject({
        'gen_ai.operation.name': 'embeddings',
        'gen_ai.request.model': 'fake-embedder',
      });
    }
    const sent = upstream.embeddingRequests.map((request) => request.headers.traceparent);
    expect(sent).toEqual(calls.map((call) => `00-${call.traceId}-${call.spanId}-01`));
  });
});

describe('tracing over OTLP/HTTP protobuf (the default protocol)', () => {
  it("sends protobuf holding the client's trace id", async () => {
    const receiver = await new OtlpReceiver().start();
    const caller = clientSpan();
    const server = await startServer({
      env: { OTEL_EXPORTER_OTLP_ENDPOINT: `${receiver.endpoint}/` },
    });
    try {
      await gqlData(
        server,
        'query Who { viewer { principal } }',
        {},
        {
          headers: { traceparent: caller.traceparent },
        },
      );
    } finally {
      await server.close();
    }
    await receiver.close();
    expect(receiver.requests.length).toBeGreaterThan(0);
    const [request] = receiver.requests;
    expect(request!.path).toBe('/v1/traces');
    expect(request!.contentType).toBe('application/x-protobuf');
    expect(request!.body.includes(Buffer.from(caller.traceId, 'hex'))).toBe(true);
  });
});

describe('tracing off (no OTLP endpoint)', () => {
  it('exports nothing and sends no traceparent upstream, even when a client sends one', async () => {
    const receiver = await new OtlpReceiver().start();
    const upstream = await new FakeOpenAI().start();
    const server = await startServer({
      env: { OPENAI_BASE_URL: upstream.baseURL, OPENAI_API_KEY: 'sk-test' },
    });
    try {
      const { assistantMessageId } = await startConversation(server, 'Hello?', {
        headers: { traceparent: clientSpan().traceparent },
      });
      const client = wsClient(server, { traceparent: clientSpan().traceparent });
      const streamed = await collectWs(client, assistantMessageId);
      await client.dispose();
      expect(streamed.end?.message?.status).toBe('COMPLETED');
      const rejected = await gql(
        server,
        '{ nope }',
        {},
        {
          headers: { traceparent: clientSpan().traceparent },
        },
      );
      expect(rejected.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    } finally {
      await server.close();
    }
    await receiver.close();
    await upstream.close();
    expect(receiver.requests).toEqual([]);
    expect(upstream.requests).toHaveLength(1);
    expect(upstream.requests[0]!.headers.traceparent).toBeUndefined();
  });
});

describe('tracing configuration', () => {
  it('is off without an endpoint, and with OTEL_SDK_DISABLED', () => {
    expect(loadConfig({}).tracing).toBeUndefined();
    expect(
      loadConfig({
        OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318',
        OTEL_SDK_DISABLED: 'true',
      }).tracing,
    ).toBeUndefined();
  });

  it('appends /v1/traces to the base endpoint; the traces endpoint is used as given', () => {
    expect(loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318/' }).tracing).toEqual({
      url: 'http://collector:4318/v1/traces',
      protocol: 'http/protobuf',
      headers: {},
      serviceName: 'parley',
    });
    expect(
      loadConfig({
        OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318',
        OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'https://traces.example/otlp',
        OTEL_EXPORTER_OTLP_HEADERS: 'authorization=Bearer%20abc, x-team=chat',
        OTEL_SERVICE_NAME: 'parley-eu',
      }).tracing,
    ).toMatchObject({
      url: 'https://traces.example/otlp',
      headers: { authorization: 'Bearer abc', 'x-team': 'chat' },
      serviceName: 'parley-eu',
    });
  });

  it('names the variable of a bad value and never echoes a header value', () => {
    expect(() => loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'collector:4318' })).toThrow(
      /^Invalid OTEL_EXPORTER_OTLP_ENDPOINT/,
    );
    expect(() => loadConfig({ OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' })).toThrow(
      /^Invalid OTEL_EXPORTER_OTLP_PROTOCOL/,
    );
    let error: unknown;
    try {
      loadConfig({ OTEL_EXPORTER_OTLP_HEADERS: 'no-equals-sign-secret' });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toMatch(/^Invalid OTEL_EXPORTER_OTLP_HEADERS/);
    expect((error as Error).message).not.toContain('secret');
  });
});
