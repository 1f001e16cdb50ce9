import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type CollectedStream,
  collectWs,
  gql,
  gqlData,
  startConversation,
  wsClient,
} from '../support/client.js';
import { PrivateRedis } from '../support/redis.js';
import { startServer, type TestServer } from '../support/server.js';
import { until } from '../support/wait.js';

const STREAMS = 20;
const MESSAGE =
  'query($id: ID!) { node(id: $id) { ... on Message { status content error { code } } } }';

type StoredMessage = { node: { status: string; content: string; error: { code: string } | null } };

/**
 * A private, persistent Redis is killed (-9) for 5 seconds under 20 streams, then restarted on
 * the same port from its append-only file: the server must notice, fail new requests fast, keep
 * every answer streaming from the model into its bounded buffer, and once Redis is back store it
 * and finish every stream COMPLETED and whole, with no restart.
 */
describe('a 5 second Redis outage', () => {
  const redis = new PrivateRedis({ persistent: true });
  let server: TestServer;
  let completedBefore: { id: string; content: string };
  let inFlight: { assistantMessageId: string; stream: Promise<CollectedStream> }[];
  let readyDuring: number;
  let healthDuring: { status: string; checks: { name: string; status: string }[] } | undefined;
  let createDuring: { code: string | undefined; ms: number };
  const closeSockets: (() => unknown)[] = [];

  beforeAll(async () => {
    await redis.start();
    server = await startServer({
      backend: 'redis',
      redisUrl: redis.url,
      env: { LOCAL_LLM_TOKEN_DELAY_MS: '60', RESILIENCE_PRESET: 'development' },
    });
    const finished = await startConversation(server, 'before the outage');
    const client = wsClient(server);
    closeSockets.push(() => client.dispose());
    const whole = await collectWs(client, finished.assistantMessageId);
    completedBefore = { id: finished.assistantMessageId, content: whole.text };

    inFlight = [];
    for (let index = 0; index < STREAMS; index++) {
      const { assistantMessageId } = await startConversation(server, `stream ${index}`);
      inFlight.push({
        assistantMessageId,
        stream: collectWs(client, assistantMessageId, undefined, { timeoutMs: 30_000 }),
      });
    }
    await until(() => server.app.services.streams.openCount === STREAMS, {
      what: 'all streams open',
    });

    await redis.stop();
    const base = server.httpUrl.replace('/graphql', '');
    await until(async () => (await fetch(`${base}/ready`)).status === 503, {
      what: '/ready to fail',
      intervalMs: 50,
    });
    readyDuring = (await fetch(`${base}/ready`)).status;
    healthDuring = (
      await gql<{ health: typeof healthDuring }>(
        server,
        '{ health { status checks { name status } } }',
      )
    ).data?.health;
    const started = Date.now();
    const created = await gql(server, 'mutation { createSession(input: {}) { id } }');
    createDuring = { code: created.errors?.[0]?.extensions?.code, ms: Date.now() - started };
    await new Promise((resolve) => setTimeout(resolve, 5_000 - (Date.now() - started)));
    await redis.start();
  }, 60_000);

  afterAll(async () => {
    for (const close of closeSockets) await close();
    await server?.close();
    await redis.destroy();
  });

  it('makes /ready answer 503 and health report the backend DOWN', () => {
    expect(readyDuring).toBe(503);
    expect(healthDuring?.status).toBe('DOWN');
    expect(healthDuring?.checks).toContainEqual({ name: 'backend', status: 'DOWN' });
  });

  it('fails requests that need Redis fast, with UPSTREAM_UNAVAILABLE', () => {
    expect(createDuring.code).toBe('UPSTREAM_UNAVAILABLE');
    expect(createDuring.ms).toBeLessThan(1_000);
  });

  it('rides it out: every open stream ends COMPLETED, whole, with exactly one MessageEnd', async () => {
    const streams = await Promise.all(inFlight.map((entry) => entry.stream));
    for (const stream of streams) {
      expect(stream.errors).toEqual([]);
      expect(stream.events.filter((event) => event.__typename === 'MessageEnd')).toHaveLength(1);
      expect(stream.events.at(-1)?.__typename).toBe('MessageEnd');
      expect(stream.end?.message?.status).toBe('COMPLETED');
      expect(stream.end?.message?.error).toBeNull();
      expect(stream.text.length).toBeGreaterThan(0);
      expect(stream.text).toBe(stream.end?.message?.content);
    }
  });

  it('recovers by itself: ready again, every answer stored whole, and a replay equals it', async () => {
    const base = server.httpUrl.replace('/graphql', '');
    await until(async () => (await fetch(`${base}/ready`)).status === 200, {
      timeoutMs: 20_000,
      intervalMs: 100,
      what: '/ready to recover',
    });
    const client = wsClient(server);
    closeSockets.push(() => client.dispose());
    for (const { assistantMessageId } of inFlight) {
      const replay = await collectWs(client, assistantMessageId, undefined, { timeoutMs: 20_000 });
      expect(replay.end?.message?.status).toBe('COMPLETED');
      const stored = await gqlData<StoredMessage>(server, MESSAGE, { id: assistantMessageId });
      expect(stored.node.status).toBe('COMPLETED');
      expect(stored.node.content).toBe(replay.text);
      expect(stored.node.content.length).toBeGreaterThan(0);
    }
  });

  it('lost no message completed before the outage', async () => {
    const stored = await gqlData<StoredMessage>(server, MESSAGE, { id: completedBefore.id });
    expect(stored.node).toEqual({
      status: 'COMPLETED',
      content: completedBefore.content,
      error: null,
    });
  });

  it('serves new answers live again (pub/sub resubscribed), with no restart', async () => {
    const base = server.httpUrl.replace('/graphql', '');
    await until(async () => (await fetch(`${base}/ready`)).status === 200, {
      timeoutMs: 20_000,
      intervalMs: 100,
    });
    const { assistantMessageId } = await startConversation(server, 'after the outage');
    const client = wsClient(server);
    closeSockets.push(() => client.dispose());
    const stream = await collectWs(client, assistantMessageId, undefined, { timeoutMs: 20_000 });
    expect(stream.end?.message?.status).toBe('COMPLETED');
    expect(stream.deltas.length).toBeGreaterThan(5);
    expect(stream.text).toBe(stream.end?.message?.content);
  });
});
