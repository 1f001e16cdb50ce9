import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createClient } from 'graphql-ws';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import {
  collectSse,
  collectWs,
  gql,
  gqlData,
  startConversation,
  wsClient,
} from '../support/client.js';
import { freePort } from '../support/redis.js';
import { startServer } from '../support/server.js';
import { until } from '../support/wait.js';

/** The real process, started as `npm start` would run it, so SIGTERM and the exit code are real. */
async function startProcess(port: number): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    env: {
      PATH: process.env.PATH,
      PORT: String(port),
      HOST: '127.0.0.1',
      NODE_ENV: 'test',
      LOCAL_LLM_TOKEN_DELAY_MS: '40',
      SHUTDOWN_GRACE_MS: '5000',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout?.resume();
  child.stderr?.resume();
  await until(
    async () => {
      try {
        return (await fetch(`http://127.0.0.1:${port}/health`)).ok;
      } catch {
        return false;
      }
    },
    { timeoutMs: 20_000, intervalMs: 50, what: 'the server to listen' },
  );
  return child;
}

describe('SIGTERM', () => {
  let child: ChildProcess | undefined;
  afterEach(() => {
    if (child && child.exitCode === null) child.kill('SIGKILL');
  });

  it('ends every open stream with a MessageEnd, closes sockets with 1001 and exits 0', async () => {
    const port = await freePort();
    child = await startProcess(port);
    const server = {
      httpUrl: `http://127.0.0.1:${port}/graphql`,
      wsUrl: `ws://127.0.0.1:${port}/graphql`,
    };
    const { assistantMessageId } = await startConversation(server, 'Tell me a long story.');
    const client = wsClient(server);
    // A socket with no operation stays open until the server closes it: that close must be 1001.
    const idle = createClient({
      url: server.wsUrl,
      webSocketImpl: WebSocket,
      lazy: false,
      retryAttempts: 0,
      // Its close is the point of the test, not an error to print.
      onNonLazyError: () => {},
    });
    const idleConnected = new Promise<void>((resolve) => idle.on('connected', () => resolve()));
    const idleClosed = new Promise<number>((resolve) =>
      idle.on('closed', (event) => resolve((event as { code: number }).code)),
    );
    await idleConnected;
    let firstDelta!: () => void;
    const streaming = new Promise<void>((resolve) => {
      firstDelta = resolve;
    });
    const overWs = collectWs(client, assistantMessageId, undefined, {
      onEvent: () => firstDelta(),
    });
    const overSse = collectSse(server, assistantMessageId);
    await streaming;
    const exited = once(child, 'exit');
    child.kill('SIGTERM');
    const [wsStream, sseStream] = await Promise.all([overWs, overSse]);
    const [exitCode] = (await exited) as [number | null];
    await client.dispose();

    for (const stream of [wsStream, sseStream]) {
      // No error: each transport completed the operation before its connection closed.
      expect(stream.errors).toEqual([]);
      expect(stream.events.filter((event) => event.__typename === 'MessageEnd')).toHaveLength(1);
      expect(stream.end?.message?.status).toBe('INTERRUPTED');
      expect(stream.end?.message?.error?.code).toBe('SERVER_SHUTDOWN');
      expect(stream.text).toBe(stream.end?.message?.content);
      expect(stream.text.length).toBeGreaterThan(0);
    }
    expect(await idleClosed).toBe(1001);
    expect(exitCode).toBe(0);
  });

  it('refuses new work while draining, with UPSTREAM_UNAVAILABLE', async () => {
    const server = await startServer();
    try {
      const { sessionId } = await startConversation(server);
      server.app.services.chat.stopAccepting();
      const created = await gql(server, 'mutation { createSession(input: {}) { id } }');
      const sent = await gql(
        server,
        'mutation($input: SendMessageInput!) { sendMessage(input: $input) { userMessage { id } } }',
        { input: { sessionId, content: 'one more?' } },
      );
      expect(created.errors?.[0]?.extensions?.code).toBe('UPSTREAM_UNAVAILABLE');
      expect(sent.errors?.[0]?.extensions?.code).toBe('UPSTREAM_UNAVAILABLE');
      const messages = await gqlData<{ session: { messages: { edges: unknown[] } } }>(
        server,
        'query($id: ID!) { session(id: $id) { messages { edges { cursor } } } }',
        { id: sessionId },
      );
      expect(messages.session.messages.edges).toHaveLength(2);
    } finally {
      await server.close();
    }
  });
});
