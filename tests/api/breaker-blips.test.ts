import type { Client } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type CollectedStream,
  collectWs,
  type GraphQLResponse,
  gql,
  gqlData,
  wsClient,
} from '../support/client.js';
import { FakeOpenAI, type UpstreamScript } from '../support/fake-openai.js';
import { startServer, type TestServer } from '../support/server.js';

const ADMIN = { apiKey: 'key-ops' };
/** Both presets' model breaker opens at the fifth failed answer in its window. */
const FAILED_ANSWERS_TO_OPEN = 5;
/** LLM_RETRY_MAX_ATTEMPTS' default: tries of one answer on one model. */
const ATTEMPTS = 3;
const BREAKER = { a: 'llm:primary:a', b: 'llm:primary:b' } as const;
type Model = keyof typeof BREAKER;

const ERROR_500: UpstreamScript = { status: 500 };
const ERROR_503: UpstreamScript = { status: 503 };

const SEND = /* GraphQL */ `
  mutation($input: SendMessageInput!) {
    sendMessage(input: $input) { assistantMessage { id } }
  }
`;
type Sent = { sendMessage: { assistantMessage: { id: string } } };
type Breakers = { admin: { breakers: { name: string; state: string; failures: number }[] } };

/**
 * One server for every case, in order and well inside the breakers' 60 s window, so what one
 * case leaves in a breaker counts in the next: blips that add up would open it. The breaker
 * settings are each preset's own; only the retry waits are shortened.
 */
