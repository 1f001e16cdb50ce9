import { randomUUID } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { Unavailable } from '../../../src/errors.js';
import { createMemoryBackend } from '../../../src/infra/backend/memory.js';
import type { StreamLog, Unwatch } from '../../../src/infra/backend/types.js';
import type { StreamEvent } from '../../../src/model.js';
import {
  DEFAULT_WRITER_OPTIONS,
  EventWriter,
  MAX_APPENDS_IN_FLIGHT,
  MAX_HELD_CHUNKS,
  StorageOutageTooLong,
} from '../../../src/services/streams/event-writer.js';
import { until } from '../../support/wait.js';

const backend = createMemoryBackend({ streamLogTtlSeconds: 3600 });

afterAll(async () => {
  await backend.close();
});

/**
 * The real memory log, with appends counted and recorded. Chosen appends (1-based) fail with a
 * plain error, or reach the log and then report an outage (a reply lost in a reconnect); the
 * first `outages` appends fail as an outage without reaching it.
 */
class FaultyStreamLog implements StreamLog {
  appends = 0;
  outages = 0;
  readonly tried: StreamEvent[][] = [];

  constructor(
    private readonly inner: StreamLog,
    private readonly failingAppends: ReadonlySet<number> = new Set(),
    private readonly lostReplies: ReadonlySet<number> = new Set(),
    private readonly leadingOutages = 0,
  ) {}

  async append(messageId: string, events: readonly StreamEvent[]): Promise<void> {
    this.appends++;
    this.tried.push(events.map((event) => ({ ...event })));
    if (this.outages < this.leadingOutages) {
      this.outages++;
      throw new Unavailable('injected outage');
    }
    if (this.failingAppends.has(this.appends)) {
      throw new Error(`injected failure of append ${this.appends}`);
    }
    await this.inner.append(messageId, events);
    if (this.lostReplies.has(this.appends)) throw new Unavailable('injected lost reply');
  }

  read(messageId: string, afterSeq: number, limit: number): Promise<StreamEvent[]> {
    return this.inner.read(messageId, afterSeq, limit);
  }

  newestSeq(messageId: string): Promise<number> {
    return this.inner.newestSeq(messageId);
  }

  watch(messageId: string, onEvent: (event: StreamEvent) => void): Promise<Unwatch> {
    return this.inner.watch(messageId, onEvent);
  }

  remove(messageIds: readonly string[]): Promise<void> {
    return this.inner.remove(messageIds);
  }
}

const readAll = (messageId: string) => backend.streams.read(messageId, 0, 10_000);

const deltaText = (events: readonly StreamEvent[]) =>
  events.map((event) => (event.type === 'delta' ? event.text : '')).join('');

const seqs = (events: readonly StreamEvent[]) => events.map((event) => event.seq);

const oneToN = (n: number) => Array.from({ length: n }, (_, index) => index + 1);

