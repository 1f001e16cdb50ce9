import { once } from 'node:events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { collectWs, gql, gqlData, startConversation, wsClient } from '../support/client.js';
import { FakeOpenAI } from '../support/fake-openai.js';
import { fetchMetrics, parseMetrics, type Scrape, scrape } from '../support/prometheus.js';
import { type BackendKind, startServer, type TestServer } from '../support/server.js';
import { INGEST, ingest } from './rag/operations.js';

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

    const response = await fetchMetrics(server);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toContain('text/plain');
    const metrics = await parseMetrics(await response.text());

    expect(metrics.typeOf('parley_graphql_operations_total')).toBe('counter');
    expect(
      metrics.value('parley_graphql_operations_total', {
        type: 'query',
        name: 'Who',
        result: 'ok',
      }),
    ).toBe(2);
    expect(
      metrics.value('parley_graphql_operations_total', {
        name: 'TooBig',
        result: 'COST_LIMIT_EXCEEDED',
      }),
    ).toBe(1);
    expect(
      metrics.value('parley_graphql_operations_total', { type: 'subscription', result: 'ok' }),
    ).toBeGreaterThanOrEqual(1);
    expect(metrics.typeOf('parley_graphql_operation_duration_seconds')).toBe('histogram');
    expect(
      metrics.histogram('parley_graphql_operation_duration_seconds', { type: 'query' }).count,
    ).toBeGreaterThanOrEqual(3);
    expect(metrics.value('parley_websockets_open')).toBe(1);
    expect(
      metrics.value('parley_breaker_state', { breaker: 'llm:local:parley-local-responder' }),
    ).toBe(0);
    expect(metrics.value('process_cpu_user_seconds_total')).toBeGreaterThan(0);
    await client.dispose();
  });

  it('keeps label values bounded: names that are not plain identifiers count as "other"', async () => {
    await gql(server, `query ${'A'.repeat(80)} { viewer { principal } }`);
    const metrics = await scrape(server);
    const names = metrics.labelValues('parley_graphql_operations_total', 'name');
    expect(names.some((name) => name.startsWith('AAAA'))).toBe(false);
    expect(metrics.value('parley_graphql_operations_total', { name: 'other' })).toBe(1);
  });
});

describe('GET /metrics in production', () => {
  it('answers only the bearer of METRICS_TOKEN', async () => {
    const token = 'metrics-token-0123456789';
    const server = await startServer({
      env: { NODE_ENV: 'production', API_KEYS: 'ops:key-1', METRICS_TOKEN: token },
    });
    try {
      expect((await fetchMetrics(server)).status).toBe(401);
      expect((await fetchMetrics(server, 'wrong-token-0123456789')).status).toBe(401);
      const allowed = await fetchMetrics(server, token);
      expect(allowed.status).toBe(200);
      expect(await allowed.text()).toContain('parley_graphql_operations_total');
    } finally {
      await server.close();
    }
  });

  it('outside production a METRICS_TOKEN that is set is asked for too', async () => {
    const token = 'metrics-token-0123456789';
    const server = await startServer({ env: { METRICS_TOKEN: token } });
    try {
      expect((await fetchMetrics(server)).status).toBe(401);
      expect((await fetchMetrics(server, token)).status).toBe(200);
    } finally {
      await server.close();
    }
  });

  it('is refused while no METRICS_TOKEN is set', async () => {
    const server = await startServer({ env: { NODE_ENV: 'production', API_KEYS: 'ops:key-1' } });
    try {
      expect((await fetchMetrics(server)).status).toBe(403);
    } finally {
      await server.close();
    }
  });
});

const MODEL = 'fake-model';
const FALLBACK = 'fake-fallback';
const EMBEDDINGS = 'fake-embed';

