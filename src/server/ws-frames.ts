import type { ExecutionResult } from 'graphql';
import type { WebSocket } from 'ws';
import type { DirectResults } from './shared-execution.js';
import { StoppingIterator } from './stopping-iterator.js';

/**
 * graphql-ws `next` frames written straight to the socket, with each result serialised once.
 *
 * graphql-ws validates and stringifies every result for every subscriber. Subscribers of one
 * message share their results (shared-execution.ts), so the payload's JSON is kept beside the
 * result and only the operation id is spliced in per subscriber: the frame is byte for byte what
 * graphql-ws would have sent. The writer replaces the operation's iterable (graphql-ws's
 * `onOperation` hook): graphql-ws still owns the operation (subscribe, complete from either
 * side, errors) and sends `complete` after the last frame, on the same ordered socket.
 */
const FRAME_END = Buffer.from('}');
/** The bytes are JSON text: sent as a text frame, as graphql-ws sends strings. */
const TEXT_FRAME = { binary: false } as const;
/**
 * A held frame is not waited for while its socket has at most this much unsent (a quarter of the
 * slow-consumer cap, whose check counts held bytes too); past it, it waits for its write.
 */
const MAX_HOLD_AHEAD_BYTES = 64 * 1024;
/** The longest a frame is held back for others of its socket. */
const MAX_HOLD_MS = 2;

interface RawSocket {
  cork(): void;
  uncork(): void;
}

/**
 * A socket's second and later frames of one turn of the event loop wait for the end of the turn
 * (setImmediate runs after the poll phase) and leave in one write. A paced stream sends one
 * frame per turn, which leaves at once as before; a burst (a replay, a pub/sub read carrying many
 * events) made one syscall per frame per socket.
 */
class TurnCorks {
  private readonly sent = new Set<RawSocket>();
  private readonly corked = new Set<RawSocket>();
  /** performance.now() of the oldest held frame's cork. */
  private corkedAt = 0;
  private scheduled = false;
  private readonly endTurn = () => {
    this.scheduled = false;
    this.flush();
    this.sent.clear();
  };

  private flush(): void {
    for (const raw of this.corked) raw.uncork();
    this.corked.clear();
  }

  /** Before a frame is sent on `socket`: true when it is held for the end of the turn. */
  held(socket: WebSocket): boolean {
    const raw = (socket as unknown as { _socket?: RawSocket })._socket;
    if (!raw) return false;
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.endTurn);
    }
    // A turn of a loaded process can run for tens of milliseconds: nothing is held longer.
    if (this.corked.size > 0 && performance.now() - this.corkedAt > MAX_HOLD_MS) this.flush();
    if (this.corked.has(raw)) return true;
    if (!this.sent.has(raw)) {
      this.sent.add(raw);
      return false;
    }
    if (this.corked.size === 0) this.corkedAt = performance.now();
    raw.cork();
    this.corked.add(raw);
    return true;
  }
}

const turnCorks = new TurnCorks();

export class FrameWriter {
  private readonly payloads = new WeakMap<ExecutionResult, Buffer>();
  /**
   * Results serialised and frames written since start, and of those written how many were read
   * past the per-event hooks (tests and the bench read them).
   */
  readonly counts = { serialised: 0, written: 0, direct: 0 };
  readonly holdAheadBytes: number;

  /** `maxBufferedBytes`: the slow-consumer cap (WS_MAX_BUFFERED_BYTES). */
  constructor({ maxBufferedBytes }: { maxBufferedBytes: number }) {
    this.holdAheadBytes = Math.min(MAX_HOLD_AHEAD_BYTES, Math.floor(maxBufferedBytes / 4));
  }

  /**
   * `roomToSend` is asked before every frame: false ends the operation (the peer left, or was
   * ended for reading too slowly). Each frame waits for the previous one's write, as graphql-ws
   * does, so a slow socket holds back only its own operations.
   */
  frames(
    results: AsyncIterable<ExecutionResult>,
    operationId: string,
    socket: WebSocket,
    roomToSend: () => boolean,
    direct?: DirectResults,
  ): AsyncGenerator<never, void, undefined> {
    const iterator = results[Symbol.asyncIterator]();
    return new FrameStream(this, iterator, operationId, socket, roomToSend, direct);
  }

  /** One frame of a result: the prefix of its operation, the shared payload, the brace. */
  frameOf(prefix: Buffer, result: ExecutionResult): Buffer {
    const payload = this.payloadOf(result);
    this.counts.written++;
    return Buffer.concat([prefix, payload, FRAME_END], prefix.length + payload.length + 1);
  }

  /** The payload's UTF-8 bytes, made once: ws would encode a string frame for every socket. */
  private payloadOf(result: ExecutionResult): Buffer {
    let payload = this.payloads.get(result);
    if (payload === undefined) {
      // GraphQLError serialises through its toJSON, as in graphql-ws's own frames.
      payload = Buffer.from(JSON.stringify(result));
      this.counts.serialised++;
      this.payloads.set(result, payload);
    }
    return payload;
  }
}

/** One operation's frames, as the iterable graphql-ws drains (it yields nothing itself). */
class FrameStream extends StoppingIterator<never> {
  /** Made at the first frame: an idle subscription may never send one. */
  private prefix: Buffer | undefined;
  private stopped = false;

  constructor(
    private readonly writer: FrameWriter,
    private readonly iterator: AsyncIterator<ExecutionResult>,
    private readonly operationId: string,
    private readonly socket: WebSocket,
    private readonly roomToSend: () => boolean,
    /** The same results unwrapped (a shared stream): see `pull`. */
    private readonly direct: DirectResults | undefined,
  ) {
    super();
  }

  /**
   * The next result. Of a shared stream, a result without errors is read past envelop's
   * per-event hooks, which rewrite errors only (see DirectResults); a result with errors, a
   * thrown error and the end are handed back and read through the hooks, as graphql-ws would.
   */
  private async pull(): Promise<IteratorResult<ExecutionResult, void>> {
    const { direct } = this;
    if (!direct) return this.iterator.next();
    let next: IteratorResult<ExecutionResult, void>;
    try {
      next = await direct.next();
    } catch (error) {
      direct.handBack({ error });
      return this.iterator.next();
    }
    if (!next.done && next.value.errors === undefined) {
      this.writer.counts.direct++;
      return next;
    }
    direct.handBack({ result: next });
    return this.iterator.next();
  }

  async next(): Promise<IteratorResult<never, void>> {
    const { socket } = this;
    while (!this.stopped) {
      const next = await this.pull();
      if (next.done) break;
      if (socket.readyState !== socket.OPEN || !this.roomToSend()) {
        await this.stop();
        break;
      }
      this.prefix ??= Buffer.from(
        `{"id":${JSON.stringify(this.operationId)},"type":"next","payload":`,
      );
      const frame = this.writer.frameOf(this.prefix, next.value);
      // A held frame's write completes only when the turn ends: waiting for it would hold the
      // stream to two frames a turn. Past holdAheadBytes it waits anyway (backpressure).
      const held = turnCorks.held(socket);
      if (held && socket.bufferedAmount + frame.length <= this.writer.holdAheadBytes) {
        socket.send(frame, TEXT_FRAME);
        continue;
      }
      // A send to a peer that just went away fails (EPIPE); its close ends the operation.
      await new Promise<void>((resolve) => socket.send(frame, TEXT_FRAME, () => resolve()));
    }
    return { done: true, value: undefined };
  }

  protected async stop(): Promise<void> {
    this.stopped = true;
    await this.iterator.return?.();
  }
}
