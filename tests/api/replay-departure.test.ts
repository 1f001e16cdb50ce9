import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import type { Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { createMemoryBackend } from '../../src/infra/backend/memory.js';
import type { Backend, StreamLog } from '../../src/infra/backend/types.js';
import { DEFAULT_READER_OPTIONS } from '../../src/services/streams/stream-reader.js';
import { startServer, type TestServer } from '../support/server.js';
import { storeAnswer } from '../support/stored-answers.js';
import { until } from '../support/wait.js';

/** About a second of replay per socket on the code that never yielded. */
const REPLAYED_DELTAS = 30_000;
const SOCKETS = 10;
const HEALTH_WITHIN_MS = 100;
const PROBE_INTERVAL_MS = 5;

const STREAM = /* GraphQL */ `
  subscription($messageId: ID!) {
    messageStream(messageId: $messageId) {
      __typename
      ... on MessageDelta { seq text }
    }
  }
`;

const _hexId = () => randomUUID().replaceAll('-', '');

interface Frame {
  id?: string;
  type: string;
  payload?: unknown;
}

/** A graphql-transport-ws socket, spoken by hand, past its connection_ack. */
async function connect(server: TestServer): Promise<WebSocket> {
  const socket = new WebSocket(server.wsUrl, 'graphql-transport-ws');
  await once(socket, 'open');
  const acked = new Promise<void>((resolve, reject) => {
    socket.once('message', (data) => {
      const frame = JSON.parse(String(data)) as Frame;
      if (frame.type === 'connection_ack') resolve();
      else reject(new Error(`expected connection_ack, got ${frame.type}`));
    });
  });
  socket.send(JSON.stringify({ type: 'connection_init', payload: {} }));
  await acked;
  return socket;
}

function subscribe(socket: WebSocket, messageId: string): void {
  const payload = { query: STREAM, variables: { messageId } };
  socket.send(JSON.stringify({ id: '1', type: 'subscribe', payload }));
}

/** Subscribes, and vanishes (no close frame, its TCP socket destroyed) on the first `next`. */
function subscribeAndVanish(socket: WebSocket, messageId: string): Promise<void> {
  const vanished = new Promise<void>((resolve, reject) => {
    socket.once('message', (data) => {
      const frame = JSON.parse(String(data)) as Frame;
      socket.terminate();
      if (frame.type === 'next') resolve();
      else reject(new Error(`expected next, got ${JSON.stringify(frame)}`));
    });
  });
  subscribe(socket, messageId);
  return vanished;
}

/**
 * Subscribes, and on the first `next` sends its close frame but reads nothing more: the server
 * never sees this peer finish the closing handshake, so the socket stays CLOSING (for ws's 30 s
 * close timeout) and graphql-ws ends none of its operations meanwhile.
 */
function subscribeAndLinger(socket: WebSocket, messageId: string): Promise<void> {
  const closing = new Promise<void>((resolve, reject) => {
    socket.once('message', (data) => {
      const frame = JSON.parse(String(data)) as Frame;
      (socket as unknown as { _socket: Socket })._socket.pause();
      socket.close(1000);
      if (frame.type === 'next') resolve();
      else reject(new Error(`expected next, got ${JSON.stringify(frame)}`));
    });
  });
  subscribe(socket, messageId);
  return closing;
}

/**
 * One short replay read to its end, and one /health: the first fetch of this process and the
 * first subscription of this server have one-time costs that are no stall of a replay.
 */
async function warmUp(server: TestServer): Promise<void> {
  const socket = await connect(server);
  const completed = new Promise<void>((resolve) => {
    socket.on('message', (data) => {
      if ((JSON.parse(String(data)) as Frame).type === 'complete') resolve();
    });
  });
  subscribe(socket, await storeAnswer(server, 10));
  await completed;
  socket.terminate();
  await (await fetch(healthUrl(server))).text();
}

const healthUrl = (server: TestServer) => server.httpUrl.replace('/graphql', '/health');

/** A span of wall time, and the CPU time this process spent in it. */
class Span {
  private readonly startedAt = performance.now();
  private readonly cpuAtStart = process.cpuUsage();

  /**
   * How long this process's own work held the span: its wall time, unless the machine ran
   * something else meanwhile (this box is shared), which CPU time does not count.
   */
  end(): { wallMs: number; heldMs: number } {
    const wallMs = performance.now() - this.startedAt;
    const cpu = process.cpuUsage(this.cpuAtStart);
    return { wallMs, heldMs: Math.min(wallMs, (cpu.user + cpu.system) / 1000) };
  }
}

/**
 * The server runs in this process: a timer that should fire every PROBE_INTERVAL_MS measures
 * how long its event loop was held, and /health asked over and over measures what a client sees.
 */
function startProbes(server: TestServer) {
  const url = healthUrl(server);
  const health: { wallMs: number; heldMs: number }[] = [];
  const stalls: { wallMs: number; heldMs: number }[] = [];
  let sinceTick = new Span();
  const timer = setInterval(() => {
    stalls.push(sinceTick.end());
    sinceTick = new Span();
  }, PROBE_INTERVAL_MS);
  let probing = true;
  const healthLoop = (async () => {
    while (probing) {
      const span = new Span();
      const response = await fetch(url);
      await response.text();
      expect(response.status).toBe(200);
      health.push(span.end());
    }
  })();
  const worst = (spans: typeof health, of: 'wallMs' | 'heldMs') =>
    Math.max(...spans.map((span) => span[of]));
  return {
    /** Stops probing once one more /health has answered; returns the worst numbers seen. */
    stop: async () => {
      const answered = health.length;
      await until(() => health.length > answered, { what: 'one more /health answer' });
      probing = false;
      await healthLoop;
      clearInterval(timer);
      return {
        probes: health.length,
        healthWallMs: worst(health, 'wallMs'),
        healthHeldMs: worst(health, 'heldMs'),
        loopStallWallMs: worst(stalls, 'wallMs') - PROBE_INTERVAL_MS,
        loopStallHeldMs: worst(stalls, 'heldMs'),
      };
    },
  };
}

/** The memory backend, counting the events its log hands out to readers. */
function countingBackend(): { backend: Backend; eventsRead: () => number } {
  const memory = createMemoryBackend({ streamLogTtlSeconds: 3600 });
  let eventsRead = 0;
  const streams: StreamLog = {
    append: (messageId, events) => memory.streams.append(messageId, events),
    newestSeq: (messageId) => memory.streams.newestSeq(messageId),
    read: async (messageId, afterSeq, limit) => {
      const page = await memory.streams.read(messageId, afterSeq, limit);
      eventsRead += page.length;
      return page;
    },
    watch: (messageId, onEvent) => memory.streams.watch(messageId, onEvent),
    remove: (messageIds) => memory.streams.remove(messageIds),
  };
  return { backend: { ...memory, streams }, eventsRead: () => eventsRead };
}

describe('subscribers that leave during a replay', () => {
  let server: TestServer;
  let eventsRead: () => number;

  beforeAll(async () => {
    const counting = countingBackend();
    eventsRead = counting.eventsRead;
    server = await startServer({ overrides: { backend: counting.backend } });
  });
  afterAll(async () => {
    await server?.close();
  });

  it(`${SOCKETS} sockets leaving a ${REPLAYED_DELTAS}-event replay end their streams at once and never hold the event loop`, async () => {
    await warmUp(server);
    const messageId = await storeAnswer(server, REPLAYED_DELTAS);
    const sockets = await Promise.all(Array.from({ length: SOCKETS }, () => connect(server)));
    const probes = startProbes(server);

    await Promise.all(sockets.map((socket) => subscribeAndVanish(socket, messageId)));
    const goneAt = performance.now();
    await until(() => server.app.services.streams.openCount === 0, {
      timeoutMs: 20_000,
      intervalMs: 1,
      what: 'every stream to end',
    });
    const endedAfterMs = performance.now() - goneAt;
    const measured = { ...(await probes.stop()), endedAfterMs };

    const report = JSON.stringify(measured);
    expect(measured.healthHeldMs, report).toBeLessThan(HEALTH_WITHIN_MS);
    expect(measured.loopStallHeldMs, report).toBeLessThan(HEALTH_WITHIN_MS);
    expect(measured.endedAfterMs, report).toBeLessThan(1_000);
  });

  it('a subscriber that sends its close frame and lingers, mid-replay, ends its stream at once', async () => {
    const messageId = await storeAnswer(server, REPLAYED_DELTAS);
    const socket = await connect(server);
    const readBefore = eventsRead();
    try {
      await subscribeAndLinger(socket, messageId);
      const readBeforeClose = eventsRead();
      // It left mid-replay: most of the log was still unread.
      expect(readBeforeClose - readBefore).toBeLessThan(REPLAYED_DELTAS);
      await until(() => server.app.services.streams.openCount === 0, {
        timeoutMs: 20_000,
        intervalMs: 1,
        what: 'the stream to end',
      });

      // Sends to a CLOSING socket succeed at once: only the server's own check stops the replay,
      // which otherwise reads the whole log to nobody. At most the next page may have been read.
      expect(eventsRead() - readBeforeClose).toBeLessThanOrEqual(DEFAULT_READER_OPTIONS.pageSize);
    } finally {
      socket.terminate();
    }
  });
});
