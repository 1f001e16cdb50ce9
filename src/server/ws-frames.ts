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
export class FrameWriter {
  private readonly payloads = new WeakMap<ExecutionResult, string>();
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
    const prefix = `{"id":${JSON.stringify(operationId)},"type":"next","payload":`;
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
          const frame = `${prefix}${this.payloadOf(next.value)}}`;
          this.counts.written++;
          // A send to a peer that just went away fails (EPIPE); its close ends the operation.
          await new Promise<void>((resolve) => socket.send(frame, () => resolve()));
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

  private payloadOf(result: ExecutionResult): string {
    let payload = this.payloads.get(result);
    if (payload === undefined) {
      // GraphQLError serialises through its toJSON, as in graphql-ws's own frames.
      payload = JSON.stringify(result);
      this.counts.serialised++;
      this.payloads.set(result, payload);
    }
    return payload;
  }
}
