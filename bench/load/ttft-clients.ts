import { randomUUID } from 'node:crypto';
import { wallClockMs } from '../harness/clock.js';
import { createAgent } from '../harness/graphql-http.js';
import { sendMessage } from '../harness/parley-api.js';
import { type AnswerShape, encodePrompt, expectedAnswer } from '../harness/prompt.js';
import { serve } from '../harness/rpc.js';
import {
  connectClient,
  follow,
  type SocketClient,
  StreamCheck,
  type StreamSource,
} from '../harness/stream-client.js';

/**
 * Concurrent conversations that each send a message and follow its answer, noting when the first
 * delta arrived. The runner joins that with the upstream's first-token send time by answer id.
 */
export interface Shape extends Omit<AnswerShape, 'id' | 'hold'> {
  /** Each answer of a round thinks this much longer than the one before it. */
  spreadMs: number;
}

export interface FirstDelta {
  id: string;
  /** When the subscribe message went out and when the first delta came in (wall-clock ms). */
  subscribedAtMs: number;
  firstDeltaAtMs: number;
  failure: string | undefined;
}

const sockets: SocketClient[] = [];

async function connect(params: { url: string; count: number }): Promise<number> {
  const opened = Array.from({ length: params.count }, () => connectClient(params.url));
  await Promise.all(opened.map((socket) => socket.connected));
  sockets.push(...opened);
  return sockets.length;
}

function followFirstDelta(
  socket: SocketClient,
  id: string,
  source: StreamSource,
  tokens: number,
): Promise<FirstDelta> {
  return new Promise((resolve) => {
    const check = new StreamCheck();
    const subscribedAtMs = wallClockMs();
    let firstDeltaAtMs = Number.NaN;
    follow(socket.client, source, {
      onEvent: (event, receivedAt) => {
        if (event.type === 'delta' && Number.isNaN(firstDeltaAtMs)) firstDeltaAtMs = receivedAt;
        check.see(event);
      },
      onDone: (failure) =>
        resolve({
          id,
          subscribedAtMs,
          firstDeltaAtMs,
          failure: failure ?? check.verdict(expectedAnswer(tokens)),
        }),
    });
  });
}

/** The answers of the round begun by `parleyRound` or `relayRound`, collected by `finishRound`. */
let round: Promise<FirstDelta>[] = [];

/** The `index`th answer of a round: held at the upstream until released, then spread out. */
function roundPrompt(shape: Shape, index: number, id: string): string {
  return encodePrompt({
    tokens: shape.tokens,
    intervalMs: shape.intervalMs,
    thinkMs: shape.thinkMs + index * shape.spreadMs,
    id,
    hold: true,
  });
}

/**
 * One conversation per session (and socket): send, subscribe. Resolves once every subscription
 * is sent; the answers wait at the upstream until the runner releases them.
 */
async function parleyRound(params: { httpUrl: string; sessionIds: string[]; shape: Shape }) {
  const agent = createAgent(params.sessionIds.length);
  try {
    const sent = params.sessionIds.map(async (sessionId, index) => {
      const id = randomUUID();
      const prompt = roundPrompt(params.shape, index, id);
      const messageId = await sendMessage(agent, params.httpUrl, sessionId, prompt);
      // Not awaited here: the answer only comes once the runner releases it.
      return {
        answer: followFirstDelta(
          sockets[index]!,
          id,
          { kind: 'parley', messageId },
          params.shape.tokens,
        ),
      };
    });
    round = (await Promise.all(sent)).map(({ answer }) => answer);
  } finally {
    agent.destroy();
  }
}

/** The same answers through the baseline's relay subscription (no event log, no pub/sub). */
function relayRound(params: { count: number; shape: Shape }): void {
  round = Array.from({ length: params.count }, (_unused, index) => {
    const id = randomUUID();
    return followFirstDelta(
      sockets[index]!,
      id,
      { kind: 'relay', id, prompt: roundPrompt(params.shape, index, id) },
      params.shape.tokens,
    );
  });
}

/** Waits for every answer of the round (released by the runner). */
async function finishRound(): Promise<FirstDelta[]> {
  const answers = round;
  round = [];
  return Promise.all(answers);
}

async function closeAll(): Promise<void> {
  await Promise.all(sockets.map((socket) => socket.client.dispose()));
  sockets.length = 0;
}

const methods = { connect, parleyRound, relayRound, finishRound, stop: closeAll };
export type TtftMethods = typeof methods;
serve(methods);
