import { randomUUID } from 'node:crypto';
import type { Client } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { codesOf } from '../support/assertions.js';
import {
  type CollectedStream,
  collectSse,
  collectWs,
  type GraphQLResponse,
  gql,
  gqlData,
  startConversation,
  wsClient,
} from '../support/client.js';
import { startServer, type TestServer } from '../support/server.js';

const API_KEYS = 'alice:key-alice,bob:key-bob';
const ALICE = { apiKey: 'key-alice' };
const BOB = { apiKey: 'key-bob' };
const ALICE_SECRET = 'Alice confides: the vault code is 7741.';

const randomId = (prefix: 'ses' | 'msg') => `${prefix}_${randomUUID().replaceAll('-', '')}`;

const SESSION = /* GraphQL */ `
  query ($id: ID!) {
    session(id: $id) { id title messages { edges { node { id content } } } }
  }
`;
const NODE = /* GraphQL */ `
  query ($id: ID!) {
    node(id: $id) {
      id
      ... on Session { title }
      ... on Message { role content status }
    }
  }
`;
const SEND = /* GraphQL */ `
  mutation ($input: SendMessageInput!) {
    sendMessage(input: $input) { userMessage { id } assistantMessage { id } }
  }
`;
const CANCEL = 'mutation ($id: ID!) { cancelMessage(id: $id) { id status content } }';
const DELETE = 'mutation ($id: ID!) { deleteSession(id: $id) }';
const SESSIONS = '{ sessions(first: 100) { edges { node { id } } } }';

/** What a caller can observe of a NOT_FOUND answer, with the id it asked for blanked out. */
function notFoundView(response: GraphQLResponse<unknown>, id: string) {
  expect(codesOf(response.errors)).toEqual(['NOT_FOUND']);
  return {
    status: response.status,
    data: response.data,
    errors: response.errors?.map((error) => ({
      ...error,
      message: error.message.replaceAll(id, '<id>'),
    })),
  };
}

/** The same for a subscription: no event, one NOT_FOUND error, id blanked out. */
function notFoundStreamView(stream: CollectedStream, id: string) {
  expect(stream.events).toEqual([]);
  expect(codesOf(stream.errors)).toEqual(['NOT_FOUND']);
  return stream.errors.map((error) => ({
    ...error,
    message: error.message.replaceAll(id, '<id>'),
  }));
}

