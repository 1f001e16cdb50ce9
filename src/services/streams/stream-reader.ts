import { Unavailable } from '../../errors.js';
import type { StreamLog, Unwatch } from '../../infra/backend/types.js';
import type { StreamEvent } from '../../model.js';
import { Doorbell, type Stoppable } from './abortable.js';

export interface StreamReaderOptions {
  /** Events read from the log per round trip. */
  pageSize: number;
  /** Live events held for a subscriber that reads slower than they arrive; past it, the log is re-read. */
  liveBufferLimit: number;
  /** The same bound in bytes of delta text: coalesced deltas can be large. */
  liveBufferBytes: number;
  /**
   * With no announcement for about this long (±20 %) the log is read anyway: announcements can
   * be lost (pub/sub is at most once), and this bounds how long a loss can delay a reader.
   */
  idlePollMs: number;
  /** How long a reader keeps retrying a log that storage cannot serve before it gives up. */
  maxOutageMs: number;
}

export const DEFAULT_READER_OPTIONS: StreamReaderOptions = {
  pageSize: 512,
  liveBufferLimit: 1024,
  liveBufferBytes: 1024 * 1024,
  idlePollMs: 5_000,
  maxOutageMs: 30_000,
};

/**
 * What a quiet reader asks instead of reading the log itself: has the log moved past `lastSeq`,
 * or is the message gone? One answer serves every reader of the message for a while (see
 * StreamService), so idle readers cost storage a few commands per message, not per reader.
 * `seenAt` (performance.now() of the reader's last event) keeps an answer older than what the
 * reader saw from calling it gone.
 */
export type LogProbe = (lastSeq: number, seenAt: number) => Promise<'moved' | 'quiet' | 'gone'>;

/** The message behind a stream no longer exists (deleted, or storage lost it). */
export class MessageGone extends Error {
  override name = 'MessageGone';
}

const OUTAGE_RETRY_MS = 250;

/**
 * The longest replays run in one turn of the event loop. A send to a socket resolves without a
 * turn while the kernel takes the bytes, so a replay only pauses where it chooses to.
 */
const REPLAY_SLICE_MS = 5;

/**
 * Event-loop time shared by every replay of one log: once a turn has run replays for
 * REPLAY_SLICE_MS, each of them waits for the next turn, and they all resume in it together. A
 * slice per reader would not bound the loop: ten readers resumed in one turn would each take
 * one, and ten subscriptions that arrive at once would each replay a page before any I/O.
 */
class ReplayBudget {
  private turnStartedAt = Number.NEGATIVE_INFINITY;
  private turn: Promise<void> | undefined;

  get spent(): boolean {
    return performance.now() - this.turnStartedAt >= REPLAY_SLICE_MS;
  }

  nextTurn(): Promise<void> {
    this.turn ??= new Promise<void>((resolve) =>
      setImmediate(() => {
        this.turn = undefined;
        this.turnStartedAt = performance.now();
        resolve();
      }),
    );
    return this.turn;
  }
}

/** One budget per log, and so per app: the readers of one process's streams share it. */
const replayBudgets = new WeakMap<StreamLog, ReplayBudget>();

function replayBudgetOf(streams: StreamLog): ReplayBudget {
  let budget = replayBudgets.get(streams);
  if (!budget) {
    budget = new ReplayBudget();
    replayBudgets.set(streams, budget);
  }
  return budget;
}

/**
 * Every event of one message after `afterSeq`, exactly once and in order, ending after the end
 * event, when `signal` aborts (at once), or once `drain` has aborted and the log is read to its
 * current end (nothing written so far is skipped). The order is what makes it race-free: watch
 * the live channel first (buffering), then read the log, then serve live events, falling back to
 * the log whenever a seq is missing, the buffer overflowed, or the channel went quiet.
 *
 * A quiet channel asks `probe` (or, without one, reads the log) whether anything was missed and
 * whether the message and its log still exist: a reader of a message whose data vanished ends
 * with MessageGone instead of waiting for an end nobody will write.
 * A storage outage is waited out for `maxOutageMs`; a replay yields to the event loop between
 * pages and whenever the replays of this log have had REPLAY_SLICE_MS of the current turn, so
 * long replays (to sockets that went away, or to many at once) cannot hold the process.
 */
