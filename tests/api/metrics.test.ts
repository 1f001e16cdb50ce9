import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { collectWs, gql, startConversation, wsClient } from '../support/client.js';
import { startServer, type TestServer } from '../support/server.js';

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** The Prometheus text exposition format: `# HELP`/`# TYPE` lines, then `name{labels} value`. */
function parsePrometheus(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match) throw new Error(`not a Prometheus sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const pair of (match[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
      labels[pair[1]!] = pair[2]!;
    }
    samples.push({ name: match[1]!, labels, value: Number(match[3]) });
  }
  return samples;
}

const sampleValue = (samples: Sample[], name: string, labels: Record<string, string> = {}) =>
  samples.find(
    (sample) =>
      sample.name === name &&
      Object.entries(labels).every(([key, value]) => sample.labels[key] === value),
  )?.value;

async function scrape(server: TestServer, token?: string) {
  return fetch(server.httpUrl.replace('/graphql', '/metrics'), {
    headers: token ? { authorization: `Bearer ${token}` } : {},
  });
}

describe('GET /metrics', () => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startServer({ env: { MAX_OPERATION_COST: '100' } });
  });
  afterAll(async () => {
    await server?.close();
  });

  it('counts operations by type, name and result, refusals included, in Prometheus text', async () => {
    await gql(server, 'query Who { viewer { principal } }');
    await gql(server, 'query Who { viewer { principal } }');
    await gql(server, 'query TooBig { sessions(first: 50) { edges { node { id } } } }');
    const { assistantMessageId } = await startConversation(server);
    const client = wsClient(server);
    await collectWs(client, assistantMessageId);

    const response = await scrape(server);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toContain('text/plain');
    const samples = parsePrometheus(await response.text());

    expect(
      sampleValue(samples, 'parley_graphql_operations_total', {
        type: 'query',
        name: 'Who',
        result: 'ok',
      }),
    ).toBe(2);
    expect(
      sampleValue(samples, 'parley_graphql_operations_total', {
        name: 'TooBig',
        result: 'COST_LIMIT_EXCEEDED',
      }),
    ).toBe(1);
    expect(
      sampleValue(samples, 'parley_graphql_operations_total', {
        type: 'subscription',
        result: 'ok',
      }),
    ).toBeGreaterThanOrEqual(1);
    const timedQueries = samples
      .filter(
        (sample) =>
          sample.name === 'parley_graphql_operation_duration_seconds_count' &&
          sample.labels.type === 'query',
      )
      .reduce((sum, sample) => sum + sample.value, 0);
    expect(timedQueries).toBeGreaterThanOrEqual(3);
    expect(sampleValue(samples, 'parley_websockets_open')).toBe(1);
    expect(
      sampleValue(samples, 'parley_breaker_state', { breaker: 'llm:local:parley-local-responder' }),
    ).toBe(0);
    expect(sampleValue(samples, 'process_cpu_user_seconds_total')).toBeGreaterThan(0);
    await client.dispose();
  });

  it('keeps label values bounded: names that are not plain identifiers count as "other"', async () => {
    await gql(server, `query ${'A'.repeat(80)} { viewer { principal } }`);
    const samples = parsePrometheus(await (await scrape(server)).text());
    expect(samples.some((sample) => sample.labels.name?.startsWith('AAAA'))).toBe(false);
    expect(sampleValue(samples, 'parley_graphql_operations_total', { name: 'other' })).toBe(1);
  });
});

describe('GET /metrics in production', () => {
  it('answers only the bearer of METRICS_TOKEN', async () => {
    const token = 'metrics-token-0123456789';
    const server = await startServer({
      env: { NODE_ENV: 'production', API_KEYS: 'ops:key-1', METRICS_TOKEN: token },
    });
    try {
      expect((await scrape(server)).status).toBe(401);
      expect((await scrape(server, 'wrong-token-0123456789')).status).toBe(401);
      const allowed = await scrape(server, token);
      expect(allowed.status).toBe(200);
      expect(await allowed.text()).toContain('parley_graphql_operations_total');
    } finally {
      await server.close();
    }
  });

  it('is refused while no METRICS_TOKEN is set', async () => {
    const server = await startServer({ env: { NODE_ENV: 'production', API_KEYS: 'ops:key-1' } });
    try {
      expect((await scrape(server)).status).toBe(403);
    } finally {
      await server.close();
    }
  });
});
