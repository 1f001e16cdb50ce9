import { randomUUID } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { Unavailable } from '../../../src/errors.js';
import { createMemoryBackend } from '../../../src/infra/backend/memory.js';
import type { Store, StreamLog } from '../../../src/infra/backend/types.js';
import type { MessageRecord, Principal, StreamEvent } from '../../../src/model.js';
import { DEFAULT_READER_OPTIONS } from '../../../src/services/streams/stream-reader.js';
import { StreamService } from '../../../src/services/streams/stream-service.js';
import { until } from '../../support/wait.js';

const hexId = () => randomUUID().replaceAll('-', '');
const principal: Principal = { id: 'alice', scopes: ['chat'], anonymous: false };
const READERS = 50;

/** Counts what readers ask of storage. */
function counted(store: Store, streams: StreamLog) {
  const calls = { reads: 0, newestSeq: 0, getMessages: 0 };
  /** While set, live announcements are lost (what a lossy pub/sub does). */
  const channel = { deaf: false };
  const countedStreams: StreamLog = {
    append: (messageId, events) => streams.append(messageId, events),
    read: (messageId, afterSeq, limit) => {
      calls.reads++;
      return streams.read(messageId, afterSeq, limit);
    },
    newestSeq: (messageId) => {
      calls.newestSeq++;
      return streams.newestSeq(messageId);
    },
    watch: (messageId, onEvent) =>
      streams.watch(messageId, (event) => {
        if (!channel.deaf) onEvent(event);
      }),
    remove: (messageIds) => streams.remove(messageIds),
  };
  const countedStore = new Proxy(store, {
    get: (target, property, receiver) => {
      if (property === 'getMessages') {
        return (ids: readonly string[]) => {
          calls.getMessages++;
          return target.getMessages(ids);
        };
      }
      const value = Reflect.get(target, property, receiver);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
  return { calls, channel, store: countedStore, streams: countedStreams };
}

async function streamingMessage(store: Store): Promise<MessageRecord> {
  const now = new Date().toISOString();
  const sessionId = `ses_${hexId()}`;
  await store.createSession({
    id: sessionId,
    principal: principal.id,
    title: null,
    persona: 'default',
    createdAt: now,
    updatedAt: now,
  });
  const message: MessageRecord = {
    id: `msg_${hexId()}`,
    sessionId,
    principal: principal.id,
    role: 'ASSISTANT',
    content: '',
    status: 'STREAMING',
    error: null,
    model: null,
    usage: null,
    createdAt: now,
    completedAt: null,
  };
  await store.addMessage(message);
  return message;
}

describe('StreamService with many quiet readers of one message', () => {
  const backend = createMemoryBackend({ streamLogTtlSeconds: 3600 });
  const { calls, channel, store, streams } = counted(backend.store, backend.streams);
  const service = new StreamService({
    store,
    streams,
    readerOptions: { ...DEFAULT_READER_OPTIONS, idlePollMs: 40 },
  });
  afterAll(async () => {
    await service.close(1_000);
    await backend.close();
  });

  it('asks storage once per message for all of them, not once per reader', async () => {
    const message = await streamingMessage(backend.store);
    const subscriber = { principal, ledgerKey: principal.id };
    const readers = await Promise.all(
      Array.from({ length: READERS }, () => service.open(subscriber, message.id, null)),
    );
    const collected = readers.map(async (reader) => {
      const events: StreamEvent[] = [];
      for await (const event of reader) events.push(event);
      return events;
    });
    // Every reader reads the log once when it starts; after that only looks are shared.
    await until(() => calls.reads >= READERS, { what: 'the first reads' });
    const readsAtStart = calls.reads;
    await until(() => calls.newestSeq >= 5, { what: 'five idle polls' });
    // Each reader polled several times (40 ms ± 20 %): unshared, that would be 50 looks a round.
    expect(calls.reads).toBe(readsAtStart);
    expect(calls.newestSeq).toBeLessThan(READERS);

    // Announcements lost: the shared look still finds that the log moved, and every reader reads.
    channel.deaf = true;
    const delta: StreamEvent = { type: 'delta', messageId: message.id, seq: 1, text: 'hi', at: 1 };
    const end: StreamEvent = {
      type: 'end',
      messageId: message.id,
      seq: 2,
      status: 'COMPLETED',
      at: 2,
    };
    await backend.streams.append(message.id, [delta, end]);
    const results = await Promise.all(collected);
    for (const events of results) expect(events.map((event) => event.seq)).toEqual([1, 2]);
  });
});

describe('StreamService: an interrupted end carries what each follower delivered', () => {
  const backend = createMemoryBackend({ streamLogTtlSeconds: 3600 });
  const service = new StreamService({
    store: backend.store,
    streams: backend.streams,
    readerOptions: { ...DEFAULT_READER_OPTIONS, idlePollMs: 40 },
  });
  afterAll(async () => {
    await service.close(1_000);
    await backend.close();
  });

  const delta = (messageId: string, seq: number, text: string): StreamEvent => ({
    type: 'delta',
    messageId,
    seq,
    text,
    at: seq,
  });

  it('followers from the start and resumed from cursors end with their own text when the message is lost', async () => {
    const message = await streamingMessage(backend.store);
    const subscriber = { principal, ledgerKey: principal.id };
    await backend.streams.append(message.id, [
      delta(message.id, 1, 'a'),
      delta(message.id, 2, 'b'),
      delta(message.id, 3, 'c'),
    ]);
    const followers = await Promise.all(
      [null, '2', '1'].map((after) => service.open(subscriber, message.id, after)),
    );
    const texts = followers.map(async (follower) => {
      const seen: string[] = [];
      for await (const event of follower) {
        if (event.type === 'delta') seen.push(event.text);
        else return { seen: seen.join(''), end: event };
      }
      throw new Error('ended without an end event');
    });
    await backend.streams.append(message.id, [delta(message.id, 4, 'd')]);
    // The message and its log vanish (storage lost them): each follower's quiet poll finds out.
    await backend.store.deleteSession(message.sessionId);
    await backend.streams.remove([message.id]);
    const ended = await Promise.all(texts);
    expect(ended.map(({ seen }) => seen)).toEqual(['abcd', 'cd', 'bcd']);
    for (const { seen, end } of ended) {
      expect(end).toMatchObject({ type: 'end', seq: 4, status: 'INTERRUPTED' });
      expect(end.type === 'end' && end.snapshot).toMatchObject({
        content: seen,
        error: { code: 'GENERATION_LOST' },
      });
    }
  });
});

describe('StreamService: a follower is counted until its transport is done with it', () => {
  const backend = createMemoryBackend({ streamLogTtlSeconds: 3600 });
  const { calls, store, streams } = counted(backend.store, backend.streams);
  const service = new StreamService({ store, streams, readerOptions: DEFAULT_READER_OPTIONS });
  afterAll(async () => {
    await service.close(1_000);
    await backend.close();
  });
  const subscriber = { principal, ledgerKey: principal.id };

  it('return() on a follower parked in a wait ends it at once, the pending next() too, and counts it out', async () => {
    const message = await streamingMessage(backend.store);
    const follower = await service.open(subscriber, message.id, null);
    expect(service.openCount).toBe(0);
    const pending = follower.next();
    await until(() => calls.reads > 0, { what: 'the follower to read the log' });
    expect(service.openCount).toBe(1);

    const returned = await follower.return(undefined);

    expect(returned).toEqual({ done: true, value: undefined });
    expect(await pending).toEqual({ done: true, value: undefined });
    expect(service.openCount).toBe(0);
    expect(await follower.next()).toEqual({ done: true, value: undefined });
    expect(service.openCount).toBe(0);
  });

  it('the end is handed out, and the follower counted out only at the call after it', async () => {
    const message = await streamingMessage(backend.store);
    await backend.streams.append(message.id, [
      { type: 'delta', messageId: message.id, seq: 1, text: 'hi', at: 1 },
      { type: 'end', messageId: message.id, seq: 2, status: 'COMPLETED', at: 2 },
    ]);
    const follower = await service.open(subscriber, message.id, null);
    expect((await follower.next()).value).toMatchObject({ type: 'delta', seq: 1 });
    expect((await follower.next()).value).toMatchObject({ type: 'end', seq: 2 });
    // The transport is still sending the end: a drain waits for it.
    expect(service.openCount).toBe(1);
    expect(await follower.next()).toEqual({ done: true, value: undefined });
    expect(service.openCount).toBe(0);
  });

  it('a follower returned before its first next() is never counted', async () => {
    const message = await streamingMessage(backend.store);
    const follower = await service.open(subscriber, message.id, null);
    expect(await follower.return(undefined)).toEqual({ done: true, value: undefined });
    expect(await follower.next()).toEqual({ done: true, value: undefined });
    expect(service.openCount).toBe(0);
  });
});

describe('StreamService: the message an end reports is read once, through a brief outage', () => {
  const backend = createMemoryBackend({ streamLogTtlSeconds: 3600 });
  /** While above zero, each getMessages fails as an open Redis breaker fails it. */
  const outage = { failures: 0, calls: 0 };
  const store = new Proxy(backend.store, {
    get: (target, property, receiver) => {
      if (property === 'getMessages') {
        return (ids: readonly string[]) => {
          outage.calls++;
          if (outage.failures > 0) {
            outage.failures--;
            return Promise.reject(new Unavailable('The storage backend is unavailable.'));
          }
          return target.getMessages(ids);
        };
      }
      const value = Reflect.get(target, property, receiver);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
  const serviceWith = (maxOutageMs: number) =>
    new StreamService({
      store,
      streams: backend.streams,
      readerOptions: { ...DEFAULT_READER_OPTIONS, maxOutageMs },
    });
  const service = serviceWith(10_000);
  afterAll(async () => {
    await service.close(1_000);
    await backend.close();
  });

  it('one read answers every subscriber asking at once; another principal gets nothing', async () => {
    const message = await streamingMessage(backend.store);
    outage.calls = 0;
    const answers = await Promise.all(
      Array.from({ length: 10 }, () => service.endedMessage(principal, message.id)),
    );
    expect(outage.calls).toBe(1);
    for (const answer of answers) expect(answer).toMatchObject({ id: message.id });
    const mallory: Principal = { id: 'mallory', scopes: ['chat'], anonymous: false };
    expect(await service.endedMessage(mallory, message.id)).toBeNull();
    expect(await service.endedMessage(principal, `msg_${hexId()}`)).toBeNull();
  });

  it('a read that meets an outage is retried until storage answers', async () => {
    const message = await streamingMessage(backend.store);
    outage.calls = 0;
    outage.failures = 3;
    const answers = await Promise.all([
      service.endedMessage(principal, message.id),
      service.endedMessage(principal, message.id),
    ]);
    expect(answers.map((answer) => answer?.id)).toEqual([message.id, message.id]);
    expect(outage.calls).toBe(4);
  });

  it('an outage longer than maxOutageMs fails the read, and the next read starts afresh', async () => {
    const short = serviceWith(500);
    const message = await streamingMessage(backend.store);
    outage.failures = 1_000;
    await expect(short.endedMessage(principal, message.id)).rejects.toBeInstanceOf(Unavailable);
    outage.failures = 0;
    expect(await short.endedMessage(principal, message.id)).toMatchObject({ id: message.id });
    await short.close(1_000);
  });

  it('shutdown ends the wait (the outage would outlast the test)', async () => {
    const closing = serviceWith(60_000);
    const message = await streamingMessage(backend.store);
    outage.calls = 0;
    outage.failures = 1_000;
    const read = closing.endedMessage(principal, message.id);
    await until(() => outage.calls > 0, { what: 'the first read' });
    await closing.close(1_000);
    await expect(read).rejects.toBeInstanceOf(Unavailable);
    outage.failures = 0;
  });
});
