import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { codesOf, wsExecute } from '../support/assertions.js';
import {
  type CallOptions,
  collectSse,
  type GraphQLResponse,
  gql,
  gqlData,
  startConversation,
  wsClient,
} from '../support/client.js';
import { deleteKeys, SHARED_REDIS_URL } from '../support/redis.js';
import { type BackendKind, startServer, type TestServer } from '../support/server.js';
import { until } from '../support/wait.js';

const T0 = Date.parse('2030-01-01T00:00:00Z');

interface Cost {
  requested: number;
  actual: number;
  limit: number;
  remaining: number;
  restoreRate: number;
  resetAt: string;
}

const costOf = (response: GraphQLResponse<unknown>) =>
  (response as { extensions?: { cost?: Cost } }).extensions?.cost;

/** A server whose buckets run on a clock the test moves. */
async function clockedServer(
  backend: BackendKind,
  env: Record<string, string>,
  keyPrefix?: string,
  refundHoldMs?: number,
) {
  const clock = { now: T0 };
  const server = await startServer({
    backend,
    keyPrefix,
    env,
    overrides: { now: () => clock.now, refundHoldMs },
  });
  return { server, clock };
}

describe.each<BackendKind>(['memory', 'redis'])('query cost on the %s backend', (backend) => {
  let server: TestServer;

  beforeAll(async () => {
    ({ server } = await clockedServer(backend, {
      RATE_LIMIT_POINTS: '1000',
      RATE_LIMIT_RESTORE_RATE: '50',
      MAX_OPERATION_COST: '1000',
    }));
  });
  afterAll(async () => {
    await server?.close();
  });

  it('an object costs 1, scalars 0: { viewer { principal } } costs 1, and the response says so', async () => {
    const response = await gql(server, '{ viewer { principal } }');

    expect(costOf(response)).toEqual({
      requested: 1,
      actual: 1,
      limit: 1000,
      remaining: 999,
      restoreRate: 50,
      resetAt: new Date(T0 + 20).toISOString(),
    });
    expect(response.headers.get('ratelimit-limit')).toBe('1000');
    expect(response.headers.get('ratelimit-remaining')).toBe('999');
    expect(response.headers.get('ratelimit-reset')).toMatch(/^\d+$/);
    expect(response.headers.get('ratelimit-policy')).toBe('"points";q=1000;w=20');
    expect(response.headers.get('ratelimit')).toMatch(/^"points";r=999;t=\d+$/);
  });

  it('a mutation starts at 10: createSession { id } costs 11', async () => {
    const response = await gql(server, 'mutation { createSession(input: {}) { id } }');
    expect(costOf(response)).toMatchObject({ requested: 11, actual: 11 });
  });

  it('nested connections cost their pages: 1 + first × (edge + node + the node’s cost) + pageInfo', async () => {
    await startConversation(server, 'one question');
    const query = /* GraphQL */ `
      {
        sessions(first: 3) {
          edges { node { id messages(first: 4) { edges { node { id } } pageInfo { hasNextPage } } } }
          pageInfo { endCursor }
        }
      }
    `;
    const before = (
      await gqlData<{ rateLimit: { remaining: number } }>(server, '{ rateLimit { remaining } }')
    ).rateLimit.remaining;

    const response = await gql(server, query);

    // messages(first: 4): 1 + 4 × (edge 1 + node 1) + pageInfo 1 = 10;
    // sessions(first: 3): 1 + 3 × (edge 1 + node 1 + 10) + pageInfo 1 = 38.
    // Actually returned: 2 sessions (one from the test before), one with 2 messages:
    // 1 + (1 + 1 + (1 + 0 + 1)) + (1 + 1 + (1 + 2 × 2 + 1)) + 1 = 14.
    expect(costOf(response)).toMatchObject({ requested: 38, actual: 14 });
    expect(costOf(response)?.remaining).toBe(before - 14);
  });

  it('a slicing argument from a variable is counted per request, also for a document seen before', async () => {
    const query = 'query ($n: Int) { sessions(first: $n) { edges { node { id } } } }';
    const costs = [];
    for (const n of [2, 10, 2]) costs.push(costOf(await gql(server, query, { n }))?.requested);
    // 1 + n × (edge 1 + node 1)
    expect(costs).toEqual([5, 21, 5]);
  });

  it('over the maximum: COST_LIMIT_EXCEEDED with the requested cost, 400, and no resolver runs', async () => {
    const store = server.app.backend.store;
    const listSessions = store.listSessions.bind(store);
    let listed = 0;
    store.listSessions = (...args) => {
      listed++;
      return listSessions(...args);
    };
    try {
      const response = await gql(
        server,
        '{ sessions(first: 100) { edges { node { messages(first: 100) { edges { node { id } } } } } } }',
      );

      expect(response.status).toBe(400);
      expect(codesOf(response)).toEqual(['COST_LIMIT_EXCEEDED']);
      expect(response.errors?.[0]?.extensions?.cost).toEqual({ requested: 20301, maximum: 1000 });
      expect(response.data ?? null).toBeNull();
      expect(listed).toBe(0);
    } finally {
      store.listSessions = listSessions;
    }
  });

  it('rateLimit reports the bucket after this operation and its own cost', async () => {
    const data = await gqlData<{ rateLimit: { limit: number; cost: number; restoreRate: number } }>(
      server,
      '{ rateLimit { limit cost restoreRate resetAt } }',
    );
    expect(data.rateLimit).toMatchObject({ limit: 1000, cost: 1, restoreRate: 50 });
  });
});

