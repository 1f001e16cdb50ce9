import { randomUUID } from 'node:crypto';
import type { Client } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMemoryBackend } from '../../src/infra/backend/memory.js';
import { createRedisBackend } from '../../src/infra/backend/redis/index.js';
import type { Backend } from '../../src/infra/backend/types.js';
import { collectWs, gql, gqlData, wsClient } from '../support/client.js';
import { deleteKeys, SHARED_REDIS_URL } from '../support/redis.js';
import { startServer, type TestServer } from '../support/server.js';

const WAIT_MS = 20_000;

const NESTED = /* GraphQL */ `
  {
    sessions(first: 20) {
      edges {
        node {
          id
          messages(first: 20) { edges { node { id content session { id } } } }
        }
      }
    }
  }
`;

type NestedData = {
  sessions: {
    edges: {
      node: {
        id: string;
        messages: { edges: { node: { id: string; content: string; session: { id: string } } }[] };
      };
    }[];
  };
};

/**
 * Wraps a real backend so every call of a Store or StreamLog method is counted by name
 * ("store.getSessions"). Counts can be reset; completed calls are tracked apart so a test can
 * wait for background work (a generation releasing its session) to be over.
 */
class CountingBackend {
  private counts = new Map<string, number>();
  private readonly completed = new Map<string, number>();
  private readonly waiters = new Set<() => void>();

  wrap(backend: Backend): Backend {
    return {
      ...backend,
      store: this.counted(backend.store, 'store'),
      streams: this.counted(backend.streams, 'streams'),
    };
  }

  reset(): void {
    this.counts = new Map();
  }

  snapshot(): Record<string, number> {
    return Object.fromEntries([...this.counts].sort(([a], [b]) => a.localeCompare(b)));
  }

  /** Resolves once `method` has completed `count` times since the start. */
  async completedCalls(method: string, count: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    await new Promise<void>((resolve, reject) => {
      const check = () => {
        if ((this.completed.get(method) ?? 0) < count) return;
        this.waiters.delete(check);
        clearTimeout(timer);
        resolve();
      };
      timer = setTimeout(() => {
        this.waiters.delete(check);
        reject(
          new Error(`${method} completed ${this.completed.get(method) ?? 0} of ${count} times`),
        );
      }, WAIT_MS);
      this.waiters.add(check);
      check();
    });
  }

  private counted<T extends object>(target: T, prefix: string): T {
    return new Proxy(target, {
      get: (object, property, receiver) => {
        const value = Reflect.get(object, property, receiver);
        if (typeof value !== 'function' || typeof property !== 'string') return value;
        const name = `${prefix}.${property}`;
        return (...args: unknown[]) => {
          this.counts.set(name, (this.counts.get(name) ?? 0) + 1);
          const result = value.apply(object, args);
          Promise.resolve(result).then(
            () => this.done(name),
            () => this.done(name),
          );
          return result;
        };
      },
    });
  }

  private done(name: string): void {
    this.completed.set(name, (this.completed.get(name) ?? 0) + 1);
    for (const check of [...this.waiters]) check();
  }
}

