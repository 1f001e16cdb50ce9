import { randomUUID } from 'node:crypto';
import type { Agent } from 'node:http';
import { pollUntil, sleep } from './clock.js';
import { createAgent, graphqlData } from './graphql-http.js';
import { encodePrompt } from './prompt.js';

/** The few Parley operations the bench drives, as any client would send them. */

/** The one principal every bench client authenticates as (the runner configures API_KEYS). */
export const BENCH_API_KEY = 'bench-secret-key';
export const AUTH_HEADERS = { authorization: `Bearer ${BENCH_API_KEY}` };
export const WS_CONNECTION_PARAMS = { authorization: `Bearer ${BENCH_API_KEY}` };

/** The query the query scenario measures (the shape, on one session). */
export const SESSION_MESSAGES_QUERY =
  'query SessionMessages($id: ID!) { session(id: $id) { messages(first: 20) { edges { node { id role content status createdAt } } } } }';

export const MESSAGE_STREAM_SUBSCRIPTION = /* GraphQL */ `
  subscription Stream($id: ID!) {
    messageStream(messageId: $id) {
      __typename
      ... on MessageDelta { messageId seq cursor text at }
      ... on MessageEnd { messageId cursor message { status } }
    }
  }
`;

export async function createSession(agent: Agent, url: string, title: string): Promise<string> {
  const data = await graphqlData<{ createSession: { id: string } }>(
    agent,
    url,
    AUTH_HEADERS,
    'mutation($input: CreateSessionInput!) { createSession(input: $input) { id } }',
    { input: { title } },
  );
  return data.createSession.id;
}

/**
 * Sends a user message; resolves with the id of the assistant message now streaming. The
 * previous answer's MessageEnd can reach a client just before its session is released, so a
 * SESSION_BUSY refusal is retried for a moment, as a client would.
 */
export async function sendMessage(
  agent: Agent,
  url: string,
  sessionId: string,
  content: string,
): Promise<string> {
  const deadline = Date.now() + 5_000;
  for (;;) {
    try {
      const data = await graphqlData<{ sendMessage: { assistantMessage: { id: string } } }>(
        agent,
        url,
        AUTH_HEADERS,
        'mutation($input: SendMessageInput!) { sendMessage(input: $input) { assistantMessage { id } } }',
        { input: { sessionId, content } },
      );
      return data.sendMessage.assistantMessage.id;
    } catch (error) {
      if (!String(error).includes('SESSION_BUSY') || Date.now() > deadline) throw error;
      await sleep(10);
    }
  }
}

export async function deleteSession(agent: Agent, url: string, sessionId: string): Promise<void> {
  await graphqlData(agent, url, AUTH_HEADERS, 'mutation($id: ID!) { deleteSession(id: $id) }', {
    id: sessionId,
  });
}

/** Polls until the message left STREAMING/PENDING; returns its final status. */
export async function waitForAnswer(
  agent: Agent,
  url: string,
  messageId: string,
  timeoutMs = 30_000,
): Promise<string> {
  let status = 'MISSING';
  await pollUntil(
    async () => {
      const data = await graphqlData<{ node: { status: string } | null }>(
        agent,
        url,
        AUTH_HEADERS,
        'query($id: ID!) { node(id: $id) { ... on Message { status } } }',
        { id: messageId },
      );
      status = data.node?.status ?? 'MISSING';
      return status !== 'STREAMING' && status !== 'PENDING';
    },
    () => `message ${messageId} still ${status}`,
    timeoutMs,
    20,
  );
  return status;
}

/**
 * `count` sessions, each with a one-token answer the upstream holds until it is released: idle
 * streams for subscribers to wait on. Resolves with the assistant messages' ids.
 */
export async function startHeldAnswers(
  url: string,
  count: number,
  title: string,
): Promise<string[]> {
  const agent = createAgent(count);
  try {
    return await Promise.all(
      Array.from({ length: count }, async (_unused, index) => {
        const sessionId = await createSession(agent, url, `${title} ${index}`);
        const prompt = encodePrompt({
          id: randomUUID(),
          tokens: 1,
          intervalMs: 0,
          thinkMs: 0,
          hold: true,
        });
        return sendMessage(agent, url, sessionId, prompt);
      }),
    );
  } finally {
    agent.destroy();
  }
}
