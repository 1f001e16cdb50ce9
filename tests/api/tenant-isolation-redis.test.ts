import { randomUUID } from 'node:crypto';
import type { Client } from 'graphql-ws';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { redisKeys } from '../../src/infra/backend/redis/keys.js';
import {
  type CollectedStream,
  collectWs,
  type GraphQLResponse,
  gql,
  gqlData,
  startConversation,
  wsClient,
} from '../support/client.js';
import { SHARED_REDIS_URL } from '../support/redis.js';
import { startServer, type TestServer } from '../support/server.js';

/**
 * One principal must not be able to reach Redis keys of another kind by crafting an id, to
 * learn from the answer whether another principal's session is live, or to open the shared
 * Redis breaker for every tenant; and a corrupt record fails only the request that reads it.
 */
const API_KEYS = 'alice:key-a,bob:key-b,ops:key-ops:chat+rag+admin';
const ALICE = { apiKey: 'key-a' };
const BOB = { apiKey: 'key-b' };
const OPS = { apiKey: 'key-ops' };
/** An error message may quote an id, cut short: never a whole megabyte. */
const MAX_ERROR_MESSAGE_CHARS = 200;

const SESSION = 'query($id: ID!) { session(id: $id) { id title } }';
const NODE = 'query($id: ID!) { node(id: $id) { id } }';
const DELETE = 'mutation($id: ID!) { deleteSession(id: $id) }';
const SEND =
  'mutation($input: SendMessageInput!) { sendMessage(input: $input) { userMessage { id } } }';
const CANCEL = 'mutation($id: ID!) { cancelMessage(id: $id) { id } }';
const BREAKERS = '{ admin { breakers { name state failures } } }';

/** Every HTTP operation that takes an id from the caller. */
const OPERATIONS: [
  name: string,
  query: string,
  variables: (id: string) => Record<string, unknown>,
][] = [
  ['session', SESSION, (id) => ({ id })],
  ['node', NODE, (id) => ({ id })],
  ['deleteSession', DELETE, (id) => ({ id })],
  ['sendMessage', SEND, (sessionId) => ({ input: { sessionId, content: 'hi' } })],
  ['cancelMessage', CANCEL, (id) => ({ id })],
];

type Conversation = Awaited<ReturnType<typeof startConversation>>;

const randomId = (prefix: 'ses' | 'msg') => `${prefix}_${randomUUID().replaceAll('-', '')}`;

/** Ids of alice's own live conversation bent to name other keys, or not shaped like ids at all. */
function craftedIds(own: Conversation): string[] {
  return [
    `${own.sessionId}:generation`,
    `${own.sessionId}:messages`,
    `${own.assistantMessageId}:events`,
    `${own.assistantMessageId}:generation`,
    `${own.sessionId} `,
    ` ${own.sessionId}`,
    `ses_ ${own.sessionId.slice(4)}`,
    'ses_with spaces * and ? globs',
    own.sessionId.toUpperCase(),
    `${own.sessionId}\u0000`,
    `ses_${'a'.repeat(1024 * 1024)}`,
    `msg_${'0'.repeat(1024 * 1024)}`,
  ];
}

const codesOf = (errors: readonly { extensions?: { code?: string } }[] | undefined) =>
  (errors ?? []).map((error) => error.extensions?.code);

function expectNotFound(what: string, errors: GraphQLResponse<unknown>['errors'], id: string) {
  expect(codesOf(errors), what).toEqual(['NOT_FOUND']);
  for (const error of errors ?? []) {
    expect(error.message.length, what).toBeLessThan(MAX_ERROR_MESSAGE_CHARS);
    if (id.length > MAX_ERROR_MESSAGE_CHARS) expect(error.message, what).not.toContain(id);
  }
}

/** What a caller sees of a NOT_FOUND answer, with the id it asked for blanked out. */
function notFoundView(response: GraphQLResponse<unknown> | CollectedStream, id: string) {
  return {
    status: 'status' in response ? response.status : undefined,
    data: 'data' in response ? response.data : undefined,
    events: 'events' in response ? response.events : undefined,
    errors: response.errors?.map((error) => ({
      ...error,
      message: error.message.replaceAll(id, '<id>'),
    })),
  };
}

