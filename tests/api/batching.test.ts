import { randomUUID } from 'node:crypto';
import type { Client } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMemoryBackend } from '../../src/infra/backend/memory.js';
import { createRedisBackend } from '../../src/infra/backend/redis/index.js';
import type { Backend } from '../../src/infra/backend/types.js';
import { collectWs, gqlData, wsClient } from '../support/client.js';
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
});