export async function* readStream(
  streams: StreamLog,
  messageId: string,
  afterSeq: number,
  signal: Stoppable,
  options: StreamReaderOptions = DEFAULT_READER_OPTIONS,
  { drain, probe }: { drain?: AbortSignal; probe?: LogProbe } = {},
): AsyncGenerator<StreamEvent, void, undefined> {
  let lastSeq = afterSeq;
  /** When lastSeq last moved: a probe started before it cannot know about that event. */
  let advancedAt = performance.now();
  const budget = replayBudgetOf(streams);
  const live = new LiveBuffer(options.liveBufferLimit, options.liveBufferBytes);
  // Jitter spreads the safety-net polls of many idle readers over time.
  const doorbell = new Doorbell(
    options.idlePollMs * (0.8 + Math.random() * 0.4),
    drain ? [signal, drain] : [signal],
  );
  const onEvent = (event: StreamEvent) => {
    if (event.seq <= lastSeq) return;
    live.push(event);
    doorbell.ring();
  };
  let unwatch: Unwatch | undefined;
  let outageSince: number | undefined;
  try {
    // Watching comes first (see above), and an outage is waited out here as for the log: a
    // subscription that starts, or whose SUBSCRIBE is on the wire, when Redis goes away is not
    // ended for it.
    while (unwatch === undefined) {
      try {
        unwatch = await streams.watch(messageId, onEvent);
      } catch (error) {
        outageSince = await waitOutOutage(error, outageSince, options.maxOutageMs, doorbell);
        if (signal.aborted) return;
      }
    }
    let readLog = true;
    let finalRead = false;
    while (!signal.aborted) {
      if (readLog || live.overflowed) {
        live.clear();
        // Read here, not in a helper closure: every idle reader would hold one.
        let page: StreamEvent[];
        try {
          page = await streams.read(messageId, lastSeq, options.pageSize);
          outageSince = undefined;
        } catch (error) {
          outageSince = await waitOutOutage(error, outageSince, options.maxOutageMs, doorbell);
          continue;
        }
        readLog = false;
        for (const event of page) {
          if (event.seq !== lastSeq + 1 || signal.aborted) break;
          yield event;
          lastSeq = event.seq;
          advancedAt = performance.now();
          if (event.type === 'end') return;
          if (budget.spent) await budget.nextTurn();
        }
        if (page.length === options.pageSize) {
          readLog = true;
          await budget.nextTurn();
        }
        continue;
      }
      const next = live.nextAfter(lastSeq);
      if (next) {
        if (next.seq !== lastSeq + 1) {
          readLog = true;
          continue;
        }
        live.shift();
        yield next;
        lastSeq = next.seq;
        advancedAt = performance.now();
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
      if (woken) continue;
      if (!probe) {
        readLog = true;
        continue;
      }
      const state = await probe(lastSeq, advancedAt);
      if (state === 'gone') throw new MessageGone(`message ${messageId} no longer exists`);
      readLog = state === 'moved';
    }
  } finally {
    doorbell.close();
    await unwatch?.().catch(() => {});
  }
}

/**
 * After a call to storage failed with `error`: throws it unless it is an outage that began less
 * than `maxOutageMs` ago, else waits before the next try (less when the reader stops). Returns
 * when the outage began.
 */
async function waitOutOutage(
  error: unknown,
  outageSince: number | undefined,
  maxOutageMs: number,
  doorbell: Doorbell,
): Promise<number> {
  if (!(error instanceof Unavailable)) throw error;
  const since = outageSince ?? Date.now();
  if (Date.now() - since >= maxOutageMs) throw error;
  await doorbell.sleep(OUTAGE_RETRY_MS);
  return since;
}

/**
 * Live events not yet delivered, bounded in count and in bytes of delta text (a delta coalesced
 * behind a slow backend can be megabytes). Past either bound it empties and says so: the reader
 * goes back to the log, which holds every event anyway.
 */
class LiveBuffer {
  private events: StreamEvent[] = [];
  private bytes = 0;
  overflowed = false;

  constructor(
    private readonly maxEvents: number,
    private readonly maxBytes: number,
  ) {}

  push(event: StreamEvent): void {
    if (this.overflowed) return;
    const size = event.type === 'delta' ? Buffer.byteLength(event.text) : 0;
    if (this.events.length >= this.maxEvents || this.bytes + size > this.maxBytes) {
      this.events = [];
      this.bytes = 0;
      this.overflowed = true;
      return;
    }
    this.events.push(event);
    this.bytes += size;
  }

  /** The first buffered event after `seq`, dropping older ones. */
  nextAfter(seq: number): StreamEvent | undefined {
    while (this.events[0] && this.events[0].seq <= seq) this.shift();
    return this.events[0];
  }

  shift(): void {
    const event = this.events.shift();
    if (event?.type === 'delta') this.bytes -= Buffer.byteLength(event.text);
  }

  clear(): void {
    this.events = [];
    this.bytes = 0;
    this.overflowed = false;
  }
}
