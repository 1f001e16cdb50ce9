import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { StreamLog, Unwatch } from '../../../src/infra/backend/types.js';
import type { StreamEvent } from '../../../src/model.js';
import { StopSignal } from '../../../src/services/streams/abortable.js';
import {
  DEFAULT_READER_OPTIONS,
  readStream,
  type StreamReaderOptions,
} from '../../../src/services/streams/stream-reader.js';
import { backendCases, backendFor } from '../../support/backends.js';

/** Long enough that only a live announcement (or the log read it triggers) can move a reader. */
const NO_IDLE_POLL: StreamReaderOptions = {
  ...DEFAULT_READER_OPTIONS,
  idlePollMs: 60_000,
};

/** A reader that stalls is a failure, reported well before the test timeout. */
const DEADLINE_MS = 5_000;

const cases = backendCases();

function delta(messageId: string, seq: number): StreamEvent {
  return { type: 'delta', messageId, seq, text: `t${seq} `, at: 1_700_000_000_000 + seq };
}

function endEvent(messageId: string, seq: number): StreamEvent {
  return { type: 'end', messageId, seq, status: 'COMPLETED', at: 1_700_000_000_000 + seq };
}

/** `deltas` deltas, seq 1..deltas, then the end event. */
function streamOf(messageId: string, deltas: number): StreamEvent[] {
  return [
    ...Array.from({ length: deltas }, (_, index) => delta(messageId, index + 1)),
    endEvent(messageId, deltas + 1),
  ];
}

function withDeadline<T>(promise: Promise<T>, what: string, ms = DEADLINE_MS): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
  });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}

async function drain(generator: AsyncGenerator<StreamEvent>): Promise<StreamEvent[]> {
  const events: StreamEvent[] = [];
  for await (const event of generator) events.push(event);
  return events;
}

const seqs = (events: readonly StreamEvent[]) => events.map((event) => event.seq);

/**
 * A real StreamLog seen through a tap: counts watch/unwatch/read calls, tells when a watch is in
 * place, and can drop announcements (what a lossy pub/sub does).
 */
class TappedStreamLog implements StreamLog {
  watches = 0;
  unwatches = 0;
  reads = 0;
  private watchedResolve: (() => void) | undefined;
  /** Resolves once the first watch() is in place. */
  readonly watched = new Promise<void>((resolve) => {
    this.watchedResolve = resolve;
  });

  constructor(
    private readonly inner: StreamLog,
    private readonly dropAnnouncement: (event: StreamEvent) => boolean = () => false,
  ) {}

  append(messageId: string, events: readonly StreamEvent[]): Promise<void> {
    return this.inner.append(messageId, events);
  }

  read(messageId: string, afterSeq: number, limit: number): Promise<StreamEvent[]> {
    this.reads++;
    return this.inner.read(messageId, afterSeq, limit);
  }

  newestSeq(messageId: string): Promise<number> {
    return this.inner.newestSeq(messageId);
  }

  async watch(messageId: string, onEvent: (event: StreamEvent) => void): Promise<Unwatch> {
    const unwatch = await this.inner.watch(messageId, (event) => {
      if (!this.dropAnnouncement(event)) onEvent(event);
    });
    this.watches++;
    this.watchedResolve?.();
    return async () => {
      this.unwatches++;
      await unwatch();
    };
  }

  remove(messageIds: readonly string[]): Promise<void> {
    return this.inner.remove(messageIds);
  }
}