describe.each<BackendKind>(['memory', 'redis'])(
  'model, embeddings and Redis metrics after known traffic (%s)',
  (backend) => {
    const upstream = new FakeOpenAI();
    let server: TestServer;

    beforeAll(async () => {
      await upstream.start();
      server = await startServer({
        backend,
        env: {
          OPENAI_BASE_URL: upstream.baseURL,
          OPENAI_API_KEY: 'sk-test',
          LLM_MODEL: MODEL,
          LLM_FALLBACK_MODELS: FALLBACK,
          EMBEDDINGS_MODEL: EMBEDDINGS,
          LLM_RETRY_MAX_ATTEMPTS: '1',
          BREAKER_VOLUME_THRESHOLD: '1000',
          BREAKER_FAILURE_THRESHOLD: '1000',
        },
      });
    });
    afterAll(async () => {
      await server?.close();
      await upstream.close();
    });

    /** Streams one answer to its end; returns the scrapes before and after, and the answer. */
    const answered = async () => {
      const before = await scrape(server);
      const { assistantMessageId } = await startConversation(server);
      const client = wsClient(server);
      const stream = await collectWs(client, assistantMessageId);
      await client.dispose();
      return { before, after: await scrape(server), message: stream.end?.message };
    };
    const calls = (metrics: Scrape, model: string, result: string) =>
      metrics.value('parley_llm_model_calls_total', { model, result });
    const firstTokens = (metrics: Scrape, model: string) =>
      metrics.histogram('parley_llm_first_token_seconds', { model });
    const tokens = (metrics: Scrape, type: 'prompt' | 'completion') =>
      metrics.value('parley_llm_tokens_total', { model: MODEL, type });

    it('a streamed answer counts its tokens, one time to first token and one ok model call', async () => {
      upstream.enqueueFor(MODEL, {
        chunks: ['one ', 'two ', 'three'],
        usage: { prompt_tokens: 21, completion_tokens: 3 },
      });
      const { before, after, message } = await answered();
      expect(message?.status).toBe('COMPLETED');
      expect(after.typeOf('parley_llm_tokens_total')).toBe('counter');
      expect(tokens(after, 'prompt') - tokens(before, 'prompt')).toBe(21);
      expect(tokens(after, 'completion') - tokens(before, 'completion')).toBe(3);
      expect(after.typeOf('parley_llm_first_token_seconds')).toBe('histogram');
      expect(firstTokens(after, MODEL).count - firstTokens(before, MODEL).count).toBe(1);
      expect(firstTokens(after, MODEL).sum).toBeGreaterThan(firstTokens(before, MODEL).sum);
      expect(calls(after, MODEL, 'ok') - calls(before, MODEL, 'ok')).toBe(1);
      expect(calls(after, FALLBACK, 'ok') - calls(before, FALLBACK, 'ok')).toBe(0);
    });

    it('a text operation counts its tokens as answers do, and a cache hit counts none', async () => {
      upstream.enqueueFor(MODEL, {
        content: JSON.stringify({ summary: 'short' }),
        usage: { prompt_tokens: 40, completion_tokens: 6 },
      });
      const analyze = /* GraphQL */ `
        query Analyze($input: AnalyzeTextInput!) { analyzeText(input: $input) { summary cached } }
      `;
      const input = { text: `count my tokens ${backend}`, operation: 'SUMMARIZE' };
      const before = await scrape(server);
      const first = await gqlData<{ analyzeText: { cached: boolean } }>(server, analyze, { input });
      const afterFirst = await scrape(server);
      const second = await gqlData<{ analyzeText: { cached: boolean } }>(server, analyze, {
        input,
      });
      const afterSecond = await scrape(server);
      expect([first.analyzeText.cached, second.analyzeText.cached]).toEqual([false, true]);
      expect(tokens(afterFirst, 'prompt') - tokens(before, 'prompt')).toBe(40);
      expect(tokens(afterFirst, 'completion') - tokens(before, 'completion')).toBe(6);
      expect(tokens(afterSecond, 'prompt')).toBe(tokens(afterFirst, 'prompt'));
      expect(tokens(afterSecond, 'completion')).toBe(tokens(afterFirst, 'completion'));
    });

    it('a refused model call counts with its code, and the fallback that answered counts ok', async () => {
      upstream.enqueueFor(MODEL, { status: 500 });
      upstream.enqueueFor(FALLBACK, { chunks: ['from the fallback'] });
      const { before, after, message } = await answered();
      expect(message).toMatchObject({ status: 'COMPLETED', model: FALLBACK });
      expect(calls(after, MODEL, 'UPSTREAM_ERROR') - calls(before, MODEL, 'UPSTREAM_ERROR')).toBe(
        1,
      );
      expect(calls(after, FALLBACK, 'ok') - calls(before, FALLBACK, 'ok')).toBe(1);
      expect(firstTokens(after, FALLBACK).count - firstTokens(before, FALLBACK).count).toBe(1);
      expect(firstTokens(after, MODEL).count - firstTokens(before, MODEL).count).toBe(0);
    });

    it('a stream that breaks after its first token counts its first token and its failure', async () => {
      upstream.enqueueFor(MODEL, { chunks: ['half ', 'an ', 'answer'], truncate: true });
      const { before, after, message } = await answered();
      expect(message?.error?.code).toBe('UPSTREAM_INCOMPLETE');
      const failed = (metrics: Scrape) => calls(metrics, MODEL, 'UPSTREAM_INCOMPLETE');
      expect(failed(after) - failed(before)).toBe(1);
      expect(firstTokens(after, MODEL).count - firstTokens(before, MODEL).count).toBe(1);
      // Nothing reported by the upstream: the partial answer's usage is counted locally.
      expect(tokens(after, 'completion')).toBeGreaterThan(tokens(before, 'completion'));
    });

    it('model labels are only the configured models', async () => {
      const metrics = await scrape(server);
      const models = [
        ...metrics.labelValues('parley_llm_model_calls_total', 'model'),
        ...metrics.labelValues('parley_llm_tokens_total', 'model'),
        ...metrics.labelValues('parley_llm_first_token_seconds', 'model'),
      ];
      expect(models.length).toBeGreaterThan(0);
      expect(models.every((model) => [MODEL, FALLBACK].includes(model))).toBe(true);
    });

    it('embeddings calls count by model and result', async () => {
      const embedded = (metrics: Scrape, result: string) =>
        metrics.value('parley_embeddings_calls_total', { model: EMBEDDINGS, result });
      const before = await scrape(server);
      const requestsBefore = upstream.embeddingRequests.length;
      await ingest(server, { title: 'Penguins', text: 'Emperor penguins huddle in the cold.' });
      const requests = upstream.embeddingRequests.length - requestsBefore;
      expect(requests).toBeGreaterThan(0);
      const afterOk = await scrape(server);
      expect(embedded(afterOk, 'ok') - embedded(before, 'ok')).toBe(requests);

      upstream.embeddingsFailure = 500;
      try {
        await gql(server, INGEST, { input: { title: 'Seals', text: 'Seals dive deep.' } });
      } finally {
        upstream.embeddingsFailure = undefined;
      }
      const afterFailure = await scrape(server);
      expect(embedded(afterFailure, 'UPSTREAM_ERROR') - embedded(afterOk, 'UPSTREAM_ERROR')).toBe(
        1,
      );
    });

    it(
      backend === 'redis'
        ? 'Redis commands are timed, by command name'
        : 'no Redis command is timed without Redis',
      async () => {
        const metrics = await scrape(server);
        const family = 'parley_redis_command_duration_seconds';
        expect(metrics.typeOf(family)).toBe('histogram');
        const commands = metrics.labelValues(family, 'command');
        if (backend === 'memory') {
          expect(commands).toEqual([]);
          return;
        }
        // The event log appends by EVALSHA; transactions run MULTI ... EXEC.
        expect(metrics.histogram(family, { command: 'evalsha' }).count).toBeGreaterThan(0);
        expect(metrics.histogram(family, { command: 'exec' }).count).toBeGreaterThan(0);
        expect(metrics.histogram(family).sum).toBeGreaterThan(0);
        expect(commands.every((command) => /^[a-z.]+$/.test(command))).toBe(true);
      },
    );
  },
);

