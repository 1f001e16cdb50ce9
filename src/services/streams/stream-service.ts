import { setMaxListeners } from 'node:events';
import { BadInput, echo, NotFound, RateLimited } from '../../errors.js';
import type { Store, StreamLog } from '../../infra/backend/types.js';
import {
  FINAL_STATUSES,
  isMessageId,
  type MessageRecord,
  type Principal,
  type StreamEvent,
} from '../../model.js';
import { type DeliveredTexts, FollowedStream, type FollowerHost } from './followed-stream.js';
import { readThroughOutage } from './storage-retry.js';
import {
  DEFAULT_READER_OPTIONS,
  type LogProbe,
  readStream,
  type StreamReaderOptions,
} from './stream-reader.js';

type ProbeAnswer = Awaited<ReturnType<LogProbe>>;

/**
 * A look answers for this share of an idle poll: readers poll every 0.8–1.2 polls, so each
 * message is looked at about once a poll, whatever its number of readers.
 */
const LOOK_REUSE = 0.8;

interface LogLook {
  /** performance.now() when the look was taken. */
  startedAt: number;
  result: Promise<{ exists: boolean; newestSeq: number }>;
}

function parseCursor(cursor: string | null | undefined): number {
  if (cursor === null || cursor === undefined) return 0;
  if (!/^\d{1,15}$/.test(cursor)) {
    throw new BadInput(`"${echo(cursor)}" is not a stream cursor.`, { field: 'after' });
  }
  return Number(cursor);
}

/**
 * Subscriptions to message streams. On shutdown every open subscription ends with an end event:
 * the real one for generations that ran here (they are interrupted first), and for generations
 * still running on another instance one that carries the last delivered cursor, so the client
 * resumes from it on another instance.
 */
export class StreamService {
  private closing = false;
  /**
   * Aborted on close: every open reader drains on it. One signal for all of them, not one each:
   * the first listener of a signal costs about 0.9 KB, each further one about 0.13 KB.
   */
  private readonly shutdown = new AbortController();
  /** What waitForEnd waits with, aborted on close too. */
  private readonly onClose = new Set<AbortController>();
  private openSubscriptions = 0;
  private readonly idleWaiters = new Set<() => void>();

  private readonly store: Store;
  private readonly streams: StreamLog;
  private readonly readerOptions: StreamReaderOptions;
  private readonly maxPerPrincipal: number;
  /** Open subscriptions by ledger key (principal, or address when anonymous), on this instance. */
  private readonly openByKey = new Map<string, number>();
  /** The latest look at each quietly followed message's storage, shared by its readers. */
  private readonly looks = new Map<string, LogLook>();
  /** Per followed message on this instance. */
  private readonly delivered = new Map<string, DeliveredTexts>();
  private readonly followers: FollowerHost;
  /** Reads of ended messages in flight, shared by the subscribers that ask meanwhile. */
  private readonly endReads = new Map<string, Promise<MessageRecord | null>>();

  constructor(parts: {
    store: Store;
    streams: StreamLog;
    readerOptions?: StreamReaderOptions;
    maxSubscriptionsPerPrincipal?: number;
  }) {
    this.store = parts.store;
    this.streams = parts.streams;
    this.readerOptions = parts.readerOptions ?? DEFAULT_READER_OPTIONS;
    this.maxPerPrincipal = parts.maxSubscriptionsPerPrincipal ?? Number.POSITIVE_INFINITY;
    // Every open reader listens to it (and stops listening when it ends): not a leak.
    setMaxListeners(0, this.shutdown.signal);
    // One host for every follower: nothing per subscription.
    this.followers = {
      drain: this.shutdown.signal,
      readerOf: (messageId, afterSeq, stop) =>
        // On shutdown a reader first delivers what is already logged, so a local answer, which
        // was interrupted and ended before this, still reaches its real end.
        readStream(this.streams, messageId, afterSeq, stop, this.readerOptions, {
          drain: this.shutdown.signal,
          probe: this.probeOf(messageId),
        }),
      followerStarted: (messageId, ledgerKey) => this.followerStarted(messageId, ledgerKey),
      followerEnded: (messageId, ledgerKey) => this.followerEnded(messageId, ledgerKey),
    };
  }

