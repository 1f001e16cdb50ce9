import type { Client } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type CollectedStream,
  collectSse,
  collectWs,
  startConversation,
  textReaches,
  wsClient,
} from '../support/client.js';
import { FakeOpenAI } from '../support/fake-openai.js';
import { type BackendKind, startServer, type TestServer } from '../support/server.js';
import { until } from '../support/wait.js';

const CHUNKS = Array.from({ length: 12 }, (_, index) => `w${index} `);
const FULL_TEXT = CHUNKS.join('');
const SUBSCRIBERS = 10;

/** The same stream, selected with a variable that changes how each event executes. */
const TEXT_IF = /* GraphQL */ `
  subscription Maybe($messageId: ID!, $withText: Boolean!) {
    messageStream(messageId: $messageId) {
      __typename
      ... on MessageDelta { seq cursor text @include(if: $withText) }
      ... on MessageEnd { cursor message { status content } }
    }
  }
`;

interface MaybeEvent {
  __typename: string;
  seq?: number;
  text?: string;
  message?: { status: string; content: string };
}

async function collectMaybe(client: Client, messageId: string, withText: boolean) {
  const events: MaybeEvent[] = [];
  for await (const result of client.iterate<{ messageStream: MaybeEvent }>({
    query: TEXT_IF,
    variables: { messageId, withText },
  })) {
    if (result.data) events.push(result.data.messageStream);
  }
  return events;
}

function expectWhole(stream: CollectedStream) {
  expect(stream.errors).toEqual([]);
  expect(stream.deltas.map((delta) => delta.seq)).toEqual(
    stream.deltas.map((_, index) => index + 1),
  );
  expect(stream.events.filter((event) => event.__typename === 'MessageEnd')).toHaveLength(1);
  expect(stream.text).toBe(FULL_TEXT);
  expect(stream.end?.message?.content).toBe(FULL_TEXT);
}

/**
 * Many subscribers of one message on one instance: each event is executed and serialised once
 * per group of subscribers that select it alike, and every subscriber still gets its whole
 * stream. One long-lived server per backend runs the cases in sequence.
 */