describe('crafted ids and corrupt records on the redis backend', () => {
  let server: TestServer;
  let redis: Redis;
  let keys: ReturnType<typeof redisKeys>;
  let aliceWs: Client;
  let alice: Conversation;
  let bob: Conversation;

  async function expectRedisBreakerClosed(): Promise<void> {
    const { admin } = await gqlData<{
      admin: { breakers: { name: string; state: string; failures: number }[] };
    }>(server, BREAKERS, {}, OPS);
    expect(admin.breakers.find((breaker) => breaker.name === 'redis')).toEqual({
      name: 'redis',
      state: 'CLOSED',
      failures: 0,
    });
  }

  /** Bob's everyday requests: none may meet an open breaker. */
  async function expectBobServed(): Promise<void> {
    const created = await gql<{ createSession: { id: string } }>(
      server,
      'mutation { createSession(input: { title: "Bob again" }) { id } }',
      {},
      BOB,
    );
    expect(created.errors).toBeUndefined();
    const own = await gql<{ session: { id: string } }>(server, SESSION, { id: bob.sessionId }, BOB);
    expect(own.errors).toBeUndefined();
    expect(own.data?.session.id).toBe(bob.sessionId);
    const answer = await gql<{ node: { status: string } }>(
      server,
      'query($id: ID!) { node(id: $id) { ... on Message { status } } }',
      { id: bob.assistantMessageId },
      BOB,
    );
    expect(answer.errors).toBeUndefined();
    expect(answer.data?.node.status).toBe('STREAMING');
  }

  beforeAll(async () => {
    server = await startServer({
      backend: 'redis',
      env: {
        API_KEYS,
        // The 1 MB ids must reach the id check, not the 1 MiB body and frame limits.
        MAX_BODY_BYTES: '4194304',
        WS_MAX_PAYLOAD_BYTES: '4194304',
        // Both answers stay live (and their session claims in Redis) for the whole file.
        LOCAL_LLM_TOKEN_DELAY_MS: '1000',
        RATE_LIMIT_POINTS: '1000000',
      },
    });
    keys = redisKeys(server.keyPrefix);
    redis = new Redis(SHARED_REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 });
    await redis.connect();
    aliceWs = wsClient(server, ALICE);
    alice = await startConversation(server, 'Alice asks', ALICE);
    bob = await startConversation(server, 'Bob asks', BOB);
    // The crafted ids point at real keys: each live session's claim holds its answer's id.
    expect(await redis.get(keys.sessionClaim(alice.sessionId))).toBe(alice.assistantMessageId);
    expect(await redis.get(keys.sessionClaim(bob.sessionId))).toBe(bob.assistantMessageId);
  });

  afterAll(async () => {
    await aliceWs?.dispose();
    redis?.disconnect();
    await server?.close();
  });

  it('answers every crafted id with NOT_FOUND, reads no other key, and leaves the breaker closed for everyone', async () => {
    const ids = craftedIds(alice);
    const requests = ids.flatMap((id) =>
      OPERATIONS.map(async ([name, query, variables]) => {
        const response = await gql(server, query, variables(id), ALICE);
        expectNotFound(`${name}(${id.slice(0, 60)})`, response.errors, id);
        expect(JSON.stringify(response).length).toBeLessThan(2_000);
      }),
    );
    const streams = ids.map(async (id) => {
      const stream = await collectWs(aliceWs, id);
      expect(stream.events).toEqual([]);
      expectNotFound(`messageStream(${id.slice(0, 60)})`, stream.errors, id);
    });
    expect(requests.length + streams.length).toBeGreaterThanOrEqual(30);
    await Promise.all([...requests, ...streams]);

    // Nothing was read as a session or deleted: alice's conversation is whole and still live.
    expect(await redis.get(keys.sessionClaim(alice.sessionId))).toBe(alice.assistantMessageId);
    const own = await gqlData<{ session: { id: string } }>(
      server,
      SESSION,
      { id: alice.sessionId },
      ALICE,
    );
    expect(own.session.id).toBe(alice.sessionId);
    await expectBobServed();
    await expectRedisBreakerClosed();
  });

  it("answers a crafted id of another principal's live session exactly like one of no session", async () => {
    const missingSession = randomId('ses');
    for (const [name, query, variables] of OPERATIONS) {
      for (const suffix of [':generation', ':messages']) {
        const foreignId = `${bob.sessionId}${suffix}`;
        const missingId = `${missingSession}${suffix}`;
        const foreign = await gql(server, query, variables(foreignId), ALICE);
        const missing = await gql(server, query, variables(missingId), ALICE);
        expectNotFound(name, foreign.errors, foreignId);
        expect(notFoundView(foreign, foreignId), name).toEqual(notFoundView(missing, missingId));
      }
    }
    const foreignStreamId = `${bob.assistantMessageId}:events`;
    const missingStreamId = `${randomId('msg')}:events`;
    const foreign = await collectWs(aliceWs, foreignStreamId);
    const missing = await collectWs(aliceWs, missingStreamId);
    expectNotFound('messageStream', foreign.errors, foreignStreamId);
    expect(notFoundView(foreign, foreignStreamId)).toEqual(notFoundView(missing, missingStreamId));
    await expectRedisBreakerClosed();
  });

  it('answers a corrupt record with INTERNAL_SERVER_ERROR for that request only; the breaker stays closed', async () => {
    const { createSession } = await gqlData<{ createSession: { id: string } }>(
      server,
      'mutation { createSession(input: { title: "soon corrupt" }) { id } }',
      {},
      ALICE,
    );
    await redis.set(keys.session(createSession.id), '{"principal": "alice", this is not JSON');

    // More reads of it than the Redis breaker's failure threshold (3).
    for (let attempt = 0; attempt < 5; attempt++) {
      const corrupt = await gql(server, SESSION, { id: createSession.id }, ALICE);
      expect(codesOf(corrupt.errors)).toEqual(['INTERNAL_SERVER_ERROR']);
      expect(JSON.stringify(corrupt)).not.toContain('not JSON');
      const own = await gql<{ session: { id: string } }>(
        server,
        SESSION,
        { id: alice.sessionId },
        ALICE,
      );
      expect(own.errors).toBeUndefined();
      expect(own.data?.session.id).toBe(alice.sessionId);
    }
    await expectBobServed();
    await expectRedisBreakerClosed();
  });
});