  async open(
    subscriber: { principal: Principal; ledgerKey: string },
    messageId: string,
    after: string | null | undefined,
  ): Promise<AsyncGenerator<StreamEvent, void, undefined>> {
    const { principal, ledgerKey } = subscriber;
    const afterSeq = parseCursor(after);
    if ((this.openByKey.get(ledgerKey) ?? 0) >= this.maxPerPrincipal) {
      throw new RateLimited(
        `At most ${this.maxPerPrincipal} subscriptions may be open at once for one principal.`,
        { retryAfterMs: 1_000, reason: 'CONCURRENT_SUBSCRIPTIONS' },
      );
    }
    if (!isMessageId(messageId)) throw new NotFound('Message', messageId);
    const [message] = await this.store.getMessages([messageId]);
    if (!message || message.principal !== principal.id || message.role !== 'ASSISTANT') {
      throw new NotFound('Message', messageId);
    }
    if (FINAL_STATUSES.has(message.status)) {
      const [next] = await this.streams.read(messageId, afterSeq, 1);
      if (!next) {
        const [first] = afterSeq === 0 ? [] : await this.streams.read(messageId, 0, 1);
        if (!first) return replayExpired(message, afterSeq);
        // Waiting would never end: nothing will ever follow the end of a finished stream.
        throw new BadInput('The stream has ended: no event follows this cursor.', {
          field: 'after',
        });
      }
    }
    return new FollowedStream(this.followers, message, afterSeq, ledgerKey);
  }

  /**
   * The stored message a MessageEnd reports; null when the principal may not see it or it is
   * gone. The subscribers of one message on this instance that ask while a read is in flight
   * share it, and an outage is waited out as readers wait one out for the log (`maxOutageMs`,
   * cut short by shutdown): a stream whose every delta arrived must not end with an error
   * because the Redis breaker was open for a moment (it opened under a saturation burst, and
   * most ends of that burst failed).
   */
  async endedMessage(principal: Principal, messageId: string): Promise<MessageRecord | null> {
    let read = this.endReads.get(messageId);
    if (!read) {
      const started = readThroughOutage(
        async () => (await this.store.getMessages([messageId]))[0] ?? null,
        this.readerOptions.maxOutageMs,
        this.shutdown.signal,
      );
      read = started.finally(() => this.endReads.delete(messageId));
      this.endReads.set(messageId, read);
    }
    const message = await read;
    return message && message.principal === principal.id ? message : null;
  }

  /** Subscriptions currently following a stream (for probes, metrics and tests). */
  get openCount(): number {
    return this.openSubscriptions;
  }

