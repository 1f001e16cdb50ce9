import type { StreamLog } from '../../infra/backend/types.js';

export interface LogSummary {
  /** The deltas' text, concatenated: what was streamed so far. */
  text: string;
  /** The last seq in the log (0 when empty). */
  lastSeq: number;
  ended: boolean;
}

const PAGE_SIZE = 1000;

/** Reads a message's whole event log, page by page. */
export async function readWholeLog(streams: StreamLog, messageId: string): Promise<LogSummary> {
  const summary: LogSummary = { text: '', lastSeq: 0, ended: false };
  for (;;) {
    const page = await streams.read(messageId, summary.lastSeq, PAGE_SIZE);
    for (const event of page) {
      if (event.type === 'delta') summary.text += event.text;
      else summary.ended = true;
      summary.lastSeq = event.seq;
    }
    if (page.length < PAGE_SIZE) return summary;
  }
}