describe('EventWriter', () => {
  it('keeps each chunk pushed while appends are in flight its own delta, several per append', async () => {
    const messageId = randomUUID();
    const streams = new FaultyStreamLog(backend.streams);
    const writer = new EventWriter(streams, messageId);
    const chunks = Array.from({ length: 50 }, (_, index) => `w${index} `);

    for (const chunk of chunks) writer.push(chunk);
    const endSeq = await writer.end('COMPLETED');

    const events = await readAll(messageId);
    const deltas = events.filter((event) => event.type === 'delta');
    // One event per chunk (never joined), but far fewer appends than events.
    expect(deltas.map((event) => event.type === 'delta' && event.text)).toEqual(chunks);
    expect(streams.appends).toBeLessThan(events.length / 4);
    expect(Math.max(...streams.tried.map((batch) => batch.length))).toBeGreaterThan(1);
    expect(deltaText(events)).toBe(chunks.join(''));
    expect(writer.text).toBe(chunks.join(''));
    expect(seqs(events)).toEqual(oneToN(events.length));
    expect(events.at(-1)).toMatchObject({
      type: 'end',
      seq: endSeq,
      status: 'COMPLETED',
      messageId,
    });
  });

  it('pipelines appends: chunks pushed while earlier appends wait go out at once, up to the window, and the rest follow, each its own delta, in one append', async () => {
    const messageId = randomUUID();
    let waiting = 0;
    let mostWaiting = 0;
    const release: (() => void)[] = [];
    const appended: number[] = [];
    const held: StreamLog = {
      ...backend.streams,
      append: async (id, events) => {
        waiting++;
        mostWaiting = Math.max(mostWaiting, waiting);
        await new Promise<void>((resolve) => release.push(resolve));
        waiting--;
        appended.push(events.length);
        await backend.streams.append(id, events);
      },
    };
    const writer = new EventWriter(held, messageId);
    const chunks = Array.from({ length: MAX_APPENDS_IN_FLIGHT + 3 }, (_, index) => `c${index} `);
    for (const chunk of chunks) writer.push(chunk);
    expect(waiting).toBe(MAX_APPENDS_IN_FLIGHT);
    const ended = writer.end('COMPLETED');
    // Storage runs them in the order sent (one connection), one turn after another.
    while (release.length > 0 || waiting > 0) {
      for (const resolve of release.splice(0)) resolve();
      await new Promise((resolve) => setImmediate(resolve));
    }
    await ended;
    const deltas = (await readAll(messageId)).filter((event) => event.type === 'delta');
    expect(mostWaiting).toBe(MAX_APPENDS_IN_FLIGHT);
    // One delta per chunk: those sent at once, then what waited for a free slot, not joined.
    expect(deltas.map((event) => event.text)).toEqual(chunks);
    expect(appended[MAX_APPENDS_IN_FLIGHT]).toBe(chunks.length - MAX_APPENDS_IN_FLIGHT);
    expect(deltas.map((event) => event.seq)).toEqual(oneToN(deltas.length));
  });

  it('an outage of the first of several appends in flight: all their events are retried as one batch, whole and in order', async () => {
    const messageId = randomUUID();
    // The first append fails without reaching the log; the ones behind it reach it and are
    // refused for the gap it leaves.
    const streams = new FaultyStreamLog(backend.streams, new Set(), new Set(), 1);
    const writer = new EventWriter(streams, messageId);
    const chunks = ['a ', 'b '];
    for (const chunk of chunks) writer.push(chunk);
    await writer.end('COMPLETED');

    const events = await readAll(messageId);
    expect(deltaText(events)).toBe(chunks.join(''));
    expect(seqs(events)).toEqual(oneToN(events.length));
    expect(writer.failure).toBeUndefined();
    // Both sent at once, then their events again in one append, then the end.
    expect(streams.tried.slice(0, 2).map((tried) => tried.length)).toEqual([1, 1]);
    expect(streams.tried[2]?.map((event) => event.seq)).toEqual([1, 2]);
  });

  it('writes the end event last, with the next seq, also when nothing was pushed', async () => {
    const messageId = randomUUID();
    const writer = new EventWriter(backend.streams, messageId);

    expect(await writer.end('CANCELLED')).toBe(1);

    expect(await readAll(messageId)).toEqual([
      expect.objectContaining({ type: 'end', messageId, seq: 1, status: 'CANCELLED' }),
    ]);
  });

  it('keeps chunks pushed across several turns in order, without gaps', async () => {
    const messageId = randomUUID();
    const writer = new EventWriter(backend.streams, messageId);
    const chunks: string[] = [];

    for (let turn = 0; turn < 5; turn++) {
      for (let index = 0; index < 4; index++) {
        const chunk = `${turn}.${index} `;
        chunks.push(chunk);
        writer.push(chunk);
      }
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
    await writer.end('COMPLETED');

    const events = await readAll(messageId);
    expect(deltaText(events)).toBe(chunks.join(''));
    expect(seqs(events)).toEqual(oneToN(events.length));
    expect(events.at(-1)?.type).toBe('end');
  });

  it('a failed append sets failure and stops writing; end() retries exactly the failed events, then the rest, without a seq gap', async () => {
    const messageId = randomUUID();
    // Append 1 succeeds, append 2 fails, the rest succeed.
    const streams = new FaultyStreamLog(backend.streams, new Set([2]));
    const writer = new EventWriter(streams, messageId);

    writer.push('Hello');
    writer.push(', ');
    writer.push('world');
    await until(() => writer.failure !== undefined, { timeoutMs: 2_000, what: 'the failure' });

    expect(writer.failure).toBeInstanceOf(Error);
    expect(await readAll(messageId)).toEqual([
      expect.objectContaining({ type: 'delta', seq: 1, text: 'Hello' }),
    ]);
    const failedTry = streams.tried[1]!;

    const appendsAfterFailure = streams.appends;
    writer.push('!');
    expect(streams.appends).toBe(appendsAfterFailure);
    const endSeq = await writer.end('FAILED');

    const events = await readAll(messageId);
    // The retry carried the very events of the failed try: same seq, same text, same time.
    expect(events[1]).toEqual(failedTry[0]);
    expect(events.map((event) => event.seq)).toEqual(oneToN(events.length));
    expect(deltaText(events)).toBe('Hello, world!');
    expect(events.at(-1)).toMatchObject({ type: 'end', seq: endSeq, status: 'FAILED' });
  });

  it('never re-sends a seq with other text: an append that was stored although its caller saw a failure is retried as is and succeeds', async () => {
    const messageId = randomUUID();
    // Append 2 reaches the log, then reports an outage (the reply was lost in a reconnect).
    const streams = new FaultyStreamLog(backend.streams, new Set(), new Set([2]));
    const writer = new EventWriter(streams, messageId, { ...DEFAULT_WRITER_OPTIONS });

    writer.push('Hello');
    writer.push(', ');
    await until(() => streams.appends >= 2, { timeoutMs: 2_000, what: 'the lost reply' });
    writer.push('world');
    writer.push('!');
    const endSeq = await writer.end('COMPLETED');

    expect(writer.failure).toBeUndefined();
    const events = await readAll(messageId);
    expect(deltaText(events)).toBe('Hello, world!');
    expect(events.map((event) => event.seq)).toEqual(oneToN(events.length));
    expect(events.filter((event) => event.type === 'end')).toHaveLength(1);
    expect(endSeq).toBe(events.length);
    // Each seq was only ever tried with one payload.
    const payloads = new Map<number, string>();
    for (const attempt of streams.tried.flat()) {
      const payload = JSON.stringify(attempt);
      expect(payloads.get(attempt.seq) ?? payload).toBe(payload);
      payloads.set(attempt.seq, payload);
    }
  });

  it('waits out a storage outage and writes everything generated meanwhile when storage is back', async () => {
    const messageId = randomUUID();
    const streams = new FaultyStreamLog(backend.streams, new Set(), new Set(), 4);
    const writer = new EventWriter(streams, messageId, { ...DEFAULT_WRITER_OPTIONS });

    for (const chunk of ['a', 'b', 'c', 'd', 'e']) {
      writer.push(chunk);
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
    const endSeq = await writer.end('COMPLETED');

    expect(writer.failure).toBeUndefined();
    expect(streams.outages).toBe(4);
    const events = await readAll(messageId);
    expect(deltaText(events)).toBe('abcde');
    expect(events.at(-1)).toMatchObject({ type: 'end', seq: endSeq });
  });

  it('gives up past its outage time bound with StorageOutageTooLong', async () => {
    const messageId = randomUUID();
    const streams = new FaultyStreamLog(backend.streams, new Set(), new Set(), 1_000);
    const writer = new EventWriter(streams, messageId, {
      ...DEFAULT_WRITER_OPTIONS,
      maxOutageMs: 300,
    });

    writer.push('held');
    await until(() => writer.failure !== undefined, { timeoutMs: 3_000, what: 'giving up' });

    expect(writer.failure).toBeInstanceOf(StorageOutageTooLong);
  });

  it('gives up when more text waits during an outage than its byte bound allows', async () => {
    const messageId = randomUUID();
    const streams = new FaultyStreamLog(backend.streams, new Set(), new Set(), 1_000);
    const writer = new EventWriter(streams, messageId, {
      ...DEFAULT_WRITER_OPTIONS,
      maxBufferedBytes: 10_000,
    });

    writer.push('x');
    for (let index = 0; index < 20 && writer.failure === undefined; index++) {
      writer.push('é'.repeat(300));
    }

    expect(writer.failure).toBeInstanceOf(StorageOutageTooLong);
    expect(Buffer.byteLength(writer.text)).toBeLessThan(10_000 + 700);
  });

  it('cuts long text into deltas of at most maxDeltaChars, never splitting a surrogate pair', async () => {
    const messageId = randomUUID();
    const writer = new EventWriter(backend.streams, messageId, {
      ...DEFAULT_WRITER_OPTIONS,
      maxDeltaChars: 5,
    });
    const text = `abcd😀efgh😀ij${'k'.repeat(40)}`;

    writer.push(text);
    await writer.end('COMPLETED');

    const deltas = (await readAll(messageId)).filter((event) => event.type === 'delta');
    expect(deltaText(deltas)).toBe(text);
    for (const event of deltas) {
      expect(event.type === 'delta' && event.text.length).toBeLessThanOrEqual(5);
      expect(event.type === 'delta' && /[\ud800-\udbff]$/.test(event.text)).toBe(false);
    }
  });

  it('a failure of the very first append leaves no gap either', async () => {
    const messageId = randomUUID();
    const streams = new FaultyStreamLog(backend.streams, new Set([1]));
    const writer = new EventWriter(streams, messageId);

    writer.push('partial');
    await until(() => writer.failure !== undefined, { timeoutMs: 2_000, what: 'the failure' });
    expect(await readAll(messageId)).toEqual([]);
    const endSeq = await writer.end('FAILED');

    expect(await readAll(messageId)).toEqual([
      expect.objectContaining({ type: 'delta', seq: 1, text: 'partial' }),
      expect.objectContaining({ type: 'end', seq: 2, status: 'FAILED' }),
    ]);
    expect(endSeq).toBe(2);
  });

  it('during an outage, tiny chunks past MAX_HELD_CHUNKS join, so the catch-up has bounded events and no delta over maxDeltaChars', async () => {
    const messageId = randomUUID();
    const streams = new FaultyStreamLog(backend.streams, new Set(), new Set(), 3);
    const maxDeltaChars = 100;
    const writer = new EventWriter(streams, messageId, {
      ...DEFAULT_WRITER_OPTIONS,
      maxDeltaChars,
    });
    const chunks = Array.from({ length: MAX_HELD_CHUNKS * 2 }, (_, index) => String(index % 10));

    for (const chunk of chunks) writer.push(chunk);
    await writer.end('COMPLETED');

    expect(writer.failure).toBeUndefined();
    const events = await readAll(messageId);
    const deltas = events.filter((event) => event.type === 'delta');
    expect(deltaText(events)).toBe(chunks.join(''));
    expect(seqs(events)).toEqual(oneToN(events.length));
    // The chunks already sent, MAX_HELD_CHUNKS held, and the joined rest cut at maxDeltaChars.
    const joinedChars = chunks.length - MAX_HELD_CHUNKS;
    expect(deltas.length).toBeLessThanOrEqual(
      MAX_APPENDS_IN_FLIGHT + MAX_HELD_CHUNKS + Math.ceil(joinedChars / maxDeltaChars),
    );
    expect(deltas.length).toBeLessThan(chunks.length);
    for (const event of deltas) {
      expect(event.type === 'delta' && event.text.length).toBeLessThanOrEqual(maxDeltaChars);
    }
  });
});