describe.each<BackendKind>(['memory', 'redis'])('limit refusals by kind (%s)', (backend) => {
  const ALICE = { apiKey: 'key-alice' };
  const BOB = { apiKey: 'key-bob' };
  let server: TestServer;
  const refusals = async (kind: string) =>
    (await scrape(server)).value('parley_limit_refusals_total', { kind });

  beforeAll(async () => {
    const frozen = Date.parse('2030-01-01T00:00:00Z');
    server = await startServer({
      backend,
      env: {
        API_KEYS: 'alice:key-alice,bob:key-bob',
        LLM_TOKEN_BUDGETS: 'bob:1',
        MAX_CONCURRENT_GENERATIONS: '1',
        // Long enough that the first answer is still streaming when the second is asked for.
        LOCAL_LLM_TOKEN_DELAY_MS: '200',
        MAX_OPERATION_COST: '100',
        RATE_LIMIT_POINTS: '150',
        RATE_LIMIT_RESTORE_RATE: '1',
        WS_MAX_CONNECTIONS_PER_PRINCIPAL: '1',
      },
      // The point buckets never refill: what is spent stays spent.
      overrides: { now: () => frozen },
    });
  });
  afterAll(async () => {
    await server?.close();
  });

  it('every kind is exported at 0 before any refusal', async () => {
    const metrics = await scrape(server);
    expect(metrics.typeOf('parley_limit_refusals_total')).toBe('counter');
    expect(metrics.labelValues('parley_limit_refusals_total', 'kind').sort()).toEqual(
      [
        'concurrent_generations',
        'concurrent_subscriptions',
        'contact_limit',
        'cost_limit',
        'rate_points',
        'token_budget',
        'websocket_connections',
        'websocket_message_rate',
      ].sort(),
    );
    expect(metrics.value('parley_limit_refusals_total')).toBe(0);
  });

  it('an operation over the cost limit counts as cost_limit', async () => {
    const response = await gql(
      server,
      'query TooBig { sessions(first: 100) { edges { node { id } } } }',
      {},
      ALICE,
    );
    expect(response.errors?.[0]?.extensions?.code).toBe('COST_LIMIT_EXCEEDED');
    expect(await refusals('cost_limit')).toBe(1);
  });

  const SEND = /* GraphQL */ `
    mutation ($input: SendMessageInput!) { sendMessage(input: $input) { assistantMessage { id } } }
  `;
  const send = async (options: { apiKey: string }) => {
    const created = await gqlData<{ createSession: { id: string } }>(
      server,
      'mutation { createSession(input: {}) { id } }',
      {},
      options,
    );
    const input = { sessionId: created.createSession.id, content: 'Hello?' };
    return gql<{ sendMessage: { assistantMessage: { id: string } } }>(
      server,
      SEND,
      { input },
      options,
    );
  };

  it('a sendMessage past the token budget counts as token_budget, not as the point bucket', async () => {
    const refused = await send(BOB);
    expect(refused.errors?.[0]?.extensions).toMatchObject({
      code: 'RATE_LIMITED',
      reason: 'TOKEN_BUDGET',
    });
    expect(await refusals('token_budget')).toBe(1);
    expect(await refusals('rate_points')).toBe(0);
  });

  it('a second answer while one streams counts as concurrent_generations', async () => {
    const first = await send(ALICE);
    expect(first.errors).toBeUndefined();
    const second = await send(ALICE);
    expect(second.errors?.[0]?.extensions).toMatchObject({
      code: 'RATE_LIMITED',
      reason: 'CONCURRENT_GENERATIONS',
    });
    expect(await refusals('concurrent_generations')).toBe(1);
  });

  it('a socket past the per-address cap counts as websocket_connections', async () => {
    const open = (socket: WebSocket) => once(socket, 'open');
    const kept = new WebSocket(server.wsUrl, 'graphql-transport-ws');
    await open(kept);
    const refused = new WebSocket(server.wsUrl, 'graphql-transport-ws');
    refused.on('error', () => {});
    const [code] = (await once(refused, 'close')) as [number];
    expect(code).toBe(4429);
    expect(await refusals('websocket_connections')).toBe(1);
    kept.close();
    await once(kept, 'close');
  });

  it('a drained point bucket counts as rate_points, once per refused operation', async () => {
    // One point each, spent for good (the actual cost is the requested one).
    const drain = 'query Drain { viewer { principal } }';
    let refused = 0;
    for (let attempt = 0; attempt < 200 && refused === 0; attempt++) {
      const response = await gql(server, drain, {}, ALICE);
      if (response.errors?.[0]?.extensions?.code === 'RATE_LIMITED') {
        expect(response.errors[0].extensions.reason).toBeUndefined();
        refused++;
      }
    }
    expect(refused).toBe(1);
    expect(await refusals('rate_points')).toBe(1);
    const metrics = await scrape(server);
    expect(
      metrics.value('parley_graphql_operations_total', { name: 'Drain', result: 'RATE_LIMITED' }),
    ).toBe(1);
  });
});
