import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { collectWs, gqlData, startConversation, wsClient } from '../support/client.js';
import { deleteKeys, freePort, SHARED_REDIS_URL } from '../support/redis.js';
import { startServer, type TestServer } from '../support/server.js';
import { until } from '../support/wait.js';

const LEASE = { GENERATION_LEASE_MS: '900', GENERATION_SWEEP_INTERVAL_MS: '200' };

describe('an instance killed mid-answer', () => {
  const keyPrefix = `test:${randomUUID()}:`;
  let doomed: ChildProcess | undefined;
  let survivor: TestServer | undefined;

  afterAll(async () => {
    if (doomed && doomed.exitCode === null) doomed.kill('SIGKILL');
    await survivor?.close();
    await deleteKeys(SHARED_REDIS_URL, keyPrefix);
  });

  it('leaves no STREAMING message: another instance ends it INTERRUPTED with its partial text', async () => {
    const port = await freePort();
    doomed = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
      env: {
        PATH: process.env.PATH,
        PORT: String(port),
        HOST: '127.0.0.1',
        NODE_ENV: 'test',
        LOG_LEVEL: 'silent',
        REDIS_URL: SHARED_REDIS_URL,
        REDIS_KEY_PREFIX: keyPrefix,
        LOCAL_LLM_TOKEN_DELAY_MS: '50',
        ...LEASE,
      },
      stdio: 'ignore',
    });
    const doomedServer = { httpUrl: `http://127.0.0.1:${port}/graphql` };
    await until(
      async () =>
        (await fetch(`http://127.0.0.1:${port}/ready`).catch(() => undefined))?.ok === true,
      { timeoutMs: 20_000, intervalMs: 50, what: 'the doomed instance to start' },
    );
    survivor = await startServer({ backend: 'redis', keyPrefix, env: LEASE });

    const { sessionId, assistantMessageId } = await startConversation(doomedServer, 'a long one');
    const client = wsClient(survivor);
    let deltas = 0;
    let killed = false;
    const stream = collectWs(client, assistantMessageId, undefined, {
      onEvent: () => {
        deltas++;
        if (deltas === 5 && !killed) {
          killed = true;
          doomed?.kill('SIGKILL');
        }
      },
    });
    const ended = await stream;
    await client.dispose();

    expect(killed).toBe(true);
    expect(ended.events.filter((event) => event.__typename === 'MessageEnd')).toHaveLength(1);
    expect(ended.end?.message?.status).toBe('INTERRUPTED');
    expect(ended.end?.message?.error?.code).toBe('GENERATION_LOST');
    expect(ended.text.length).toBeGreaterThan(0);
    expect(ended.end?.message?.content).toBe(ended.text);

    const next = await gqlData<{ sendMessage: { assistantMessage: { id: string } } }>(
      survivor,
      'mutation($input: SendMessageInput!) { sendMessage(input: $input) { assistantMessage { id } } }',
      { input: { sessionId, content: 'are you still there?' } },
    );
    expect(next.sendMessage.assistantMessage.id).toMatch(/^msg_/);
  });
});