describe.each(['development', 'production'])(
  'with the %s preset, breakers judge a model by its answers, not by its attempts',
  (preset) => {
    const upstream = new FakeOpenAI();
    let server: TestServer;
    let client: Client;
    /** Answers that failed on each model so far: what its breaker must have counted. */
    const failedAnswers: Record<Model, number> = { a: 0, b: 0 };

    beforeAll(async () => {
      await upstream.start();
      server = await startServer({
        env: {
          OPENAI_BASE_URL: upstream.baseURL,
          OPENAI_API_KEY: 'sk-test-upstream',
          LLM_MODEL: 'a',
          LLM_FALLBACK_MODELS: 'b',
          API_KEYS: 'ops:key-ops:chat+rag+admin',
          LLM_RETRY_BASE_DELAY_MS: '5',
          LLM_RETRY_MAX_DELAY_MS: '20',
          RESILIENCE_PRESET: preset,
        },
      });
      client = wsClient(server, ADMIN);
    });
    afterAll(async () => {
      upstream.release();
      await client?.dispose();
      await server?.close();
      await upstream.close();
    });

    async function send(): Promise<GraphQLResponse<Sent>> {
      const session = await gqlData<{ createSession: { id: string } }>(
        server,
        'mutation { createSession(input: {}) { id } }',
        {},
        ADMIN,
      );
      return gql<Sent>(
        server,
        SEND,
        { input: { sessionId: session.createSession.id, content: 'question' } },
        ADMIN,
      );
    }

    /** Sends a message and reads its answer to the end; counts the upstream requests it made. */
    async function answer(): Promise<{ stream: CollectedStream; requests: Record<Model, number> }> {
      const before = upstream.requests.length;
      const sent = await send();
      expect(sent.errors).toBeUndefined();
      const stream = await collectWs(client, sent.data!.sendMessage.assistantMessage.id);
      expect(stream.errors).toEqual([]);
      return { stream, requests: requestsSince(before) };
    }

    function requestsSince(index: number): Record<Model, number> {
      const models = upstream.requests.slice(index).map((request) => request.body.model);
      return {
        a: models.filter((model) => model === 'a').length,
        b: models.filter((model) => model === 'b').length,
      };
    }

    const stateFor = (model: Model) =>
      failedAnswers[model] >= FAILED_ANSWERS_TO_OPEN ? 'OPEN' : 'CLOSED';

    /** Each breaker counted one failure per failed answer, and is open from the fifth on. */
    async function expectBreakers(): Promise<void> {
      const listed = await gqlData<Breakers>(
        server,
        '{ admin { breakers { name state failures } } }',
        {},
        ADMIN,
      );
      expect(listed.admin.breakers).toHaveLength(2);
      for (const model of ['a', 'b'] as const) {
        expect(listed.admin.breakers).toContainEqual({
          name: BREAKER[model],
          state: stateFor(model),
          failures: failedAnswers[model],
        });
      }
    }

    it('a model that is down falls back; a blip on the fallback is ridden out; the next message is accepted', async () => {
      upstream.setDefaultFor('a', ERROR_500);

      const first = await answer();
      failedAnswers.a++;
      expect(first.stream.end?.message).toMatchObject({ status: 'COMPLETED', model: 'b' });
      expect(first.requests).toEqual({ a: ATTEMPTS, b: 1 });

      upstream.enqueueFor('b', ERROR_503, ERROR_503);
      const second = await answer();
      failedAnswers.a++;
      expect(second.stream.end?.message).toMatchObject({ status: 'COMPLETED', model: 'b' });
      expect(second.requests).toEqual({ a: ATTEMPTS, b: 3 });
      await expectBreakers();

      upstream.setDefaultFor('a', undefined);
      const third = await answer();
      expect(third.stream.end?.message).toMatchObject({ status: 'COMPLETED', model: 'a' });
      expect(third.requests).toEqual({ a: 1, b: 0 });
      await expectBreakers();
    });

    it('three two-503 blips in a row all complete and leave every breaker closed', async () => {
      for (let blip = 0; blip < 3; blip++) {
        upstream.enqueueFor('a', ERROR_503, ERROR_503);
        const blipped = await answer();
        expect(blipped.stream.end?.message).toMatchObject({ status: 'COMPLETED', model: 'a' });
        expect(blipped.requests).toEqual({ a: 3, b: 0 });
        await expectBreakers();
      }
    });

    it('a lasting outage opens a breaker at its fifth failed answer, not its fourth', async () => {
      upstream.setDefaultFor('a', ERROR_500).setDefaultFor('b', ERROR_500);
      // Model a failed two answers above, so its fifth comes first; b had none.
      expect(failedAnswers).toEqual({ a: 2, b: 0 });
      for (let outage = 0; outage < 4; outage++) {
        const aAdmitted = stateFor('a') === 'CLOSED';
        const failed = await answer();
        if (aAdmitted) failedAnswers.a++;
        failedAnswers.b++;
        expect(failed.stream.end?.message).toMatchObject({ status: 'FAILED', model: null });
        expect(failed.stream.end?.message?.error?.code).toBe('UPSTREAM_ERROR');
        // An open breaker costs its model nothing.
        expect(failed.requests).toEqual({ a: aAdmitted ? ATTEMPTS : 0, b: ATTEMPTS });
        await expectBreakers();
      }
      expect(failedAnswers).toEqual({ a: 5, b: 4 });
    });

    it('the fifth failed answer opens a breaker without cutting short the retries of an answer it had admitted', async () => {
      upstream.enqueueFor(
        'b',
        // The admitted answer's first try: held before its first token, then reset.
        { chunks: ['lost'], holdAfter: 0, resetAfter: 0 },
        ERROR_500,
        ERROR_500,
        ERROR_500,
        // Its retry, once the breaker has opened.
        { chunks: ['late ', 'answer'] },
      );
      const before = upstream.requests.length;
      const admitted = await send();
      expect(admitted.errors).toBeUndefined();
      const admittedStream = collectWs(client, admitted.data!.sendMessage.assistantMessage.id);
      expect((await upstream.request(before)).body.model).toBe('b');

      const failed = await answer();
      failedAnswers.b++;
      expect(failed.stream.end?.message?.status).toBe('FAILED');
      await expectBreakers();
      expect(stateFor('b')).toBe('OPEN');

      upstream.release();
      const late = await admittedStream;
      expect(late.errors).toEqual([]);
      expect(late.end?.message).toMatchObject({
        status: 'COMPLETED',
        model: 'b',
        content: 'late answer',
      });
      expect(requestsSince(before)).toEqual({ a: 0, b: 2 + ATTEMPTS });
      await expectBreakers();
    });

    it('with every breaker open, sendMessage is refused UPSTREAM_UNAVAILABLE and costs no request', async () => {
      const before = upstream.requests.length;

      const refused = await send();

      expect(refused.errors?.[0]?.extensions?.code).toBe('UPSTREAM_UNAVAILABLE');
      expect(upstream.requests.length).toBe(before);
    });
  },
);
