import type { Socket } from 'node:net';
import type { ExecutionResult } from 'graphql';
import { describe, expect, it } from 'vitest';
import type { WebSocket } from 'ws';
import { FrameWriter } from '../../src/server/ws-frames.js';
import { countSocketWrites } from '../support/socket-writes.js';
import { connectedPair, receivedAll } from '../support/ws-pair.js';

/**
 * A socket's frames of one turn of the event loop leave in few writes: the first at once, the
 * rest held to the end of the turn. A stream that sends one frame a turn (a paced answer) is
 * written frame by frame, never held.
 */
/** Counts the writes handed to the kernel on `socket` (ws's own TCP socket) while `run` runs. */
function writesOn(socket: WebSocket, run: () => Promise<unknown>): Promise<number> {
  const raw = (socket as unknown as { _socket: Socket })._socket;
  return countSocketWrites((written) => written === raw, run);
}

const resultOf = (seq: number): ExecutionResult => ({ data: { seq } });
const frameText = (id: string, seq: number) =>
  `{"id":"${id}","type":"next","payload":{"data":{"seq":${seq}}}}`;

describe('frames written to a graphql-ws socket', () => {
  it('leaves a burst of one turn in at most two writes, every frame whole and in order', async () => {
    const pair = await connectedPair();
    const writer = new FrameWriter({ maxBufferedBytes: 4 * 1024 * 1024 });
    const FRAMES = 20;
    // Every result is ready at once: the stream sends them all within one turn.
    async function* burst() {
      for (let seq = 1; seq <= FRAMES; seq++) yield resultOf(seq);
    }
    const writes = await writesOn(pair.server, async () => {
      await writer.frames(burst(), 'op-1', pair.server, () => true).next();
      await new Promise((resolve) => setImmediate(resolve));
    });
    await receivedAll(pair, FRAMES);
    expect(pair.received).toEqual(
      Array.from({ length: FRAMES }, (_unused, index) => frameText('op-1', index + 1)),
    );
    // Without the hold, each frame is a write of its own (20). Two on a quiet machine; each
    // time the machine holds the process past MAX_HOLD_MS mid-burst adds one.
    expect(writes).toBeGreaterThan(0);
    expect(writes).toBeLessThanOrEqual(5);
    expect(writer.counts.written).toBe(FRAMES);
  });

  it('holds no frame longer than a few milliseconds of a long turn', async () => {
    const pair = await connectedPair();
    const writer = new FrameWriter({ maxBufferedBytes: 4 * 1024 * 1024 });
    async function* slowTurn() {
      yield resultOf(1);
      yield resultOf(2);
      // The same turn goes on (a loaded process): frame 2 must not wait for its end.
      const until = performance.now() + 10;
      while (performance.now() < until) {}
      yield resultOf(3);
      yield resultOf(4);
    }
    const writes = await writesOn(pair.server, async () => {
      await writer.frames(slowTurn(), 'op-3', pair.server, () => true).next();
      await new Promise((resolve) => setImmediate(resolve));
    });
    await receivedAll(pair, 4);
    expect(pair.received).toEqual([1, 2, 3, 4].map((seq) => frameText('op-3', seq)));
    // Frame 1 at once, frame 2 when frame 3 found it held too long, frames 3 and 4 at the end
    // (held to the end of the turn, frame 2 would have left with them: 2 writes). A machine that
    // holds the process between frames 3 and 4 makes it 4.
    expect(writes).toBeGreaterThanOrEqual(3);
    expect(writes).toBeLessThanOrEqual(4);
  });

  it('holds no more than a quarter of the slow-consumer cap unsent', async () => {
    const pair = await connectedPair();
    const writer = new FrameWriter({ maxBufferedBytes: 16 * 1024 });
    expect(writer.holdAheadBytes).toBe(4 * 1024);
    const FRAMES = 20;
    const text = 'x'.repeat(2 * 1024);
    async function* burst() {
      for (let seq = 1; seq <= FRAMES; seq++) yield { data: { seq, text } };
    }
    // The guard's check before every frame sees what the held frames left unsent.
    const unsent: number[] = [];
    const roomToSend = () => {
      unsent.push(pair.server.bufferedAmount);
      return true;
    };
    await writer.frames(burst(), 'op-4', pair.server, roomToSend).next();
    await receivedAll(pair, FRAMES);
    expect(pair.received.map((frame) => JSON.parse(frame).payload.data.seq)).toEqual(
      Array.from({ length: FRAMES }, (_unused, index) => index + 1),
    );
    expect(unsent).toHaveLength(FRAMES);
    expect(Math.max(...unsent)).toBeGreaterThan(0);
    expect(Math.max(...unsent)).toBeLessThanOrEqual(4 * 1024);
  });

  it('writes a frame that is alone in its turn at once, not at the end of the turn', async () => {
    const pair = await connectedPair();
    const writer = new FrameWriter({ maxBufferedBytes: 4 * 1024 * 1024 });
    const FRAMES = 5;
    /** Per frame: whether the turn it was sent in had already ended when its write completed. */
    const turnEndedFirst: boolean[] = [];
    async function* paced() {
      for (let seq = 1; seq <= FRAMES; seq++) {
        await new Promise((resolve) => setTimeout(resolve, 2));
        let turnEnded = false;
        setImmediate(() => {
          turnEnded = true;
        });
        yield resultOf(seq);
        // Resumed once the frame's write completed (the stream waits for it).
        turnEndedFirst.push(turnEnded);
      }
    }
    const writes = await writesOn(pair.server, () =>
      writer.frames(paced(), 'op-2', pair.server, () => true).next(),
    );
    await receivedAll(pair, FRAMES);
    expect(pair.received).toEqual(
      Array.from({ length: FRAMES }, (_unused, index) => frameText('op-2', index + 1)),
    );
    expect(writes).toBe(FRAMES);
    expect(turnEndedFirst).toEqual(Array.from({ length: FRAMES }, () => false));
  });

  it('holds nothing of one socket for another: each socket sends its first frame at once', async () => {
    const first = await connectedPair();
    const second = await connectedPair();
    const writer = new FrameWriter({ maxBufferedBytes: 4 * 1024 * 1024 });
    async function* one(seq: number) {
      yield resultOf(seq);
    }
    const writes = await writesOn(second.server, async () => {
      await Promise.all([
        writer.frames(one(1), 'a', first.server, () => true).next(),
        writer.frames(one(2), 'b', second.server, () => true).next(),
      ]);
    });
    await receivedAll(first, 1);
    await receivedAll(second, 1);
    expect(first.received).toEqual([frameText('a', 1)]);
    expect(second.received).toEqual([frameText('b', 2)]);
    expect(writes).toBe(1);
  });
});
