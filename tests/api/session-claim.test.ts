import { setTimeout as delay } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Backend, Store, StreamLog } from '../../src/infra/backend/types.js';
import { backendCases } from '../support/backends.js';
import {
  type CollectedStream,
  collectWs,
  type GraphQLResponse,
  gql,
  gqlData,
  wsClient,
} from '../support/client.js';
import { FakeOpenAI } from '../support/fake-openai.js';
import { startServer, type TestServer } from '../support/server.js';

/** Renewal runs every third of the lease: every 100 ms here. */
const LEASE_MS = 300;
/** Long enough for two or three renewal ticks between releaseSession and the end event. */
const END_APPEND_DELAY_MS = 300;
/** A renewal that started before the answer ended lands after the release, before the end. */
const RENEWAL_DELAY_MS = 200;
/** Four chunks 40 ms apart: each answer outlives one renewal period. */
const ANSWER = { chunks: ['One ', 'answer ', 'per ', 'turn.'], delayMs: 40 };
const TURNS = 3;

const SEND = /* GraphQL */ `
  mutation($input: SendMessageInput!) {
    sendMessage(input: $input) { assistantMessage { id } }
  }
`;
type Sent = { sendMessage: { assistantMessage: { id: string } } };

/**
 * The real backend, slowed where a session claim can go wrong. Every end-event append takes
 * END_APPEND_DELAY_MS: finish() stores the message and releases the session, then spends that
 * long writing the end event, which is when a renewal that claims instead of extending takes the
 * free session back. With `slowRenewals`, a renewal (renewSessionClaim, or a claimSession by a
 * holder that already claimed once) waits RENEWAL_DELAY_MS before it reaches storage.
 */
class SlowedBackend {
  slowRenewals = false;
  slowedEnds = 0;
  slowedRenewals = 0;
  readonly backend: Backend;
  private readonly holders = new Set<string>();

  constructor(inner: Backend) {
    const renewal = async () => {
      if (!this.slowRenewals) return;
      this.slowedRenewals++;
      await delay(RENEWAL_DELAY_MS);
    };
    const overrides: Partial<Store> = {
      claimSession: async (sessionId, holder, ttlMs) => {
        if (this.holders.has(holder)) await renewal();
        this.holders.add(holder);
        return inner.store.claimSession(sessionId, holder, ttlMs);
      },
      renewSessionClaim: async (sessionId, holder, ttlMs) => {
        await renewal();
        return inner.store.renewSessionClaim(sessionId, holder, ttlMs);
      },
    };
    const store = new Proxy(inner.store, {
      get: (target, property, receiver) => {
        if (property in overrides) return overrides[property as keyof Store];
        const value = Reflect.get(target, property, receiver);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
    const streams: StreamLog = {
      append: async (messageId, events) => {
        if (events.some((event) => event.type === 'end')) {
          this.slowedEnds++;
          await delay(END_APPEND_DELAY_MS);
        }
        return inner.streams.append(messageId, events);
      },
      read: (messageId, afterSeq, limit) => inner.streams.read(messageId, afterSeq, limit),
      newestSeq: (messageId) => inner.streams.newestSeq(messageId),
      watch: (messageId, onEvent) => inner.streams.watch(messageId, onEvent),
      remove: (messageIds) => inner.streams.remove(messageIds),
    };
    // Both backends are plain objects: only the two slowed ports change.
    this.backend = { ...inner, store, streams };
  }
}

describe.each(backendCases())('the session claim on the %s backend', (_kind, backendCase) => {
  const upstream = new FakeOpenAI();
  let server: TestServer;
  let slowed: SlowedBackend;

  beforeAll(async () => {
    await upstream.start();
    upstream.setDefault(ANSWER);
    slowed = new SlowedBackend(await backendCase.create());
    server = await startServer({
      env: {
        OPENAI_BASE_URL: upstream.baseURL,
        OPENAI_API_KEY: 'sk-test-upstream',
        LLM_MODEL: 'fake-model',
        GENERATION_LEASE_MS: String(LEASE_MS),
      },
      overrides: { backend: slowed.backend },
    });
  });
  afterAll(async () => {
    await server?.close();
    await upstream.close();
    await backendCase.cleanup();
  });

  /**
   * TURNS answers in one session: each next message is sent the instant the previous answer's
   * MessageEnd arrives. Returns every sendMessage response and every stream.
   */
  async function converse() {
    const created = await gqlData<{ createSession: { id: string } }>(
      server,
      'mutation { createSession(input: {}) { id } }',
    );
    const sessionId = created.createSession.id;
    const send = (turn: number) =>
      gql<Sent>(server, SEND, { input: { sessionId, content: `question ${turn}` } });
    const client = wsClient(server);
    const sends: GraphQLResponse<Sent>[] = [];
    const streams: CollectedStream[] = [];
    let sending = send(0);
    try {
      for (let turn = 0; turn < TURNS; turn++) {
        const sent = await sending;
        sends.push(sent);
        if (!sent.data) break;
        const stream = await collectWs(
          client,
          sent.data.sendMessage.assistantMessage.id,
          undefined,
          {
            onEvent: (event) => {
              if (event.__typename === 'MessageEnd' && turn + 1 < TURNS) sending = send(turn + 1);
            },
          },
        );
        streams.push(stream);
      }
    } finally {
      await client.dispose();
    }
    return { sends, streams };
  }

  const noErrors = Array(TURNS).fill(null);
  const allCompleted = Array(TURNS).fill('COMPLETED');

  it('whoever has seen MessageEnd can send the next message at once, turn after turn', async () => {
    const endsBefore = slowed.slowedEnds;

    const { sends, streams } = await converse();

    expect(sends.map((sent) => sent.errors ?? null)).toEqual(noErrors);
    expect(streams.map((stream) => stream.end?.message?.status)).toEqual(allCompleted);
    // Every end event took the slow path: renewal ticks had time to fire inside finish().
    expect(slowed.slowedEnds - endsBefore).toBe(TURNS);
  });

  it('a renewal still on its way when the answer ends does not take the session back', async () => {
    slowed.slowRenewals = true;
    try {
      const { sends, streams } = await converse();

      expect(sends.map((sent) => sent.errors ?? null)).toEqual(noErrors);
      expect(streams.map((stream) => stream.end?.message?.status)).toEqual(allCompleted);
      // Each answer outlived a renewal period, so a renewal was in flight as it ended.
      expect(slowed.slowedRenewals).toBeGreaterThanOrEqual(TURNS);
    } finally {
      slowed.slowRenewals = false;
    }
  });
});
