import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { StreamEvent } from '../../../src/model.js';
import { EventWriter } from '../../../src/services/streams/event-writer.js';
import { backendCases, backendFor } from '../../support/backends.js';
import { until } from '../../support/wait.js';

/**
 * A burst (every chunk pushed in one turn, as the bench's saturation upstream sends them) over a
 * real log: each chunk must stay its own delta, in the log and in what a watcher is told. The
 * Redis log's appends are asynchronous, so chunks wait behind appends in flight: that is where
 * they used to be joined into one larger delta.
 */
describe.each(backendCases())('EventWriter on the %s backend', (_kind, backendCase) => {
  const backend = backendFor(backendCase);

  it('a burst of chunks becomes one delta per chunk, in the log and on the live channel', async () => {
    const messageId = randomUUID();
    const watched: StreamEvent[] = [];
    const unwatch = await backend().streams.watch(messageId, (event) => watched.push(event));
    const writer = new EventWriter(backend().streams, messageId);
    const chunks = Array.from({ length: 300 }, (_, index) => `t${index} `);

    for (const chunk of chunks) writer.push(chunk);
    const endSeq = await writer.end('COMPLETED');

    const logged = await backend().streams.read(messageId, 0, 10_000);
    const texts = (events: StreamEvent[]) =>
      events.flatMap((event) => (event.type === 'delta' ? [event.text] : []));
    expect(texts(logged)).toEqual(chunks);
    expect(logged.map((event) => event.seq)).toEqual(
      Array.from({ length: chunks.length + 1 }, (_, index) => index + 1),
    );
    expect(endSeq).toBe(chunks.length + 1);
    await until(() => watched.length === logged.length, {
      timeoutMs: 3_000,
      what: 'the live events',
    });
    expect(texts(watched)).toEqual(chunks);
    await unwatch();
  });
});
