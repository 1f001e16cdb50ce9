import type { StreamLog } from '../infra/backend/types.js';
import type { StreamEvent } from '../model.js';
import { Doorbell } from './abortable.js';

export interface StreamReaderOptions {
  /** Events read from the log per round trip. */
  pageSize: number;
  /** Live events held for a subscriber that reads slower than they arrive; past it, the log is re-read. */
  liveBufferLimit: number;
  /**
   * With no announcement for about this long (±20 %) the log is read anyway: announcements can
   * be lost (pub/sub is at most once), and this bounds how long a loss can delay a reader.
   */
  idlePollMs: number;
}

export const DEFAULT_READER_OPTIONS: StreamReaderOptions = {
  pageSize: 512,
  liveBufferLimit: 1024,
  idlePollMs: 5_000,
};

/**
 * Every event of one message after `afterSeq`, exactly once and in order, ending after the end
 * event, when `signal` aborts (at once), or once `drain` has aborted and the log is read to its
 * current end (nothing written so far is skipped). The order is what makes it race-free: watch
 * the live channel first (buffering), then read the log, then serve live events, falling back to
 * the log whenever a seq is missing, the buffer overflowed, or the channel went quiet.
 */
export async function* readStream(
  streams: StreamLog,
  messageId: string,
  afterSeq: number,
  signal: AbortSignal,
  options: StreamReaderOptions = DEFAULT_READER_OPTIONS,
  drain?: AbortSignal,
): AsyncGenerator<StreamEvent, void, undefined> {
  let lastSeq = afterSeq;
  let live: StreamEvent[] = [];
  let overflowed = false;
  // Jitter spreads the safety-net polls of many idle readers over time.
  const doorbell = new Doorbell(
    options.idlePollMs * (0.8 + Math.random() * 0.4),
    drain ? [signal, drain] : [signal],
  );
  const unwatch = await streams.watch(messageId, (event) => {
    if (event.seq <= lastSeq) return;
    if (live.length >= options.liveBufferLimit) {
      live = [];
      overflowed = true;
    } else {
      live.push(event);
    }
    doorbell.ring();
  });
  try {
    let readLog = true;
    let finalRead = false;
    while (!signal.aborted) {
      if (readLog || overflowed) {
        readLog = false;
        overflowed = false;
        const page = await streams.read(messageId, lastSeq, options.pageSize);
        for (const event of page) {
          if (event.seq !== lastSeq + 1 || signal.aborted) break;
          yield event;
          lastSeq = event.seq;
          if (event.type === 'end') return;
        }
        readLog = page.length === options.pageSize;
        continue;
      }
      while (live[0] && live[0].seq <= lastSeq) live.shift();
      const next = live[0];
      if (next) {
        if (next.seq !== lastSeq + 1) {
          readLog = true;
          continue;
        }
        live.shift();
        yield next;
        lastSeq = next.seq;
        if (next.type === 'end') return;
        continue;
      }
      if (drain?.aborted) {
        if (finalRead) return;
        finalRead = true;
        readLog = true;
        continue;
      }
      const woken = await doorbell.wait();
      if (!woken) readLog = true;
    }
  } finally {
    doorbell.close();
    await unwatch().catch(() => {});
  }
}
