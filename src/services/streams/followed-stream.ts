import { Unavailable } from '../../errors.js';
import type { MessageError, MessageRecord, StreamEvent } from '../../model.js';
import { type Stoppable, StopSignal } from './abortable.js';
import { MessageGone } from './stream-reader.js';

/**
 * The delta texts of one message that its followers on this instance have delivered, by seq:
 * what an interrupted end reports as the text a subscription delivered. One per message, not a
 * string each follower grows: those were a string per event per subscriber, alive until the
 * stream ended (young-generation collections copied each, then promoted it).
 */
export interface DeliveredTexts {
  texts: string[];
  followers: number;
}

/** What a follower needs of the service that opened it (StreamService). */
export interface FollowerHost {
  /** Aborted on shutdown: readers deliver what is logged, then end. */
  readonly drain: AbortSignal;
  /** The reader of the message's events after `afterSeq`, ending at once when `stop` aborts. */
  readerOf(messageId: string, afterSeq: number, stop: Stoppable): AsyncGenerator<StreamEvent>;
  /** A follower starts reading: counted, and given the message's delivered texts. */
  followerStarted(messageId: string, ledgerKey: string): DeliveredTexts;
  /** A follower is done (its transport had its last event, or it was stopped). */
  followerEnded(messageId: string, ledgerKey: string): void;
}

const DONE: IteratorResult<StreamEvent, void> = { done: true, value: undefined };

/**
 * One subscription's events: the reader's, exactly as it yields them, ending with exactly one
 * end event. When the reader cannot go on, the end is made up here: after a shutdown drain one
 * that carries the last delivered cursor (status STREAMING: the client resumes elsewhere), and
 * when storage lost the message or cannot be read an INTERRUPTED one with the text this
 * subscription delivered. `return()` (a client unsubscribing) stops the reader even while it
 * waits. The follower is counted by its host from its first `next()` to the call after its end
 * (by then the transport has sent the end) or to `return()`.
 *
 * One object wraps the reader directly: the async generator and the abortable wrapper it
 * replaces were two more steps (and promises) per event per subscriber.
 */
export class FollowedStream implements AsyncGenerator<StreamEvent, void, undefined> {
  private readonly stop = new StopSignal();
  private reader: AsyncGenerator<StreamEvent> | undefined;
  private delivered: DeliveredTexts | undefined;
  private lastSeq: number;
  /** new: not read yet; reading; ended: the end was handed out; done: counted out. */
  private state: 'new' | 'reading' | 'ended' | 'done' = 'new';

  constructor(
    private readonly host: FollowerHost,
    private readonly message: MessageRecord,
    private readonly afterSeq: number,
    private readonly ledgerKey: string,
  ) {
    this.lastSeq = afterSeq;
  }

  async next(): Promise<IteratorResult<StreamEvent, void>> {
    if (this.state === 'new') this.start();
    if (this.state !== 'reading') {
      await this.finish();
      return DONE;
    }
    const reader = this.reader as AsyncGenerator<StreamEvent>;
    try {
      const next = await reader.next();
      if (next.done) {
        if (this.host.drain.aborted && !this.stop.aborted) {
          return this.ended({
            type: 'end',
            messageId: this.message.id,
            seq: this.lastSeq,
            status: 'STREAMING',
            at: Date.now(),
          });
        }
        await this.finish();
        return DONE;
      }
      const event = next.value;
      this.lastSeq = event.seq;
      if (event.type === 'delta')
        (this.delivered as DeliveredTexts).texts[event.seq] ??= event.text;
      if (event.type === 'end') this.state = 'ended';
      return { done: false, value: event };
    } catch (error) {
      if (!this.stop.aborted) {
        if (error instanceof MessageGone) {
          return this.ended(
            this.interruptedEnd({
              code: 'GENERATION_LOST',
              message: 'This answer no longer exists: storage lost it.',
            }),
          );
        }
        if (error instanceof Unavailable) {
          return this.ended(
            this.interruptedEnd({
              code: 'STORAGE_UNAVAILABLE',
              message: 'The stream could not be read; resume later.',
            }),
          );
        }
      }
      await this.finish();
      throw error;
    }
  }

  async return(): Promise<IteratorResult<StreamEvent, void>> {
    this.stop.abort();
    await this.finish();
    return DONE;
  }

  async throw(error: unknown): Promise<IteratorResult<StreamEvent, void>> {
    this.stop.abort();
    await this.finish();
    throw error;
  }

  [Symbol.asyncIterator](): AsyncGenerator<StreamEvent, void, undefined> {
    return this;
  }

  private start(): void {
    this.state = 'reading';
    this.delivered = this.host.followerStarted(this.message.id, this.ledgerKey);
    this.reader = this.host.readerOf(this.message.id, this.afterSeq, this.stop);
  }

  private ended(end: StreamEvent): IteratorResult<StreamEvent, void> {
    this.state = 'ended';
    return { done: false, value: end };
  }

  /** Stops the reader (its finally unwatches) and counts the follower out, once. */
  private async finish(): Promise<void> {
    if (this.state === 'done') return;
    const started = this.state !== 'new';
    this.state = 'done';
    if (!started) return;
    try {
      await this.reader?.return(undefined);
    } finally {
      this.host.followerEnded(this.message.id, this.ledgerKey);
    }
  }

  /**
   * An end made up when the log cannot tell how the stream ended: the message as this
   * subscription knew it, with the deltas it delivered (those after its cursor). Never stored.
   */
  private interruptedEnd(error: MessageError): StreamEvent {
    const content = (this.delivered as DeliveredTexts).texts
      .slice(this.afterSeq + 1, this.lastSeq + 1)
      .join('');
    const { message } = this;
    return {
      type: 'end',
      messageId: message.id,
      seq: this.lastSeq,
      status: 'INTERRUPTED',
      at: Date.now(),
      snapshot: { ...message, content, status: 'INTERRUPTED', error },
    };
  }
}
