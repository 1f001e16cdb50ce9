import type { ExecutionResult } from 'graphql';
import type { WebSocket } from 'ws';

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
    const iterator = results[Symbol.asyncIterator]();
    const prefix = Buffer.from(`{"id":${JSON.stringify(operationId)},"type":"next","payload":`);
    let stopped = false;
    const stop = async () => {
      stopped = true;
      await iterator.return?.();
    };
    const writer: AsyncGenerator<never, void, undefined> = {
      next: async () => {
        while (!stopped) {
          const next = await iterator.next();
          if (next.done) break;
          if (socket.readyState !== socket.OPEN || !roomToSend()) {
            await stop();
            break;
          }
          const payload = this.payloadOf(next.value);
          const frame = Buffer.concat(
            [prefix, payload, FRAME_END],
            prefix.length + payload.length + 1,
          );
          this.counts.written++;
          // A send to a peer that just went away fails (EPIPE); its close ends the operation.
          await new Promise<void>((resolve) => socket.send(frame, TEXT_FRAME, () => resolve()));
        }
        return { done: true, value: undefined };
      },
      return: async () => {
        await stop();
        return { done: true, value: undefined };
      },
      throw: async (error) => {
        await stop();
        throw error;
      },
      [Symbol.asyncIterator]: () => writer,
    };
    return writer;
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