describe.each<BackendKind>(['memory', 'redis'])('a small bucket on the %s backend', (backend) => {
  let server: TestServer;
  let clock: { now: number };

  beforeAll(async () => {
    ({ server, clock } = await clockedServer(backend, {
      RATE_LIMIT_POINTS: '10',
      RATE_LIMIT_RESTORE_RATE: '1',
    }));
  });
  afterAll(async () => {
    await server?.close();
  });

  it('an operation that can never fit the bucket is COST_LIMIT_EXCEEDED, not RATE_LIMITED forever', async () => {
    const response = await gql(server, 'mutation { createSession(input: {}) { id } }');
    expect(codesOf(response)).toEqual(['COST_LIMIT_EXCEEDED']);
    expect(response.errors?.[0]?.extensions?.cost).toEqual({ requested: 11, maximum: 10 });
  });

  it('drains, then refuses with 429, Retry-After and RATE_LIMITED, then refills at the restore rate', async () => {
    for (let index = 0; index < 10; index++) {
      const allowed = await gql(server, '{ viewer { principal } }');
      expect(allowed.status).toBe(200);
      expect(costOf(allowed)?.remaining).toBe(9 - index);
    }

    const refused = await gql(server, '{ viewer { principal } }');
    expect(refused.status).toBe(429);
    expect(refused.headers.get('retry-after')).toBe('1');
    expect(refused.headers.get('ratelimit-remaining')).toBe('0');
    expect(codesOf(refused)).toEqual(['RATE_LIMITED']);
    expect(refused.errors?.[0]?.extensions?.retryAfter).toBe(1);
    expect(refused.data ?? null).toBeNull();

    clock.now += 3_000;
    for (let index = 0; index < 3; index++) {
      expect((await gql(server, '{ viewer { principal } }')).status).toBe(200);
    }
    expect((await gql(server, '{ viewer { principal } }')).status).toBe(429);
  });

  it('a refused graphql-ws or SSE operation gets an error result and the socket stays open', async () => {
    clock.now += 60_000;
    for (let index = 0; index < 10; index++) await gql(server, '{ viewer { principal } }');
    const client = wsClient(server);
    try {
      const refused = await wsExecute(client, '{ viewer { principal } }');
      expect(codesOf(refused)).toEqual(['RATE_LIMITED']);
      expect(refused.errors?.[0]?.extensions?.retryAfter).toBe(1);
      const sse = await collectSse(server, `msg_${'0'.repeat(32)}`);
      expect(codesOf(sse.errors)).toEqual(['RATE_LIMITED']);

      clock.now += 5_000;
      const again = await wsExecute<{ viewer: { principal: string } }>(
        client,
        '{ viewer { principal } }',
      );
      expect(again.data?.viewer.principal).toBe('anonymous');
    } finally {
      await client.dispose();
    }
  });
});

describe('buckets shared by every instance through Redis', () => {
  const keyPrefix = `test:shared-bucket:${Date.now()}:`;
  let serverA: TestServer;
  let serverB: TestServer;

  beforeAll(async () => {
    const env = { RATE_LIMIT_POINTS: '5', RATE_LIMIT_RESTORE_RATE: '0.001' };
    ({ server: serverA } = await clockedServer('redis', env, keyPrefix));
    ({ server: serverB } = await clockedServer('redis', env, keyPrefix));
  });
  afterAll(async () => {
    await serverA?.close();
    await serverB?.close();
  });

  it('points spent on instance A are missing on instance B', async () => {
    for (let index = 0; index < 5; index++) {
      expect((await gql(serverA, '{ viewer { principal } }')).status).toBe(200);
    }
    const onB = await gql(serverB, '{ viewer { principal } }');
    expect(onB.status).toBe(429);
    expect(codesOf(onB)).toEqual(['RATE_LIMITED']);
  });
});

