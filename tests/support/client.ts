import { createClient as createSseClient } from 'graphql-sse';
import { type Client, createClient as createWsClient } from 'graphql-ws';
import WebSocket from 'ws';
import type { TestServer } from './server.js';

export interface GraphQLErrorShape {
  message: string;
  path?: (string | number)[];
  extensions?: { code?: string; [key: string]: unknown };
}

export interface GraphQLResponse<T> {
  status: number;
  headers: Headers;
  data?: T | null;
  errors?: GraphQLErrorShape[];
}

export interface CallOptions {
  apiKey?: string;
  headers?: Record<string, string>;
}

/** POST /graphql with fetch, as any HTTP client would. */
export async function gql<T = Record<string, unknown>>(
  server: Pick<TestServer, 'httpUrl'>,
  query: string,
  variables: Record<string, unknown> = {},
  options: CallOptions = {},
): Promise<GraphQLResponse<T>> {
  const response = await fetch(server.httpUrl, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/graphql-response+json',
      ...(options.apiKey ? { authorization: `Bearer ${options.apiKey}` } : {}),
      ...options.headers,
    },
    body: JSON.stringify({ query, variables }),
  });
  const body = (await response.json()) as { data?: T | null; errors?: GraphQLErrorShape[] };
  return { status: response.status, headers: response.headers, ...body };
}

/** Like gql, but fails the test when the response has errors. */
export async function gqlData<T = Record<string, unknown>>(
  server: Pick<TestServer, 'httpUrl'>,
  query: string,
  variables: Record<string, unknown> = {},
  options: CallOptions = {},
): Promise<T> {
  const response = await gql<T>(server, query, variables, options);
  if (response.errors?.length || !response.data) {
    throw new Error(`GraphQL errors: ${JSON.stringify(response.errors)}`);
  }
  return response.data;
}

export function wsClient(
  server: Pick<TestServer, 'wsUrl'>,
  connectionParams?: Record<string, unknown>,
): Client {
  return createWsClient({
    url: server.wsUrl,
    webSocketImpl: WebSocket,
    connectionParams,
    retryAttempts: 0,
    lazy: true,
  });
}

export function sseClient(server: Pick<TestServer, 'httpUrl'>, apiKey?: string) {
  return createSseClient({
    url: server.httpUrl,
    retryAttempts: 0,
    headers: apiKey ? { authorization: `Bearer ${apiKey}` } : {},
  });
}

export const STREAM_SUBSCRIPTION = /* GraphQL */ `
  subscription Stream($messageId: ID!, $after: String) {
    messageStream(messageId: $messageId, after: $after) {
      __typename
      ... on MessageDelta { messageId seq cursor text }
      ... on MessageEnd {
        messageId
        cursor
        message { id status content model error { code message } usage { promptTokens completionTokens } }
      }
    }
  }
`;

export interface StreamEventResult {
  __typename: 'MessageDelta' | 'MessageEnd';
  messageId: string;
  cursor: string;
  seq?: number;
  text?: string;
  message?: {
    id: string;
    status: string;
    content: string;
    model: string | null;
    error: { code: string; message: string } | null;
    usage: { promptTokens: number; completionTokens: number } | null;
  };
}

export interface CollectedStream {
  events: StreamEventResult[];
  errors: GraphQLErrorShape[];
  deltas: StreamEventResult[];
  end: StreamEventResult | undefined;
  text: string;
}

function summarize(events: StreamEventResult[], errors: GraphQLErrorShape[]): CollectedStream {
  const deltas = events.filter((event) => event.__typename === 'MessageDelta');
  return {
    events,
    errors,
    deltas,
    end: events.find((event) => event.__typename === 'MessageEnd'),
    text: deltas.map((event) => event.text).join(''),
  };
}

type Iterated = AsyncIterableIterator<{
  data?: { messageStream: StreamEventResult } | null;
  errors?: readonly GraphQLErrorShape[];
}>;

/** Reads a messageStream subscription to its end, failing after `timeoutMs`. */
async function collect(
  iterator: Iterated,
  timeoutMs: number,
  onEvent?: (event: StreamEventResult) => void,
): Promise<CollectedStream> {
  const events: StreamEventResult[] = [];
  const errors: GraphQLErrorShape[] = [];
  const timer = setTimeout(() => {
    iterator.return?.();
  }, timeoutMs);
  try {
    for await (const result of iterator) {
      if (result.errors) errors.push(...result.errors);
      const event = result.data?.messageStream;
      if (event) {
        events.push(event);
        onEvent?.(event);
      }
    }
  } catch (error) {
    errors.push(...(Array.isArray(error) ? error : [{ message: String(error) }]));
  } finally {
    clearTimeout(timer);
  }
  return summarize(events, errors);
}

export function collectWs(
  client: Client,
  messageId: string,
  after?: string,
  options: { timeoutMs?: number; onEvent?: (event: StreamEventResult) => void } = {},
): Promise<CollectedStream> {
  const iterator = client.iterate({
    query: STREAM_SUBSCRIPTION,
    variables: { messageId, ...(after ? { after } : {}) },
  }) as unknown as Iterated;
  return collect(iterator, options.timeoutMs ?? 15_000, options.onEvent);
}

export function collectSse(
  server: Pick<TestServer, 'httpUrl'>,
  messageId: string,
  after?: string,
  options: { timeoutMs?: number; apiKey?: string } = {},
): Promise<CollectedStream> {
  const client = sseClient(server, options.apiKey);
  const iterator = client.iterate({
    query: STREAM_SUBSCRIPTION,
    variables: { messageId, ...(after ? { after } : {}) },
  }) as unknown as Iterated;
  return collect(iterator, options.timeoutMs ?? 15_000).finally(() => client.dispose());
}

/** Creates a session and sends one message; returns the ids. */
export async function startConversation(
  server: Pick<TestServer, 'httpUrl'>,
  content = 'Hello?',
  options: CallOptions & { persona?: string } = {},
): Promise<{ sessionId: string; userMessageId: string; assistantMessageId: string }> {
  const created = await gqlData<{ createSession: { id: string } }>(
    server,
    'mutation($input: CreateSessionInput!) { createSession(input: $input) { id } }',
    { input: { persona: options.persona ?? null } },
    options,
  );
  const sessionId = created.createSession.id;
  const sent = await gqlData<{
    sendMessage: { userMessage: { id: string }; assistantMessage: { id: string } };
  }>(
    server,
    'mutation($input: SendMessageInput!) { sendMessage(input: $input) { userMessage { id } assistantMessage { id } } }',
    { input: { sessionId, content } },
    options,
  );
  return {
    sessionId,
    userMessageId: sent.sendMessage.userMessage.id,
    assistantMessageId: sent.sendMessage.assistantMessage.id,
  };
}

/** Resolves once the streamed text so far equals `text` (deltas may batch several chunks). */
export function textReaches(text: string) {
  let soFar = '';
  let reached!: () => void;
  const seen = new Promise<void>((resolve) => {
    reached = resolve;
  });
  const onEvent = (event: StreamEventResult) => {
    soFar += event.text ?? '';
    if (soFar === text) reached();
  };
  return { seen, onEvent };
}
