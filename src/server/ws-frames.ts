import type { ExecutionResult } from 'graphql';
import type { WebSocket } from 'ws';
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

export class FrameWriter {
  private readonly payloads = new WeakMap<ExecutionResult, Buffer>();
  /** Results serialised and frames written since start (tests and the bench read them). */
  readonly counts = { serialised: 0, written: 0 };

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
  ): AsyncGenerator<never, void, undefined> {
    return new FrameStream(this, results[Symbol.asyncIterator](), operationId, socket, roomToSend);
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
  ) {
    super();
  }

  async next(): Promise<IteratorResult<never, void>> {
    const { socket } = this;
    while (!this.stopped) {
      const next = await this.iterator.next();
      if (next.done) break;
      if (socket.readyState !== socket.OPEN || !this.roomToSend()) {
        await this.stop();
        break;
      }
      this.prefix ??= Buffer.from(
        `{"id":${JSON.stringify(this.operationId)},"type":"next","payload":`,
      );
      const frame = this.writer.frameOf(this.prefix, next.value);
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
