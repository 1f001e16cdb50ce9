import type { StreamLog } from '../infra/backend/types.js';
import type { MessageStatus } from '../model.js';

/**
 * Turns a generation's text chunks into the message's event log. At most one append is in
 * flight: chunks that arrive meanwhile are joined into the next delta, so a fast upstream over a
 * slow backend sends fewer, larger deltas, never reordered and never dropped.
 */
export class EventWriter {
  /** Everything generated so far, whether or not it reached the log yet. */
  text = '';
  /** Set when an append failed; the generation stops on it. */
  failure: unknown;
  private lastSeq = 0;
  private pending = '';
  private flushing: Promise<void> | undefined;

  constructor(
    private readonly streams: StreamLog,
    private readonly messageId: string,
  ) {}

  push(text: string): void {
    this.text += text;
    this.pending += text;
    this.flushing ??= this.flush();
  }

  /** Writes what is pending, then the end event; returns the end event's seq. */
  async end(status: MessageStatus): Promise<number> {
    await this.flushing;
    if (this.pending) await this.appendDelta();
    const seq = this.lastSeq + 1;
    await this.streams.append(this.messageId, [
      { type: 'end', messageId: this.messageId, seq, status, at: Date.now() },
    ]);
    this.lastSeq = seq;
    return seq;
  }

  private async flush(): Promise<void> {
    try {
      while (this.pending && this.failure === undefined) await this.appendDelta();
    } catch (error) {
      this.failure = error;
    } finally {
      this.flushing = undefined;
    }
  }

  /** The seq only advances once the append succeeded, so a failed write leaves no gap. */
  private async appendDelta(): Promise<void> {
    const text = this.pending;
    const seq = this.lastSeq + 1;
    this.pending = '';
    try {
      await this.streams.append(this.messageId, [
        { type: 'delta', messageId: this.messageId, seq, text, at: Date.now() },
      ]);
      this.lastSeq = seq;
    } catch (error) {
      this.pending = text + this.pending;
      throw error;
    }
  }
}