describe.each<BackendKind>(['memory', 'redis'])('shared delivery on the %s backend', (backend) => {
  const upstream = new FakeOpenAI();
  let server: TestServer;
  const clients: Client[] = [];

  beforeAll(async () => {
    await upstream.start();
    server = await startServer({
      backend,
      env: {
        OPENAI_BASE_URL: upstream.baseURL,
        OPENAI_API_KEY: 'sk-test-upstream',
        LLM_MODEL: 'fake-model',
      },
    });
    for (let index = 0; index < SUBSCRIBERS; index++) clients.push(wsClient(server));
  });
  afterAll(async () => {
    await Promise.all(clients.map((client) => client.dispose()));
    upstream.release();
    await server?.close();
    await upstream.close();
  });

  /** Starts a held answer, subscribes `subscribe` to it, waits for all of them, then releases. */
  async function heldAnswer<T>(count: number, subscribe: (messageId: string) => Promise<T>[]) {
    upstream.enqueue({ chunks: CHUNKS, holdAfter: 0 });
    const before = server.app.services.streams.openCount;
    const { assistantMessageId } = await startConversation(server, 'Shared?');
    const streams = subscribe(assistantMessageId);
    await until(() => server.app.services.streams.openCount === before + count, {
      what: `${count} subscribers in place`,
    });
    const counts = server.app.streamDelivery();
    upstream.release();
    const results = await Promise.all(streams);
    return { results, before: counts, after: server.app.streamDelivery() };
  }

  it('ten subscribers of one message share one execution and one serialisation per event', async () => {
    const { results, before, after } = await heldAnswer(SUBSCRIBERS, (messageId) =>
      clients.map((client) => collectWs(client, messageId)),
    );
    for (const stream of results) expectWhole(stream);
    const first = results[0]!;
    for (const stream of results) expect(stream.events).toEqual(first.events);
    const events = first.events.length;
    const executed = after.executed - before.executed;
    expect(after.written - before.written).toBe(SUBSCRIBERS * events);
    // Unshared, it would be one per subscriber per event: ten times the events.
    if (backend === 'memory') expect(executed).toBe(events);
    else expect(executed).toBeLessThan(2 * events);
    expect(after.serialised - before.serialised).toBe(executed);
    expect(after.shared - before.shared).toBe(SUBSCRIBERS * events - executed);
    // Every event without errors was read past envelop's per-event hooks.
    expect(after.direct - before.direct).toBe(SUBSCRIBERS * events);
  });

  it('graphql-ws subscribers read past the per-event hooks get what SSE gets through them', async () => {
    const { results, before, after } = await heldAnswer(3, (messageId) => [
      collectWs(clients[0]!, messageId),
      collectWs(clients[1]!, messageId),
      collectSse(server, messageId),
    ]);
    const [ws, alsoWs, sse] = results as CollectedStream[];
    expectWhole(ws!);
    expectWhole(sse!);
    expect(alsoWs!.events).toEqual(ws!.events);
    expect(sse!.events).toEqual(ws!.events);
    expect(after.direct - before.direct).toBe(2 * ws!.events.length);
  });

  it('subscribers that select differently are executed apart, each whole', async () => {
    const { results, before, after } = await heldAnswer(4, (messageId) => [
      collectWs(clients[0]!, messageId),
      collectWs(clients[1]!, messageId),
      collectMaybe(clients[2]!, messageId, true).then((events) => ({ events })),
      collectMaybe(clients[3]!, messageId, false).then((events) => ({ events })),
    ]);
    const [full, alsoFull] = results as CollectedStream[];
    expectWhole(full!);
    expect(alsoFull!.events).toEqual(full!.events);
    const withText = (results[2] as { events: MaybeEvent[] }).events;
    const withoutText = (results[3] as { events: MaybeEvent[] }).events;
    expect(withText.map((event) => event.text ?? '').join('')).toBe(FULL_TEXT);
    expect(withoutText.every((event) => event.text === undefined)).toBe(true);
    expect(withoutText).toHaveLength(withText.length);
    expect(withoutText.at(-1)?.message).toEqual({ status: 'COMPLETED', content: FULL_TEXT });
    // Three groups (the shared document, and the other one once per value of $withText).
    const executed = after.executed - before.executed;
    expect(executed).toBeGreaterThanOrEqual(3 * full!.events.length);
    expect(executed).toBeLessThan(4 * full!.events.length);
  });

  it('a subscriber resuming from a cursor joins the others for what follows it', async () => {
    upstream.enqueue({ chunks: CHUNKS, holdAfter: 4 });
    const before = server.app.services.streams.openCount;
    const { assistantMessageId } = await startConversation(server, 'Resume?');
    const heldText = CHUNKS.slice(0, 4).join('');
    const held = textReaches(heldText);
    let heldCursor: string | undefined;
    let soFar = '';
    const early = collectWs(clients[0]!, assistantMessageId, undefined, {
      onEvent: (event) => {
        soFar += event.text ?? '';
        if (soFar === heldText) heldCursor = event.cursor;
        held.onEvent(event);
      },
    });
    await held.seen;
    const resumed = collectWs(clients[1]!, assistantMessageId, heldCursor);
    await until(() => server.app.services.streams.openCount === before + 2, {
      what: 'both subscribed',
    });
    upstream.release();
    const [whole, tail] = await Promise.all([early, resumed]);
    expectWhole(whole);
    expect(heldText + tail.text).toBe(FULL_TEXT);
    const resumedAt = whole.deltas.findIndex((delta) => delta.cursor === heldCursor);
    expect(resumedAt).toBeGreaterThanOrEqual(0);
    expect(tail.deltas).toEqual(whole.deltas.slice(resumedAt + 1));
    expect(tail.events.filter((event) => event.__typename === 'MessageEnd')).toHaveLength(1);
  });
});
