import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CollectedStream, collectWs, startConversation, wsClient } from '../support/client.js';
import { FakeOpenAI } from '../support/fake-openai.js';
import { startServer, type TestServer } from '../support/server.js';

const DEFAULT_MAX = 100;

describe.each<{ max: number; env: Record<string, string> }>([
  { max: 5, env: { MAX_SUBSCRIPTIONS_PER_SOCKET: '5' } },
  { max: DEFAULT_MAX, env: {} },
])('the per-socket subscription cap of $max', ({ max, env }) => {
  const upstream = new FakeOpenAI();
  let server: TestServer;

  beforeAll(async () => {
    await upstream.start();
    // Every answer sends one token and then waits for release(): its streams stay open.
    upstream.setDefault({ chunks: ['held ', 'answer'], holdAfter: 1 });
    server = await startServer({
      env: {
        OPENAI_BASE_URL: upstream.baseURL,
        OPENAI_API_KEY: 'sk-test-upstream',
        LLM_MODEL: 'fake-model',
        ...env,
      },
    });
  });
  afterAll(async () => {
    upstream.release();
    await server?.close();
    await upstream.close();
  });

  it('one socket runs exactly the maximum of streams; the next is BAD_USER_INPUT and the others stay open', async () => {
    const { assistantMessageId } = await startConversation(server);
    await upstream.request(0);
    const client = wsClient(server);
    const ended: CollectedStream[] = [];
    const started: Promise<unknown>[] = [];
    const streams = Array.from({ length: max }, () => {
      let firstEvent: () => void = () => {};
      started.push(new Promise<void>((resolve) => (firstEvent = resolve)));
      const stream = collectWs(client, assistantMessageId, undefined, {
        onEvent: () => firstEvent(),
      }).then((collected) => {
        ended.push(collected);
        return collected;
      });
      // A stream the server refused ends without an event: it has started (and failed) too.
      stream.then(() => firstEvent());
      return stream;
    });
    await Promise.all(started);
    expect(ended).toEqual([]);
    expect(server.app.services.streams.openCount).toBe(max);

    const refused = await collectWs(client, assistantMessageId, undefined, { timeoutMs: 5_000 });

    expect(refused.events).toEqual([]);
    expect(refused.errors).toHaveLength(1);
    expect(refused.errors[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(refused.errors[0]?.message).toBe(`At most ${max} operations may run on one socket.`);
    expect(ended).toEqual([]);
    expect(server.app.services.streams.openCount).toBe(max);

    upstream.release();
    const finished = await Promise.all(streams);
    await client.dispose();
    for (const stream of finished) {
      expect(stream.errors).toEqual([]);
      expect(stream.end?.message?.status).toBe('COMPLETED');
      expect(stream.text).toBe('held answer');
    }
  });
});
