import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { collectWs, gqlData, wsClient } from '../../support/client.js';
import { FakeOpenAI } from '../../support/fake-openai.js';
import { startServer, type TestServer } from '../../support/server.js';
import { GUIDE, INGEST, ingest, QUERY_WITH_ANSWER, query, refusal } from './operations.js';

const API_KEYS = 'alice:key-alice,ops:key-ops:admin';
const ALICE = { apiKey: 'key-alice' };

const chatRequests = (upstream: FakeOpenAI) =>
  upstream.requests.filter((request) => request.path.endsWith('/chat/completions'));

describe.each(['memory', 'redis'] as const)(
  'retrieval with an OpenAI-compatible upstream (%s)',
  (backend) => {
    let upstream: FakeOpenAI;
    let server: TestServer;

    beforeAll(async () => {
      upstream = await new FakeOpenAI().start();
      server = await startServer({
        backend,
        env: {
          API_KEYS,
          OPENAI_BASE_URL: upstream.baseURL,
          OPENAI_API_KEY: 'test',
          EMBEDDINGS_MODEL: 'fake-embed',
          EMBEDDINGS_BATCH_SIZE: '2',
          RAG_CHUNK_TOKENS: '60',
          RAG_CHUNK_OVERLAP: '10',
          LLM_RETRY_MAX_ATTEMPTS: '1',
          BREAKER_FAILURE_THRESHOLD: '2',
        },
      });
    });
    afterAll(async () => {
      await server?.close();
      await upstream?.close();
    });

    it('ingest embeds through /v1/embeddings in batches, and the query finds the chunk', async () => {
      const before = upstream.embeddingRequests.length;
      const document = await ingest(server, { title: 'Guide', text: GUIDE }, ALICE);
      const calls = upstream.embeddingRequests.slice(before);
      expect(calls.length).toBe(Math.ceil(document.chunkCount / 2));
      expect(calls.every((call) => call.body.model === 'fake-embed')).toBe(true);
      const result = await query(server, { query: 'emperor penguins' }, ALICE);
      expect(result.degraded).toBe(false);
      expect(result.chunks[0]?.text).toContain('Emperor penguins');
    });

    it('answer is generated only when selected, from the chunks with numbered markers', async () => {
      const before = chatRequests(upstream).length;
      await query(server, { query: 'emperor penguins' }, ALICE);
      expect(chatRequests(upstream).length).toBe(before);
      upstream.enqueue({ chunks: ['Penguins huddle [1].'] });
      const data = await gqlData<{ ragQuery: { answer: string; chunks: { text: string }[] } }>(
        server,
        QUERY_WITH_ANSWER,
        { input: { query: 'emperor penguins', k: 2 } },
        ALICE,
      );
      expect(data.ragQuery.answer).toBe('Penguins huddle [1].');
      const sent = chatRequests(upstream).slice(before);
      expect(sent.length).toBe(1);
      const prompt = sent[0]!.body.messages.map((message) => message.content).join('\n');
      expect(prompt).toContain(`[1] Guide\n${data.ragQuery.chunks[0]!.text}`);
      expect(prompt).toContain('[2] Guide');
    });

    it('a grounded sendMessage sends the chunks upstream and stores them as Message.sources', async () => {
      const session = await gqlData<{ createSession: { id: string } }>(
        server,
        'mutation { createSession(input: {}) { id } }',
        {},
        ALICE,
      );
      const before = chatRequests(upstream).length;
      upstream.enqueue({ chunks: ['They huddle [1].'] });
      const sent = await gqlData<{
        sendMessage: { assistantMessage: { id: string; sources: { text: string }[] } };
      }>(
        server,
        `mutation ($input: SendMessageInput!) {
        sendMessage(input: $input) { assistantMessage { id sources { text } } }
      }`,
        {
          input: {
            sessionId: session.createSession.id,
            content: 'What do emperor penguins do in winter?',
            rag: { k: 2 },
          },
        },
        ALICE,
      );
      const { id, sources } = sent.sendMessage.assistantMessage;
      expect(sources.length).toBe(2);
      expect(sources[0]?.text).toContain('Emperor penguins');
      const client = wsClient(server, { authorization: 'Bearer key-alice' });
      const stream = await collectWs(client, id);
      await client.dispose();
      expect(stream.text).toBe('They huddle [1].');
      const request = chatRequests(upstream)[before]!;
      const system = request.body.messages
        .filter((message) => message.role === 'system')
        .map((m) => m.content)
        .join('\n');
      expect(system).toContain('[1] Guide');
      expect(system).toContain(sources[0]!.text);
      expect(system).toContain('Cite the sources');
      const stored = await gqlData<{
        node: { status: string; sources: { text: string; document: { title: string } }[] };
      }>(
        server,
        'query ($id: ID!) { node(id: $id) { ... on Message { status sources { text document { title } } } } }',
        { id },
        ALICE,
      );
      expect(stored.node.status).toBe('COMPLETED');
      expect(stored.node.sources.map((source) => source.text)).toEqual(
        sources.map((source) => source.text),
      );
    });

    it('embeddings down: the breaker opens, ingest is UPSTREAM_UNAVAILABLE, queries answer from BM25 alone, health is DEGRADED', async () => {
      upstream.embeddingsFailure = 503;
      try {
        for (let attempt = 0; attempt < 2; attempt++) {
          const failed = await refusal(
            server,
            INGEST,
            { input: { title: 'X', text: 'Krill swarm.' } },
            ALICE,
          );
          expect(failed.code).toBe('UPSTREAM_UNAVAILABLE');
        }
        const callsBefore = upstream.embeddingRequests.length;
        const refused = await refusal(
          server,
          INGEST,
          { input: { title: 'X', text: 'Krill swarm.' } },
          ALICE,
        );
        expect(refused.code).toBe('UPSTREAM_UNAVAILABLE');
        expect(upstream.embeddingRequests.length).toBe(callsBefore);
        const result = await query(server, { query: 'emperor penguins' }, ALICE);
        expect(result.degraded).toBe(true);
        expect(result.chunks[0]?.text).toContain('Emperor penguins');
        expect(result.chunks[0]?.score).toBe(1);
        const health = await gqlData<{
          health: { status: string; checks: { name: string; status: string }[] };
        }>(server, '{ health { status checks { name status } } }', {}, { apiKey: 'key-ops' });
        expect(health.health.status).toBe('DEGRADED');
        expect(health.health.checks).toContainEqual({
          name: 'breaker:embeddings',
          status: 'DEGRADED',
        });
        const listed = await gqlData<{ documents: { edges: { node: { title: string } }[] } }>(
          server,
          '{ documents { edges { node { title } } } }',
          {},
          ALICE,
        );
        expect(listed.documents.edges.map((edge) => edge.node.title)).not.toContain('X');
      } finally {
        upstream.embeddingsFailure = undefined;
      }
    });
  },
);
