import { setTimeout as sleep } from 'node:timers/promises';
import { Unavailable } from '../../errors.js';
import type { StreamLog } from '../../infra/backend/types.js';
import type { MessageStatus, StreamEvent } from '../../model.js';

export interface EventWriterOptions {
  /** Generated text held while storage is away; past it the answer is interrupted. */
  maxBufferedBytes: number;
  /** How long an append keeps being retried through a storage outage. */
  maxOutageMs: number;
  /** Longest text of one delta event, so no event (and no reader's page) grows without bound. */
  maxDeltaChars: number;
}

export const DEFAULT_WRITER_OPTIONS: EventWriterOptions = {
  maxBufferedBytes: 1024 * 1024,
  maxOutageMs: 30_000,
  maxDeltaChars: 16 * 1024,
};

/** Events per append: big enough to catch up after an outage in few round trips. */
const MAX_EVENTS_PER_APPEND = 16;
const FIRST_RETRY_MS = 100;
const MAX_RETRY_MS = 1_000;

/** The log no longer continues where this writer left it: storage lost the message's data. */
export class StreamLost extends Error {
  override name = 'StreamLost';
}

/** More was generated during a storage outage than may be held, or the outage lasted too long. */
export class StorageOutageTooLong extends Error {
  override name = 'StorageOutageTooLong';
}

/**
 * Turns a generation's text chunks into the message's event log. At most one append is in
 * flight: chunks that arrive meanwhile are joined into the next deltas, so a fast upstream over a
 * slow backend sends fewer, larger deltas, never reordered and never dropped.
 *
 * Appends are retried through a storage outage, and a retried append carries exactly the events
 * of the first try (same seq, same text, same timestamp): the log's append is idempotent for an
 * identical event, so an append that reached Redis although its reply was lost is not a conflict.
 * Text generated meanwhile waits, bounded in bytes and time, for the next append.
 */
export class EventWriter {
  /** Everything generated so far, whether or not it reached the log yet. */
  text = '';
  /** Set when writing gave up (outage past its bounds, or the log was lost); the answer stops. */
  failure: unknown;
  private lastSeq = 0;
  /** Events tried and not yet confirmed; retried unchanged. */
  private inflight: StreamEvent[] | undefined;
  private pending = '';
  private pendingBytes = 0;
  private outageSince: number | undefined;
  private endEvent: StreamEvent | undefined;
  private flushing: Promise<void> | undefined;

  constructor(
    private readonly streams: StreamLog,
    private readonly messageId: string,
    private readonly options: EventWriterOptions = DEFAULT_WRITER_OPTIONS,
  ) {}

  push(text: string): void {
    this.text += text;
    this.pending += text;
    this.pendingBytes += Buffer.byteLength(text);
    if (this.pendingBytes > this.options.maxBufferedBytes && this.failure === undefined) {
      this.failure = new StorageOutageTooLong('the answer outgrew its storage buffer');
    }
    this.flushing ??= this.flush();
  }

  /**
   * Writes what is pending, then the end event; returns the end event's seq. Safe to call again
   * after it failed: the same end event is retried.
   */
  async end(status: MessageStatus): Promise<number> {
    await this.flushing;
    if (this.failure instanceof StreamLost) throw this.failure;
    if (this.endEvent === undefined) {
      while (this.inflight || this.pending) await this.appendNext();
      const seq = this.lastSeq + 1;
      this.endEvent = { type: 'end', messageId: this.messageId, seq, status, at: Date.now() };
      this.inflight = [this.endEvent];
    }
    if (this.inflight) await this.appendNext();
    return this.endEvent.seq;
  }

  private async flush(): Promise<void> {
    try {
      while ((this.inflight || this.pending) && this.failure === undefined) {
        try {
          await this.appendNext();
          this.outageSince = undefined;
        } catch (error) {
          await this.waitOut(error);
        }
      }
    } finally {
      this.flushing = undefined;
    }
  }

  /** Waits before the next try of an outage; records why the writer gave up otherwise. */
  private async waitOut(error: unknown): Promise<void> {
    if (!(error instanceof Unavailable)) {
      this.failure = error;
      return;
    }
    const now = Date.now();
    this.outageSince ??= now;
    const waited = now - this.outageSince;
    if (waited >= this.options.maxOutageMs) {
      this.failure = new StorageOutageTooLong('storage stayed unavailable', { cause: error });
      return;
    }
    const backoff = Math.min(FIRST_RETRY_MS * 2 ** Math.floor(waited / 500), MAX_RETRY_MS);
    await sleep(Math.min(backoff, this.options.maxOutageMs - waited));
  }

  /** Appends the in-flight events, or the next ones cut from what is pending. */
  private async appendNext(): Promise<void> {
    this.inflight ??= this.nextDeltas();
    const events = this.inflight;
    try {
      await this.streams.append(this.messageId, events);
    } catch (error) {
      if (isSeqConflict(error)) throw this.lost(error);
      throw error;
    }
    this.inflight = undefined;
    this.lastSeq = events.at(-1)?.seq ?? this.lastSeq;
  }

  private nextDeltas(): StreamEvent[] {
    const events: StreamEvent[] = [];
    const at = Date.now();
    while (this.pending && events.length < MAX_EVENTS_PER_APPEND) {
      const text = this.pending.slice(0, cutAt(this.pending, this.options.maxDeltaChars));
      this.pending = this.pending.slice(text.length);
      events.push({
        type: 'delta',
        messageId: this.messageId,
        seq: this.lastSeq + events.length + 1,
        text,
        at,
      });
    }
    this.pendingBytes = this.pending === '' ? 0 : Buffer.byteLength(this.pending);
    return events;
  }

  private lost(cause: unknown): StreamLost {
    const lost = new StreamLost('the message log no longer continues this stream', { cause });
    this.failure = lost;
    return lost;
  }
}

/** At most `max` characters, never splitting a surrogate pair. */
function cutAt(text: string, max: number): number {
  if (text.length <= max) return text.length;
  const last = text.charCodeAt(max - 1);
  return last >= 0xd800 && last <= 0xdbff && max > 1 ? max - 1 : max;
}

/** Both logs refuse an append that would not continue them with "SEQ_CONFLICT ...". */
function isSeqConflict(error: unknown): boolean {
  return error instanceof Error && error.message.startsWith('SEQ_CONFLICT');
}