describe('refunds ride on the next debit through Redis', () => {
  const keyPrefix = `test:held-refunds:${Date.now()}:`;
  const query = '{ sessions(first: 3) { edges { node { id } } } }';
  let serverA: TestServer;
  let serverB: TestServer;
  let monitor: Redis;
  /** The bucket scripts the servers sent, in order: one line per round trip. */
  const bucketSteps: string[] = [];

  beforeAll(async () => {
    const env = { RATE_LIMIT_POINTS: '1000', RATE_LIMIT_RESTORE_RATE: '0.001' };
    // A hold no pause between two requests outlasts, on however loaded a machine: the last
    // refund is given back when A closes. (The hold's timer: tests/services/point-buckets.test.ts.)
    ({ server: serverA } = await clockedServer('redis', env, keyPrefix, 600_000));
    ({ server: serverB } = await clockedServer('redis', env, keyPrefix));
    monitor = await new Redis(SHARED_REDIS_URL).monitor();
    // An EVAL right after a refused EVALSHA (NOSCRIPT: this Redis had not run the script yet)
    // is the same round trip's retry, not a step of its own.
    let unansweredSha: string | undefined;
    monitor.on('monitor', (_time: string, args: string[], source: string) => {
      const command = args[0]?.toLowerCase();
      if (source === 'lua' || !args[3]?.startsWith(`${keyPrefix}ledger:`)) return;
      const step = args.slice(4).join(' ');
      if (command === 'evalsha') {
        bucketSteps.push(step);
        unansweredSha = step;
      } else if (command === 'eval' && unansweredSha !== step) bucketSteps.push(step);
    });
  });
  afterAll(async () => {
    monitor?.disconnect();
    await serverA?.close();
    await serverB?.close();
    await deleteKeys(SHARED_REDIS_URL, keyPrefix);
  });

  it('operations back to back cost one bucket script each, the last refund is given back at shutdown, and the other instance then sees every refund', async () => {
    const costs = [];
    for (let operation = 0; operation < 6; operation++)
      costs.push(costOf(await gql(serverA, query)));
    // 1 + 3 × (edge + node) asked; no session: 1 spent.
    expect(costs.map((cost) => [cost?.requested, cost?.actual])).toEqual(
      Array.from({ length: 6 }, () => [7, 1]),
    );
    expect(costs.map((cost) => cost?.remaining)).toEqual([999, 998, 997, 996, 995, 994]);
    // limit, restore rate, now, asked, credit: each debit after the first carries a refund.
    await until(() => bucketSteps.length === 6, { what: 'the six debits' });
    await serverA.close();
    await until(() => bucketSteps.length === 7, { what: 'the held refund given back' });
    expect(bucketSteps).toEqual([
      `1000 0.001 ${T0} 7 0`,
      ...Array.from({ length: 5 }, () => `1000 0.001 ${T0} 7 6`),
      `1000 0.001 ${T0} -6 0`,
    ]);
    const onB = await gqlData<{ rateLimit: { remaining: number } }>(
      serverB,
      '{ rateLimit { remaining } }',
    );
    expect(onB.rateLimit.remaining).toBe(993);
  });
});

describe('anonymous callers are counted per client IP', () => {
  const spoofed = (address: string): CallOptions => ({ headers: { 'x-forwarded-for': address } });
  const drain = async (server: TestServer, options: CallOptions) => {
    for (let index = 0; index < 3; index++)
      await gql(server, '{ viewer { principal } }', {}, options);
  };

  it('a spoofed X-Forwarded-For from an untrusted peer is ignored', async () => {
    const { server } = await clockedServer('memory', { RATE_LIMIT_POINTS: '3' });
    try {
      await drain(server, spoofed('203.0.113.9'));
      const other = await gql(server, '{ viewer { principal } }', {}, spoofed('203.0.113.10'));
      expect(other.status).toBe(429);
    } finally {
      await server.close();
    }
  });

  it('behind a trusted proxy each forwarded client has its own bucket', async () => {
    const { server } = await clockedServer('memory', {
      RATE_LIMIT_POINTS: '3',
      TRUSTED_PROXIES: '127.0.0.1/32,::1',
    });
    try {
      await drain(server, spoofed('203.0.113.9'));
      expect(
        (await gql(server, '{ viewer { principal } }', {}, spoofed('203.0.113.9'))).status,
      ).toBe(429);
      const other = await gql(server, '{ viewer { principal } }', {}, spoofed('203.0.113.10'));
      expect(other.status).toBe(200);
      // A client that puts its own chain in front is still known by the proxy's last hop.
      const chained = await gql(
        server,
        '{ viewer { principal } }',
        {},
        spoofed('198.51.100.1, 203.0.113.9'),
      );
      expect(chained.status).toBe(429);
    } finally {
      await server.close();
    }
  });
});

describe('COST_LIMITING=off', () => {
  it('computes, charges and reports nothing: no extensions.cost, no RateLimit headers, no refusal', async () => {
    const server = await startServer({
      env: { COST_LIMITING: 'off', RATE_LIMIT_POINTS: '1', MAX_OPERATION_COST: '1' },
    });
    try {
      const response = await gql(server, 'mutation { createSession(input: {}) { id } }');
      expect(response.status).toBe(200);
      expect(response.errors).toBeUndefined();
      expect(costOf(response)).toBeUndefined();
      expect(response.headers.get('ratelimit-limit')).toBeNull();
    } finally {
      await server.close();
    }
  });
});
