import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/infra/logger.js';
import { collectWs, gql, startConversation, wsClient } from '../support/client.js';
import { startServer, type TestServer } from '../support/server.js';

const SECRET_KEY = 'sk-parley-very-secret-key';
const PRIVATE_CONTENT = 'my private medical question 7f3a';

describe('logs', () => {
  const lines: Record<string, unknown>[] = [];
  const raw: string[] = [];
  let server: TestServer;

  beforeAll(async () => {
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        for (const line of chunk.toString().split('\n').filter(Boolean)) {
          raw.push(line);
          lines.push(JSON.parse(line) as Record<string, unknown>);
        }
        done();
      },
    });
    server = await startServer({
      env: { API_KEYS: `alice:${SECRET_KEY}` },
      overrides: { log: createLogger('info', sink) },
    });
    const { assistantMessageId } = await startConversation(server, PRIVATE_CONTENT, {
      apiKey: SECRET_KEY,
      headers: { 'x-request-id': 'req-from-client-1' },
    });
    const client = wsClient(server, { authorization: `Bearer ${SECRET_KEY}` });
    await collectWs(client, assistantMessageId);
    await client.dispose();
    await gql(server, '{ viewer { principal } }', {}, { apiKey: SECRET_KEY });
    await gql(server, 'query Who { viewer { principal } }', {}, { apiKey: SECRET_KEY });
    await gql(server, '{ viewer { principal } }', {}, { apiKey: 'wrong-key' });
  });
  afterAll(async () => {
    await server.close();
  });

  it('log one line per operation with its request id, principal and duration', () => {
    const operations = lines.filter((line) => line.msg === 'operation');
    expect(operations.length).toBeGreaterThanOrEqual(2);
    const sent = operations.find((line) => line.requestId === 'req-from-client-1');
    expect(sent).toMatchObject({ principal: 'alice', operation: 'mutation', errorCodes: [] });
    expect(typeof sent?.durationMs).toBe('number');
    const generated = operations.filter((line) => line.requestId !== 'req-from-client-1');
    expect(generated.length).toBeGreaterThan(0);
    expect(new Set(generated.map((line) => line.requestId)).size).toBe(generated.length);
    expect(
      lines.some((line) => line.msg === 'subscription started' && line.principal === 'alice'),
    ).toBe(true);
  });

  it('never contain an API key or message content at info level', () => {
    expect(raw.length).toBeGreaterThan(3);
    for (const line of raw) {
      expect(line).not.toContain(SECRET_KEY);
      expect(line).not.toContain('wrong-key');
      expect(line).not.toContain(PRIVATE_CONTENT);
    }
  });
});
