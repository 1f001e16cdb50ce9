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

/**
 * Events per append: big enough that a burst (the bench's saturation sends 300 tokens at once)
 * or the catch-up after an outage costs few script calls, small enough that one script stays
 * short on Redis's single thread.
 */
const MAX_EVENTS_PER_APPEND = 64;
/**
 * Chunks held (not yet sent) before new text joins the newest held chunk instead of becoming an
 * event of its own. In normal operation a burst is cut into appends long before this, so every
 * upstream chunk stays its own delta (readers and clients see one event per token). It only
 * binds in an outage, where maxBufferedBytes alone would let a megabyte of one-character chunks
 * become a million events: joining bounds the events (and so the script calls and the readers'
 * pages) of the catch-up, never the text, which maxBufferedBytes and maxDeltaChars still bound.
 */
export const MAX_HELD_CHUNKS = 4096;
/**
 * Appends of one answer sent before the first is confirmed (one connection keeps them in order).
 * Two keep a paced upstream's tokens one event each; more sent every token of a burst as its
 * own script call, which cost first tokens more than it saved (ttft p99 on Redis, same bench).
 */
export const MAX_APPENDS_IN_FLIGHT = 2;
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
 * Turns a generation's text chunks into the message's event log, one delta per chunk (a chunk
 * longer than maxDeltaChars is cut into several). Chunks that arrive while appends are in flight
 * wait and go together in the next append, each still its own event, never reordered and never
 * dropped; only past MAX_HELD_CHUNKS waiting (an outage) are new chunks joined.
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
  /** The newest seq the log confirmed. */
  private lastSeq = 0;
  /** The newest seq handed to the log, confirmed or not. */
  private sentSeq = 0;
  /** Appends sent and not yet confirmed, oldest first (at most MAX_APPENDS_IN_FLIGHT). */
  private sending: { events: StreamEvent[]; done: Promise<void> }[] = [];
  /** Events tried and not confirmed: retried unchanged, alone, before anything else is sent. */
  private inflight: StreamEvent[] | undefined;
  /** Chunks not yet sent, oldest first; each becomes its own delta. */
  private pending: string[] = [];
  /** Index of the first chunk of `pending` not yet sent (shifting an array per event is O(n)). */
  private pendingHead = 0;
  /** Bytes of text generated and not yet confirmed by the log (pending, sent or retried). */
  private heldBytes = 0;
  private outageSince: number | undefined;
  private endEvent: StreamEvent | undefined;
  private flushing: Promise<void> | undefined;

  constructor(
    private readonly streams: StreamLog,
    private readonly messageId: string,
    private readonly options: EventWriterOptions = DEFAULT_WRITER_OPTIONS,
  ) {}

  push(text: string): void {
    if (text === '') return;
    this.text += text;
    this.hold(text);
    this.heldBytes += Buffer.byteLength(text);
    if (this.heldBytes > this.options.maxBufferedBytes && this.failure === undefined) {
      this.failure = new StorageOutageTooLong('the answer outgrew its storage buffer');
    }
    this.sendWhileRoom();
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
      while (this.inflight || this.hasPending()) await this.appendNext();
      const seq = this.lastSeq + 1;
      this.endEvent = { type: 'end', messageId: this.messageId, seq, status, at: Date.now() };
      this.inflight = [this.endEvent];
    }
    if (this.inflight) await this.appendNext();
    return this.endEvent.seq;
  }

  /**
   * Confirms what was sent, oldest first, sending what is pending whenever there is room; runs
   * while anything is pending or unconfirmed. Appends are pipelined: a token waits for a free
   * slot, not for the previous append's round trip; chunks that arrive while
   * MAX_APPENDS_IN_FLIGHT appends wait go, each its own event, in the next one.
   * After a writer gave up it still confirms what it had sent, for `end` to go on from.
   */
  private async flush(): Promise<void> {
    try {
      while (
        this.sending.length > 0 ||
        ((this.inflight || this.hasPending()) && this.failure === undefined)
      ) {
        try {
          if (this.inflight && this.failure === undefined) await this.appendNext();
          else await this.confirmOldest();
          this.outageSince = undefined;
          this.sendWhileRoom();
        } catch (error) {
          if (this.failure === undefined) await this.waitOut(error);
        }
      }
    } finally {
      this.flushing = undefined;
    }
  }

  /** Sends deltas cut from what is pending while fewer than the maximum appends wait. */
  private sendWhileRoom(): void {
    if (this.inflight || this.failure !== undefined) return;
    while (this.hasPending() && this.sending.length < MAX_APPENDS_IN_FLIGHT) {
      const events = this.nextDeltas();
      const done = this.streams.append(this.messageId, events);
      // Awaited in order by confirmOldest; a later one can fail first.
      done.catch(() => {});
      this.sending.push({ events, done });
    }
  }

  /**
   * Waits for the oldest append sent. When it fails, every later one is waited for too (on one
   * connection they fail with it, or conflict for want of it) and all their events, in order,
   * become the one batch retried: the log skips the events it already holds.
   */
  private async confirmOldest(): Promise<void> {
    const oldest = this.sending[0];
    if (!oldest) return;
    try {
      await oldest.done;
    } catch (error) {
      await Promise.allSettled(this.sending.map((append) => append.done));
      this.inflight = this.sending.flatMap((append) => append.events);
      this.sending = [];
      if (isSeqConflict(error)) throw this.lost(error);
      throw error;
    }
    this.sending.shift();
    this.confirmed(oldest.events);
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
    this.confirmed(events);
    this.sentSeq = Math.max(this.sentSeq, this.lastSeq);
  }

  private confirmed(events: readonly StreamEvent[]): void {
    this.lastSeq = events.at(-1)?.seq ?? this.lastSeq;
    for (const event of events) {
      if (event.type === 'delta') this.heldBytes -= Buffer.byteLength(event.text);
    }
  }

  private hasPending(): boolean {
    return this.pendingHead < this.pending.length;
  }

  /** Holds a chunk for the next append; joined to the newest held one only past MAX_HELD_CHUNKS. */
  private hold(text: string): void {
    const held = this.pending.length - this.pendingHead;
    if (held >= MAX_HELD_CHUNKS) {
      const last = this.pending.length - 1;
      this.pending[last] += text;
      return;
    }
    this.pending.push(text);
  }

  private nextDeltas(): StreamEvent[] {
    const events: StreamEvent[] = [];
    const at = Date.now();
    const max = this.options.maxDeltaChars;
    while (this.hasPending() && events.length < MAX_EVENTS_PER_APPEND) {
      const chunk = this.pending[this.pendingHead] ?? '';
      const text = chunk.slice(0, cutAt(chunk, max));
      if (text.length < chunk.length) {
        // A chunk over maxDeltaChars (or joined past it in an outage) goes out in pieces.
        this.pending[this.pendingHead] = chunk.slice(text.length);
      } else {
        this.pendingHead += 1;
      }
      events.push({
        type: 'delta',
        messageId: this.messageId,
        seq: this.sentSeq + events.length + 1,
        text,
        at,
      });
    }
    if (this.pendingHead === this.pending.length) {
      this.pending = [];
      this.pendingHead = 0;
    } else if (this.pendingHead > 1024) {
      this.pending = this.pending.slice(this.pendingHead);
      this.pendingHead = 0;
    }
    this.sentSeq = events.at(-1)?.seq ?? this.sentSeq;
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
