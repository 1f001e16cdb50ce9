import { randomUUID } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { createMemoryBackend } from '../../src/infra/backend/memory.js';
import type { StreamLog, Unwatch } from '../../src/infra/backend/types.js';
import type { StreamEvent } from '../../src/model.js';
import { EventWriter } from '../../src/services/event-writer.js';
import { until } from '../support/wait.js';

const backend = createMemoryBackend({ streamLogTtlSeconds: 3600 });

afterAll(async () => {
  await backend.close();
});

/** The real memory log, with appends counted and chosen appends (1-based) made to fail. */
class FaultyStreamLog implements StreamLog {
  appends = 0;

  constructor(
    private readonly inner: StreamLog,
    private readonly failingAppends: ReadonlySet<number> = new Set(),
  ) {}

  append(messageId: string, events: readonly StreamEvent[]): Promise<void> {
    this.appends++;
    if (this.failingAppends.has(this.appends)) {
      return Promise.reject(new Error(`injected failure of append ${this.appends}`));
    }
    return this.inner.append(messageId, events);
  }

  read(messageId: string, afterSeq: number, limit: number): Promise<StreamEvent[]> {
    return this.inner.read(messageId, afterSeq, limit);
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
  it('coalesces chunks pushed while an append is in flight into fewer deltas', async () => {
    const messageId = randomUUID();
    const streams = new FaultyStreamLog(backend.streams);
    const writer = new EventWriter(streams, messageId);
    const chunks = Array.from({ length: 50 }, (_, index) => `w${index} `);

    for (const chunk of chunks) writer.push(chunk);
    const endSeq = await writer.end('COMPLETED');

    const events = await readAll(messageId);
    const deltas = events.filter((event) => event.type === 'delta');
    expect(deltas.length).toBeGreaterThan(0);
    expect(deltas.length).toBeLessThan(chunks.length);
    expect(streams.appends).toBe(events.length);
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

  it('a failed append sets failure and stops writing; end() then writes the pending text and the end without a seq gap', async () => {
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

    const appendsAfterFailure = streams.appends;
    writer.push('!');
    expect(streams.appends).toBe(appendsAfterFailure);
    const endSeq = await writer.end('FAILED');

    expect(streams.appends).toBe(appendsAfterFailure + 2);
    const events = await readAll(messageId);
    expect(events).toEqual([
      expect.objectContaining({ type: 'delta', seq: 1, text: 'Hello' }),
      expect.objectContaining({ type: 'delta', seq: 2, text: ', world!' }),
      expect.objectContaining({ type: 'end', seq: 3, status: 'FAILED' }),
    ]);
    expect(endSeq).toBe(3);
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
});