  /**
   * Ends every open subscription (see the class comment) and resolves once each has handed its
   * last event to its transport, or after `timeoutMs`.
   */
  async close(timeoutMs: number): Promise<void> {
    this.closing = true;
    this.shutdown.abort();
    for (const controller of this.onClose) controller.abort();
    if (this.openSubscriptions === 0) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(done, timeoutMs);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.idleWaiters.add(done);
    });
  }

  /** Resolves when the message's end event is in its log, or after `timeoutMs`. */
  async waitForEnd(messageId: string, timeoutMs: number): Promise<void> {
    const stop = this.abortedOnClose();
    const timer = setTimeout(() => stop.abort(), timeoutMs);
    try {
      const events = readStream(this.streams, messageId, 0, stop.signal, this.readerOptions);
      for await (const event of events) if (event.type === 'end') return;
    } finally {
      clearTimeout(timer);
      this.onClose.delete(stop);
    }
  }

  /**
   * The LogProbe of one message (see stream-reader.ts): one look at storage (does the message
   * exist, which seq is the log's newest) answers every quiet reader of the message on this
   * instance for most of an idle poll (LOOK_REUSE). Gone means no such message, or a log that no
   * longer reaches the last event a reader saw (storage lost it: restarted empty, evicted, or
   * restored from an older snapshot). A storage outage is not proof of absence: the reader is sent to the log,
   * which waits the outage out.
   */
  private probe(messageId: string, lastSeq: number, seenAt: number): Promise<ProbeAnswer> {
    const now = performance.now();
    let look = this.looks.get(messageId);
    if (!look || now - look.startedAt > this.readerOptions.idlePollMs * LOOK_REUSE) {
      const fresh: LogLook = { startedAt: now, result: this.lookAt(messageId) };
      this.looks.set(messageId, fresh);
      const forget = setTimeout(() => {
        if (this.looks.get(messageId) === fresh) this.looks.delete(messageId);
      }, this.readerOptions.idlePollMs);
      forget.unref();
      look = fresh;
    }
    const { startedAt } = look;
    return look.result.then(
      ({ exists, newestSeq }): ProbeAnswer => {
        if (!exists) return 'gone';
        if (newestSeq > lastSeq) return 'moved';
        if (newestSeq < lastSeq && startedAt >= seenAt) return 'gone';
        return 'quiet';
      },
      (): ProbeAnswer => 'moved',
    );
  }

  /**
   * Returned, not written into the reader's options: run through tsx (esbuild keeps function
   * names), a closure named by its property also gets a ~0.25 KB property dictionary, held by
   * every idle reader.
   */
  private probeOf(messageId: string): LogProbe {
    return (lastSeq, seenAt) => this.probe(messageId, lastSeq, seenAt);
  }

  private async lookAt(messageId: string): Promise<{ exists: boolean; newestSeq: number }> {
    const [[message], newestSeq] = await Promise.all([
      this.store.getMessages([messageId]),
      this.streams.newestSeq(messageId),
    ]);
    return { exists: message !== null && message !== undefined, newestSeq };
  }

  private abortedOnClose(): AbortController {
    const controller = new AbortController();
    if (this.closing) controller.abort();
    this.onClose.add(controller);
    return controller;
  }

  private followerStarted(messageId: string, ledgerKey: string): DeliveredTexts {
    this.openSubscriptions++;
    this.openByKey.set(ledgerKey, (this.openByKey.get(ledgerKey) ?? 0) + 1);
    let delivered = this.delivered.get(messageId);
    if (!delivered) {
      delivered = { texts: [], followers: 0 };
      this.delivered.set(messageId, delivered);
    }
    delivered.followers++;
    return delivered;
  }

  private followerEnded(messageId: string, ledgerKey: string): void {
    const delivered = this.delivered.get(messageId);
    if (delivered && --delivered.followers === 0) this.delivered.delete(messageId);
    this.openSubscriptions--;
    const left = (this.openByKey.get(ledgerKey) ?? 1) - 1;
    if (left > 0) this.openByKey.set(ledgerKey, left);
    else this.openByKey.delete(ledgerKey);
    if (this.openSubscriptions === 0) for (const wake of this.idleWaiters) wake();
  }
}

/**
 * The log of a finished message expires (STREAM_LOG_TTL_SECONDS); its stored content is still
 * whole, so it is replayed as one delta and the end.
 */
async function* replayExpired(
  message: MessageRecord,
  afterSeq: number,
): AsyncGenerator<StreamEvent, void, undefined> {
  const at = Date.now();
  if (afterSeq < 1 && message.content !== '') {
    yield { type: 'delta', messageId: message.id, seq: 1, text: message.content, at };
  }
  const endSeq = message.content === '' ? 1 : 2;
  yield {
    type: 'end',
    messageId: message.id,
    seq: Math.max(afterSeq, endSeq),
    status: message.status,
    at,
  };
}