describe.each([
  [
    'memory',
    async () => ({
      backend: createMemoryBackend({ streamLogTtlSeconds: 3600 }),
      cleanup: async () => {},
    }),
  ],
  [
    'redis',
    async () => {
      const keyPrefix = `test:${randomUUID()}:`;
      const backend = await createRedisBackend({
        url: SHARED_REDIS_URL,
        keyPrefix,
        streamLogTtlSeconds: 3600,
      });
      return { backend, cleanup: () => deleteKeys(SHARED_REDIS_URL, keyPrefix) };
    },
  ],
] as const)('batched reads (%s backend)', (_kind, makeBackend) => {
  let server: TestServer;
  let ws: Client;
  let cleanup: () => Promise<void> = async () => {};
  const counter = new CountingBackend();
  let exchanges = 0;

  beforeAll(async () => {
    const made = await makeBackend();
    cleanup = made.cleanup;
    server = await startServer({
      env: { LOCAL_LLM_TOKEN_DELAY_MS: '0' },
      overrides: { backend: counter.wrap(made.backend) },
    });
    ws = wsClient(server);
  });

  afterAll(async () => {
    await ws?.dispose();
    await server?.close();
    await cleanup();
  });

  /** Creates `sessions` sessions with `perSession` exchanges each, every answer COMPLETED. */
  async function converse(sessions: number, perSession: number): Promise<void> {
    await Promise.all(
      Array.from({ length: sessions }, async () => {
        const created = await gqlData<{ createSession: { id: string } }>(
          server,
          'mutation { createSession(input: {}) { id } }',
        );
        for (let turn = 0; turn < perSession; turn++) {
          const sent = await gqlData<{ sendMessage: { assistantMessage: { id: string } } }>(
            server,
            'mutation ($input: SendMessageInput!) { sendMessage(input: $input) { assistantMessage { id } } }',
            { input: { sessionId: created.createSession.id, content: `question ${turn}` } },
          );
          const stream = await collectWs(ws, sent.sendMessage.assistantMessage.id);
          expect(stream.end?.message?.status).toBe('COMPLETED');
        }
      }),
    );
    exchanges += sessions * perSession;
    // A generation releases its session claim after the MessageEnd: wait until all have.
    await counter.completedCalls('store.releaseSession', exchanges);
  }

  /** Runs the nested query and returns its data with the backend calls it made. */
  async function measure(): Promise<{ data: NestedData; calls: Record<string, number> }> {
    counter.reset();
    const data = await gqlData<NestedData>(server, NESTED);
    return { data, calls: counter.snapshot() };
  }

  it('makes the same few backend reads for sessions → messages → session with 20 x 10 rows as with 2 x 2', async () => {
    await converse(2, 1);
    const small = await measure();
    expect(small.data.sessions.edges).toHaveLength(2);
    for (const edge of small.data.sessions.edges) expect(edge.node.messages.edges).toHaveLength(2);

    await converse(20, 5);
    const large = await measure();
    expect(large.data.sessions.edges).toHaveLength(20);
    for (const { node } of large.data.sessions.edges) {
      expect(node.messages.edges).toHaveLength(10);
      for (const message of node.messages.edges) {
        expect(message.node.session.id).toBe(node.id);
        expect(message.node.content).not.toBe('');
      }
    }

    expect(large.calls).toEqual(small.calls);
    expect(Object.values(small.calls).reduce((sum, count) => sum + count, 0)).toBeLessThanOrEqual(
      5,
    );
  });

  it('reads session(id) with its page of messages in one call, giving what node(id) gives, page shape after page shape', async () => {
    const { sessions } = await gqlData<{ sessions: { edges: { node: { id: string } }[] } }>(
      server,
      '{ sessions(first: 1) { edges { node { id } } } }',
    );
    const id = sessions.edges[0]!.node.id;
    const page =
      'edges { cursor node { id role content } } pageInfo { hasNextPage hasPreviousPage startCursor endCursor }';
    const { node: start } = await gqlData<{ node: { messages: { edges: { cursor: string }[] } } }>(
      server,
      `query($id: ID!) { node(id: $id) { ... on Session { messages(first: 3) { ${page} } } } }`,
      { id },
    );
    const cursor = start.messages.edges[1]!.cursor;
    const ONE_READ = { 'store.getSessionWithMessages': 1 };
    const cases: { selection: string; fragment?: string; oneRead: boolean }[] = [
      { selection: `title messages(first: 3) { ${page} }`, oneRead: true },
      { selection: `messages { ${page} }`, oneRead: true },
      { selection: `messages(first: 0) { ${page} }`, oneRead: true },
      { selection: `messages(first: 3, after: $cursor) { ${page} }`, oneRead: true },
      { selection: `messages(first: 2, before: $cursor) { ${page} }`, oneRead: true },
      {
        selection: `...Page`,
        fragment: `fragment Page on Session { messages(first: 4) { ${page} } }`,
        oneRead: true,
      },
      { selection: `... on Session { messages(first: 4) { ${page} } }`, oneRead: true },
      { selection: `messages(last: 2) { ${page} }`, oneRead: false },
      { selection: `messages(first: 2) @include(if: true) { ${page} }`, oneRead: false },
      {
        selection: `a: messages(first: 2) { ${page} } b: messages(first: 3, after: $cursor) { ${page} }`,
        oneRead: false,
      },
      { selection: `messages(first: 101) { ${page} }`, oneRead: false },
      { selection: `messages(after: "not a cursor") { ${page} }`, oneRead: false },
    ];
    const codes = (response: { errors?: { extensions?: { code?: unknown } }[] }) =>
      response.errors?.map((error) => error.extensions?.code);
    for (const { selection, fragment = '', oneRead } of cases) {
      const refused = selection.includes('101') || selection.includes('not a cursor');
      const usesCursor = selection.includes('$cursor');
      const variables = usesCursor ? { id, cursor } : { id };
      const declared = usesCursor ? '$id: ID!, $cursor: String' : '$id: ID!';
      counter.reset();
      const direct = await gql<Record<string, unknown>>(
        server,
        `query(${declared}) { session(id: $id) { ${selection} } } ${fragment}`,
        variables,
      );
      const calls = counter.snapshot();
      const viaNode = await gql<Record<string, unknown>>(
        server,
        `query(${declared}) { node(id: $id) { ... on Session { ${selection} } } } ${fragment}`,
        variables,
      );
      if (refused) expect(codes(direct), selection).toEqual(['BAD_USER_INPUT']);
      else expect(direct.data?.session, selection).toBeTruthy();
      expect({ selection, data: direct.data?.session ?? null }).toEqual({
        selection,
        data: viaNode.data?.node ?? null,
      });
      expect(codes(direct)).toEqual(codes(viaNode));
      if (oneRead) expect({ selection, calls }).toEqual({ selection, calls: ONE_READ });
      else expect(calls['store.getSessionWithMessages'] ?? 0).toBeLessThanOrEqual(1);
    }
    const missing = await gql(
      server,
      `query($id: ID!) { session(id: $id) { messages(first: 3) { ${page} } } }`,
      {
        id: id.replace(/.$/, (last) => (last === '0' ? '1' : '0')),
      },
    );
    expect(missing.errors?.map((error) => error.extensions?.code)).toEqual(['NOT_FOUND']);
  });
});