describe.each(cases)('readStream over the %s stream log', (_kind, backendCase) => {
  const backend = backendFor(backendCase);

  /** Appends events one append at a time, as a generation does. */
  async function appendEach(messageId: string, events: readonly StreamEvent[]): Promise<void> {
    for (const event of events) await backend().streams.append(messageId, [event]);
  }

  /** Resolves once `streams` has announced `seq` to a watcher registered now (i.e. after any earlier one). */
  async function announced(messageId: string, seq: number): Promise<() => Promise<void>> {
    let heard: () => void = () => {};
    const done = new Promise<void>((resolve) => {
      heard = resolve;
    });
    const unwatch = await backend().streams.watch(messageId, (event) => {
      if (event.seq >= seq) heard();
    });
    return async () => {
      await withDeadline(done, `the announcement of seq ${seq}`);
      await unwatch();
    };
  }

  it('a reader that comes after the end gets every event once, in order, and stops after the end', async () => {
    const messageId = randomUUID();
    const events = streamOf(messageId, 10);
    await appendEach(messageId, events);

    const read = await withDeadline(
      drain(
        readStream(backend().streams, messageId, 0, new AbortController().signal, NO_IDLE_POLL),
      ),
      'the late reader',
    );

    expect(read).toEqual(events);
  });

  it('a late reader pages through a log longer than one page', async () => {
    const messageId = randomUUID();
    const events = streamOf(messageId, 10);
    await appendEach(messageId, events);
    const streams = new TappedStreamLog(backend().streams);

    const read = await withDeadline(
      drain(
        readStream(streams, messageId, 0, new AbortController().signal, {
          ...NO_IDLE_POLL,
          pageSize: 3,
        }),
      ),
      'the paging reader',
    );

    expect(read).toEqual(events);
    expect(streams.reads).toBe(4);
  });

  it('the reader stops at the end event even when the log holds more', async () => {
    const messageId = randomUUID();
    await backend().streams.append(messageId, [
      delta(messageId, 1),
      endEvent(messageId, 2),
      delta(messageId, 3),
    ]);

    const read = await withDeadline(
      drain(
        readStream(backend().streams, messageId, 0, new AbortController().signal, NO_IDLE_POLL),
      ),
      'the reader',
    );

    expect(seqs(read)).toEqual([1, 2]);
  });

  it('a reader that starts before the first append gets every event once, in order, live', async () => {
    const messageId = randomUUID();
    const events = streamOf(messageId, 20);
    const streams = new TappedStreamLog(backend().streams);
    const reading = drain(
      readStream(streams, messageId, 0, new AbortController().signal, NO_IDLE_POLL),
    );
    await withDeadline(streams.watched, 'the reader to watch');

    await appendEach(messageId, events);

    expect(await withDeadline(reading, 'the live reader')).toEqual(events);
  });

  it('a reader that starts mid-stream gets the stored events and then the live ones', async () => {
    const messageId = randomUUID();
    const events = streamOf(messageId, 12);
    await appendEach(messageId, events.slice(0, 6));
    const streams = new TappedStreamLog(backend().streams);
    const reading = drain(
      readStream(streams, messageId, 0, new AbortController().signal, NO_IDLE_POLL),
    );
    await withDeadline(streams.watched, 'the reader to watch');

    await appendEach(messageId, events.slice(6));

    expect(await withDeadline(reading, 'the mid-stream reader')).toEqual(events);
  });

  it('afterSeq resumes: only events after it are read', async () => {
    const messageId = randomUUID();
    const events = streamOf(messageId, 6);
    await appendEach(messageId, events);

    const read = await withDeadline(
      drain(
        readStream(backend().streams, messageId, 4, new AbortController().signal, NO_IDLE_POLL),
      ),
      'the resuming reader',
    );

    expect(read).toEqual(events.slice(4));
  });

  it('a reader whose live buffer overflows re-reads the log and still yields every event once', async () => {
    const messageId = randomUUID();
    const events = streamOf(messageId, 30);
    await backend().streams.append(messageId, [events[0]!]);
    const streams = new TappedStreamLog(backend().streams);
    const reader = readStream(streams, messageId, 0, new AbortController().signal, {
      ...NO_IDLE_POLL,
      liveBufferLimit: 2,
    });
    const first = await withDeadline(reader.next(), 'the first event');
    expect(first.value).toEqual(events[0]);

    // The reader took seq 1 from the log and is parked at its yield, its live buffer empty. The
    // rest arrives while nobody pulls: with a limit of 2 every third announcement overflows the
    // buffer (seq 4, 7, ..., 31), the end event included, so nothing live is left to go on from.
    const allAnnounced = await announced(messageId, 31);
    await appendEach(messageId, events.slice(1));
    await allAnnounced();

    const rest = await withDeadline(drain(reader), 'the overflowed reader');
    expect([first.value, ...rest]).toEqual(events);
    expect(streams.reads).toBeGreaterThanOrEqual(2);
  });

  it('a parked reader whose live buffer outgrows its byte bound re-reads the log and still yields every event once', async () => {
    const messageId = randomUUID();
    // Eight deltas of 32 KiB: four times the 64 KiB bound, yet far below the count bound.
    const bigText = (seq: number) => `${String(seq).padStart(4, '0')}${'x'.repeat(32 * 1024 - 4)}`;
    const events: StreamEvent[] = [
      ...Array.from({ length: 8 }, (_, index) => ({
        ...delta(messageId, index + 1),
        text: bigText(index + 1),
      })),
      endEvent(messageId, 9),
    ];
    await backend().streams.append(messageId, [events[0]!]);
    const streams = new TappedStreamLog(backend().streams);
    const reader = readStream(streams, messageId, 0, new AbortController().signal, {
      ...NO_IDLE_POLL,
      liveBufferLimit: 10_000,
      liveBufferBytes: 64 * 1024,
    });
    const first = await withDeadline(reader.next(), 'the first event');
    expect(first.value).toEqual(events[0]);
    expect(streams.reads).toBe(1);

    // Parked at its yield, the reader hears of 224 KiB of deltas it is not pulling: the third
    // one overflows the bound, so the buffer is dropped instead of holding them all.
    const allAnnounced = await announced(messageId, 9);
    await appendEach(messageId, events.slice(1));
    await allAnnounced();

    const rest = await withDeadline(drain(reader), 'the reader past its byte bound');
    expect([first.value, ...rest]).toEqual(events);
    // One read for seq 1, one after the overflow for the rest: nothing came from the buffer.
    expect(streams.reads).toBe(2);
  });

  it('a lost announcement is recovered by the idle poll', async () => {
    const messageId = randomUUID();
    const events = streamOf(messageId, 5);
    // The tail of the stream is never announced: no later event reveals the gap.
    const streams = new TappedStreamLog(backend().streams, (event) => event.seq >= 4);
    const reader = readStream(streams, messageId, 0, new AbortController().signal, {
      ...NO_IDLE_POLL,
      idlePollMs: 25,
    });
    const head = [reader.next(), reader.next(), reader.next()];
    await appendEach(messageId, events.slice(0, 3));
    const received = await withDeadline(Promise.all(head), 'the announced events');
    expect(received.map((result) => result.value)).toEqual(events.slice(0, 3));

    await appendEach(messageId, events.slice(3));

    expect(await withDeadline(drain(reader), 'the polling reader', 3_000)).toEqual(events.slice(3));
  });

  it('aborting the signal ends a waiting reader and unwatches', async () => {
    const messageId = randomUUID();
    await backend().streams.append(messageId, [delta(messageId, 1)]);
    const streams = new TappedStreamLog(backend().streams);
    const controller = new AbortController();
    const reader = readStream(streams, messageId, 0, controller.signal, NO_IDLE_POLL);
    expect((await withDeadline(reader.next(), 'the first event')).value).toEqual(
      delta(messageId, 1),
    );

    const waiting = reader.next();
    controller.abort();

    expect(await withDeadline(waiting, 'the reader to end')).toEqual({
      done: true,
      value: undefined,
    });
    expect(streams.unwatches).toBe(1);
  });

  it('a reader unwatches when it reaches the end', async () => {
    const messageId = randomUUID();
    await appendEach(messageId, streamOf(messageId, 2));
    const streams = new TappedStreamLog(backend().streams);

    await withDeadline(
      drain(readStream(streams, messageId, 0, new AbortController().signal, NO_IDLE_POLL)),
      'the reader',
    );

    expect(streams.watches).toBe(1);
    expect(streams.unwatches).toBe(1);
  });

  it('a reader parked in a wait ends at once when its stop signal aborts, and it unwatches', async () => {
    const messageId = randomUUID();
    const streams = new TappedStreamLog(backend().streams);
    const stop = new StopSignal();
    const reader = readStream(streams, messageId, 0, stop, NO_IDLE_POLL);
    const waiting = reader.next();
    await withDeadline(streams.watched, 'the reader to watch');

    stop.abort();

    expect(await withDeadline(waiting, 'the parked next()')).toEqual({
      done: true,
      value: undefined,
    });
    expect(streams.unwatches).toBe(1);
  });
});

describe('StopSignal', () => {
  it('tells each listener once, functions and listener objects alike', () => {
    const signal = new StopSignal();
    const told: string[] = [];
    const removed = () => told.push('removed');
    signal.addEventListener('abort', () => told.push('function'));
    signal.addEventListener('abort', { handleEvent: () => told.push('object') });
    signal.addEventListener('abort', removed);
    signal.removeEventListener('abort', removed);

    signal.abort();
    signal.abort();
    signal.addEventListener('abort', () => told.push('late'));

    expect(signal.aborted).toBe(true);
    expect(told).toEqual(['function', 'object']);
  });
});