describe.each(['memory', 'redis'] as const)('ownership isolation (%s backend)', (backend) => {
  let server: TestServer;
  let aliceWs: Client;
  let bobWs: Client;
  let alice: { sessionId: string; userMessageId: string; assistantMessageId: string };
  let aliceAnswer: string;

  beforeAll(async () => {
    server = await startServer({ backend, env: { API_KEYS } });
    aliceWs = wsClient(server, { apiKey: 'key-alice' });
    bobWs = wsClient(server, { apiKey: 'key-bob' });
    alice = await startConversation(server, ALICE_SECRET, ALICE);
    const stream = await collectWs(aliceWs, alice.assistantMessageId);
    expect(stream.end?.message?.status).toBe('COMPLETED');
    aliceAnswer = stream.text;
    expect(aliceAnswer).toContain('7741');
  });

  afterAll(async () => {
    await Promise.all([aliceWs?.dispose(), bobWs?.dispose()]);
    await server?.close();
  });

  /** Runs `query` as bob for alice's id and for a nonexistent one; both must look the same. */
  async function expectForeignLikeMissing(
    query: string,
    variablesFor: (id: string) => Record<string, unknown>,
    foreignId: string,
    missingId: string,
  ) {
    const foreign = await gql(server, query, variablesFor(foreignId), BOB);
    const missing = await gql(server, query, variablesFor(missingId), BOB);

    expect(notFoundView(foreign, foreignId)).toEqual(notFoundView(missing, missingId));
    expect(JSON.stringify(foreign)).not.toContain('7741');
  }

  it("answers another principal's session(id) with NOT_FOUND, like a nonexistent id", async () => {
    await expectForeignLikeMissing(SESSION, (id) => ({ id }), alice.sessionId, randomId('ses'));
  });

  it("answers another principal's node(id) of a session with NOT_FOUND, like a nonexistent id", async () => {
    await expectForeignLikeMissing(NODE, (id) => ({ id }), alice.sessionId, randomId('ses'));
  });

  it("answers another principal's node(id) of a user message with NOT_FOUND, like a nonexistent id", async () => {
    await expectForeignLikeMissing(NODE, (id) => ({ id }), alice.userMessageId, randomId('msg'));
  });

  it("answers another principal's node(id) of an assistant message with NOT_FOUND, like a nonexistent id", async () => {
    await expectForeignLikeMissing(
      NODE,
      (id) => ({ id }),
      alice.assistantMessageId,
      randomId('msg'),
    );
  });

  it("refuses sendMessage to another principal's session with NOT_FOUND, like a nonexistent id", async () => {
    await expectForeignLikeMissing(
      SEND,
      (sessionId) => ({ input: { sessionId, content: 'Bob was here' } }),
      alice.sessionId,
      randomId('ses'),
    );
  });

  it("refuses cancelMessage of another principal's answer with NOT_FOUND, like a nonexistent id", async () => {
    await expectForeignLikeMissing(
      CANCEL,
      (id) => ({ id }),
      alice.assistantMessageId,
      randomId('msg'),
    );
  });

  it("refuses deleteSession of another principal's session with NOT_FOUND, like a nonexistent id", async () => {
    await expectForeignLikeMissing(DELETE, (id) => ({ id }), alice.sessionId, randomId('ses'));
  });

  it("answers messageStream over WebSocket for another principal's answer with NOT_FOUND and no event", async () => {
    const missingId = randomId('msg');
    const foreign = await collectWs(bobWs, alice.assistantMessageId);
    const missing = await collectWs(bobWs, missingId);

    expect(notFoundStreamView(foreign, alice.assistantMessageId)).toEqual(
      notFoundStreamView(missing, missingId),
    );
    expect(JSON.stringify(foreign)).not.toContain('7741');
  });

  it("answers messageStream over SSE for another principal's answer with NOT_FOUND and no event", async () => {
    const missingId = randomId('msg');
    const foreign = await collectSse(server, alice.assistantMessageId, undefined, BOB);
    const missing = await collectSse(server, missingId, undefined, BOB);

    expect(notFoundStreamView(foreign, alice.assistantMessageId)).toEqual(
      notFoundStreamView(missing, missingId),
    );
    expect(JSON.stringify(foreign)).not.toContain('7741');
  });

  it("leaves another principal's sessions out of the sessions list", async () => {
    const own = await gqlData<{ createSession: { id: string } }>(
      server,
      'mutation { createSession(input: { title: "Bob\'s own" }) { id } }',
      {},
      BOB,
    );

    const list = await gqlData<{ sessions: { edges: { node: { id: string } }[] } }>(
      server,
      SESSIONS,
      {},
      BOB,
    );

    const ids = list.sessions.edges.map((edge) => edge.node.id);
    expect(ids).toContain(own.createSession.id);
    expect(ids).not.toContain(alice.sessionId);
  });

  // Runs after every attempt above: none of them may have changed alice's data.
  it('leaves the owner her session, both messages and the whole answer', async () => {
    const data = await gqlData<{
      session: {
        id: string;
        messages: {
          edges: { node: { id: string; role: string; status: string; content: string } }[];
        };
      } | null;
      sessions: { edges: { node: { id: string } }[] };
    }>(
      server,
      /* GraphQL */ `
        query ($id: ID!) {
          session(id: $id) { id messages { edges { node { id role status content } } } }
          sessions(first: 100) { edges { node { id } } }
        }
      `,
      { id: alice.sessionId },
      ALICE,
    );

    expect(data.sessions.edges.map((edge) => edge.node.id)).toEqual([alice.sessionId]);
    expect(data.session?.messages.edges.map((edge) => edge.node)).toEqual([
      { id: alice.userMessageId, role: 'USER', status: 'COMPLETED', content: ALICE_SECRET },
      {
        id: alice.assistantMessageId,
        role: 'ASSISTANT',
        status: 'COMPLETED',
        content: aliceAnswer,
      },
    ]);
  });

  it('still streams the answer to its owner', async () => {
    const stream = await collectSse(server, alice.assistantMessageId, undefined, ALICE);

    expect(stream.errors).toEqual([]);
    expect(stream.end?.message?.status).toBe('COMPLETED');
    expect(stream.text).toBe(aliceAnswer);
  });
});
