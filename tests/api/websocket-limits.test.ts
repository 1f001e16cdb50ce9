import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import type { Socket } from 'node:net';
import { Writable } from 'node:stream';
import { setTimeout as delay } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { createLogger, type Logger } from '../../src/infra/logger.js';
import { withTimeout } from '../support/assertions.js';
import { collectWs, STREAM_SUBSCRIPTION, startConversation, wsClient } from '../support/client.js';
import { FakeOpenAI } from '../support/fake-openai.js';
import { startServer, type TestServer } from '../support/server.js';
import { storeAnswer } from '../support/stored-answers.js';
import { until } from '../support/wait.js';

/** What the server process may grow by across one group of tests. */
const RSS_GROWTH_LIMIT = 150 * 1024 * 1024;

interface Frame {
  id?: string;
  type: string;
  payload?: unknown;
}

interface Closed {
  code: number;
  reason: string;
  /** Milliseconds from the socket's open to its close. */
  afterMs: number;
}

/** A graphql-transport-ws socket spoken by hand: every frame it got, and how it closed. */
class Peer {
  readonly frames: Frame[] = [];
  pings = 0;
  readonly closed: Promise<Closed>;
  private openedAt = Date.now();

  private constructor(readonly socket: WebSocket) {
    socket.on('error', () => {}); // a refused or terminated socket may reset: its close is what counts
    socket.on('message', (data) => this.frames.push(JSON.parse(String(data)) as Frame));
    socket.on('ping', () => this.pings++);
    this.closed = new Promise((resolve) =>
      socket.once('close', (code, reason) =>
        resolve({ code, reason: String(reason), afterMs: Date.now() - this.openedAt }),
      ),
    );
  }

  static async open(
    server: TestServer,
    options: { headers?: Record<string, string>; autoPong?: boolean } = {},
  ): Promise<Peer> {
    const socket = new WebSocket(server.wsUrl, 'graphql-transport-ws', options);
    const peer = new Peer(socket);
    await withTimeout(once(socket, 'open'), 'the socket to open');
    peer.openedAt = Date.now();
    return peer;
  }

  /** Sends connection_init; resolves true on connection_ack, false when the socket closes. */
  async init(payload: Record<string, unknown> = {}): Promise<boolean> {
    this.send({ type: 'connection_init', payload });
    const acked = until(() => this.has('connection_ack'), { what: 'connection_ack' });
    return withTimeout(
      Promise.race([acked.then(() => true), this.closed.then(() => false)]),
      'connection_ack or close',
    );
  }

  subscribe(id: string, messageId: string): void {
    const payload = { query: STREAM_SUBSCRIPTION, variables: { messageId } };
    this.send({ id, type: 'subscribe', payload });
  }

  send(frame: Frame): void {
    this.socket.send(JSON.stringify(frame));
  }

  has(type: string, id?: string): boolean {
    return this.frames.some(
      (frame) => frame.type === type && (id === undefined || frame.id === id),
    );
  }

  count(type: string): number {
    return this.frames.filter((frame) => frame.type === type).length;
  }

  closedWithin(ms: number): Promise<Closed> {
    return withTimeout(this.closed, 'the socket to close', ms);
  }

  get isOpen(): boolean {
    return this.socket.readyState === WebSocket.OPEN;
  }

  /** Stops reading its TCP socket: the server's writes pile up in the kernel, then in its queue. */
  stopReading(): void {
    (this.socket as unknown as { _socket: Socket })._socket.pause();
  }

  resumeReading(): void {
    (this.socket as unknown as { _socket: Socket })._socket.resume();
  }
}

/** The log lines a server writes (debug and up), to tell why it ended a socket. */
function captureLog(): { log: Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n').filter(Boolean))
        lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  return { log: createLogger('debug', sink), lines };
}

const guardClosed = (lines: Record<string, unknown>[], reason: string) =>
  lines.filter((line) => line.msg === 'websocket closed' && line.reason === reason).length;

const _hexId = () => randomUUID().replaceAll('-', '');

/** After everything a group did, a plain graphql-ws client still gets a whole answer. */
async function expectStillServing(
  server: TestServer,
  rssAtStart: number,
  connectionParams?: Record<string, unknown>,
  apiKey?: string,
): Promise<void> {
  const { assistantMessageId } = await startConversation(server, 'Still there?', { apiKey });
  const client = wsClient(server, connectionParams);
  try {
    const stream = await collectWs(client, assistantMessageId, undefined, { timeoutMs: 10_000 });
    expect(stream.errors).toEqual([]);
    expect(stream.end?.message?.status).toBe('COMPLETED');
  } finally {
    await client.dispose();
  }
  expect(process.memoryUsage().rss - rssAtStart).toBeLessThan(RSS_GROWTH_LIMIT);
}

/** Connects until one is acknowledged: a freed place is counted free once the server saw the close. */
async function eventuallyAcked(
  server: TestServer,
  payload: Record<string, unknown>,
): Promise<Peer> {
  for (let attempt = 0; attempt < 40; attempt++) {
    const peer = await Peer.open(server);
    if (await peer.init(payload)) return peer;
    await delay(50);
  }
  throw new Error('no socket was admitted');
}

describe('WebSocket connection caps', () => {
  describe('per key (WS_MAX_CONNECTIONS_PER_PRINCIPAL=5)', () => {
    const captured = captureLog();
    let server: TestServer;
    let rssAtStart: number;
    const alice = { authorization: 'Bearer key-alice' };
    const bob = { apiKey: 'key-bob' };

    beforeAll(async () => {
      server = await startServer({
        env: { API_KEYS: 'alice:key-alice,bob:key-bob', WS_MAX_CONNECTIONS_PER_PRINCIPAL: '5' },
        overrides: { log: captured.log },
      });
      rssAtStart = process.memoryUsage().rss;
    });
    afterAll(async () => {
      await server?.close();
    });

    it('the 6th socket of one key is closed 4429 at connection_init; another key is admitted', async () => {
      const admitted = await Promise.all(Array.from({ length: 5 }, () => Peer.open(server)));
      expect(await Promise.all(admitted.map((peer) => peer.init(alice)))).toEqual(
        Array(5).fill(true),
      );

      const sixth = await Peer.open(server);
      expect(await sixth.init(alice)).toBe(false);
      const refused = await sixth.closedWithin(2_000);
      expect(refused).toMatchObject({ code: 4429, reason: 'Too many connections' });
      expect(captured.lines.filter((line) => line.msg === 'websocket refused')).toEqual([
        expect.objectContaining({ reason: 'principal-limit', principal: 'alice' }),
      ]);

      const other = await Peer.open(server);
      expect(await other.init(bob)).toBe(true);
      expect(admitted.every((peer) => peer.isOpen)).toBe(true);

      // A closed socket frees its place.
      admitted[0]!.socket.close(1000);
      await admitted[0]!.closed;
      const replacement = await eventuallyAcked(server, alice);

      for (const peer of [...admitted, other, replacement]) peer.socket.close(1000);
      await Promise.all([...admitted, other, replacement].map((peer) => peer.closed));
    });

    it('a normal client still streams an answer afterwards', async () => {
      await expectStillServing(server, rssAtStart, alice, 'key-alice');
    });
  });

  describe('per client IP for anonymous callers (behind a trusted proxy)', () => {
    let server: TestServer;
    let rssAtStart: number;
    const from = (ip: string) => ({ headers: { 'x-forwarded-for': ip } });

    beforeAll(async () => {
      server = await startServer({
        env: { WS_MAX_CONNECTIONS_PER_PRINCIPAL: '5', TRUSTED_PROXIES: '127.0.0.1/32' },
      });
      rssAtStart = process.memoryUsage().rss;
    });
    afterAll(async () => {
      await server?.close();
    });

    it('the 6th socket from one address is closed 4429 at the upgrade, before any message', async () => {
      const first = await Promise.all(
        Array.from({ length: 5 }, () => Peer.open(server, from('203.0.113.1'))),
      );
      const sixth = await Peer.open(server, from('203.0.113.1'));
      expect(await sixth.closedWithin(2_000)).toMatchObject({ code: 4429 });
      expect(sixth.frames).toEqual([]);

      const elsewhere = await Promise.all(
        Array.from({ length: 5 }, () => Peer.open(server, from('203.0.113.2'))),
      );
      expect(await Promise.all([...first, ...elsewhere].map((peer) => peer.init()))).toEqual(
        Array(10).fill(true),
      );

      for (const peer of [...first, ...elsewhere]) peer.socket.close(1000);
      await Promise.all([...first, ...elsewhere].map((peer) => peer.closed));
    });

    it('a normal client still streams an answer afterwards', async () => {
      await expectStillServing(server, rssAtStart);
    });
  });

  describe('in total (WS_MAX_CONNECTIONS=3)', () => {
    let server: TestServer;
    let rssAtStart: number;

    beforeAll(async () => {
      server = await startServer({ env: { WS_MAX_CONNECTIONS: '3' } });
      rssAtStart = process.memoryUsage().rss;
    });
    afterAll(async () => {
      await server?.close();
    });

    it('past the total, a socket is closed 1013 (try again later) at the upgrade', async () => {
      const admitted = await Promise.all(Array.from({ length: 3 }, () => Peer.open(server)));
      const fourth = await Peer.open(server);
      expect(await fourth.closedWithin(2_000)).toMatchObject({
        code: 1013,
        reason: 'Server is at its connection limit',
      });
      expect(await Promise.all(admitted.map((peer) => peer.init()))).toEqual([true, true, true]);

      for (const peer of admitted) peer.socket.close(1000);
      await Promise.all(admitted.map((peer) => peer.closed));
    });

    it('a normal client still streams an answer afterwards', async () => {
      await expectStillServing(server, rssAtStart);
    });
  });
});

describe('WebSocket timers (init 300 ms, ping 200 ms, pong 200 ms, idle 1 s)', () => {
  const upstream = new FakeOpenAI();
  const captured = captureLog();
  let server: TestServer;
  let rssAtStart: number;

  beforeAll(async () => {
    await upstream.start();
    // Every answer sends one token and then waits for release(): its streams stay open.
    upstream.setDefault({ chunks: ['held ', 'answer'], holdAfter: 1 });
    server = await startServer({
      env: {
        OPENAI_BASE_URL: upstream.baseURL,
        OPENAI_API_KEY: 'sk-test-upstream',
        LLM_MODEL: 'fake-model',
        WS_INIT_TIMEOUT_MS: '300',
        WS_PING_INTERVAL_MS: '200',
        WS_PONG_TIMEOUT_MS: '200',
        WS_IDLE_TIMEOUT_SECONDS: '1',
      },
      overrides: { log: captured.log },
    });
    rssAtStart = process.memoryUsage().rss;
  });
  afterAll(async () => {
    upstream.release();
    await server?.close();
    await upstream.close();
  });

  it('a socket that sends no connection_init is closed 4408 after the init timeout', async () => {
    const peer = await Peer.open(server);
    const closed = await peer.closedWithin(3_000);
    expect(closed.code).toBe(4408);
    expect(closed.afterMs).toBeGreaterThanOrEqual(250);
  });

  it('a peer that misses its pong is terminated; one that answers stays', async () => {
    const { assistantMessageId } = await startConversation(server, 'Hold on.');
    await upstream.request(0);
    const silent = await Peer.open(server, { autoPong: false });
    const answering = await Peer.open(server);
    expect(await silent.init()).toBe(true);
    expect(await answering.init()).toBe(true);
    // A running operation keeps the answering one from its idle timeout meanwhile.
    answering.subscribe('1', assistantMessageId);

    const closed = await silent.closedWithin(3_000);
    expect(closed.code).toBe(1006); // terminated: no close frame
    expect(closed.afterMs).toBeGreaterThanOrEqual(350);
    expect(silent.pings).toBeGreaterThanOrEqual(1);
    expect(guardClosed(captured.lines, 'missed-pong')).toBeGreaterThanOrEqual(1);

    await delay(1_500);
    expect(answering.isOpen).toBe(true);
    expect(answering.pings).toBeGreaterThanOrEqual(3);
    upstream.release();
    await until(() => answering.has('complete', '1'), { what: 'the stream to complete' });
    answering.socket.close(1000);
    await answering.closed;
  });

  it('a socket with no operation is closed 1000 after the idle timeout; a running one keeps it open', async () => {
    const idle = await Peer.open(server);
    expect(await idle.init()).toBe(true);
    const idleClosed = await idle.closedWithin(4_000);
    expect(idleClosed).toMatchObject({ code: 1000, reason: 'Idle timeout' });
    expect(idleClosed.afterMs).toBeGreaterThanOrEqual(900);

    const { assistantMessageId } = await startConversation(server, 'Take your time.');
    const busy = await Peer.open(server);
    expect(await busy.init()).toBe(true);
    busy.subscribe('1', assistantMessageId);
    await until(() => busy.has('next', '1'), { what: 'the first event' });
    await delay(2_000);
    expect(busy.isOpen).toBe(true);

    upstream.release();
    await until(() => busy.has('complete', '1'), { what: 'the stream to complete' });
    const completedAt = Date.now();
    const busyClosed = await busy.closedWithin(4_000);
    expect(busyClosed.code).toBe(1000);
    expect(Date.now() - completedAt).toBeGreaterThanOrEqual(900);
  });

  it('a subscriber that stops reading is dropped by the keep-alive, whatever its queue', async () => {
    const messageId = await storeAnswer(server, 30_000, 'token ');
    const stalled = await Peer.open(server);
    expect(await stalled.init()).toBe(true);
    stalled.subscribe('1', messageId);
    await until(() => stalled.has('next', '1'), { what: 'the first event' });
    stalled.stopReading();
    const before = guardClosed(captured.lines, 'missed-pong');
    await until(() => guardClosed(captured.lines, 'missed-pong') > before, {
      timeoutMs: 3_000,
      what: 'the stalled socket to be dropped',
    });
    await until(() => server.app.services.streams.openCount === 0, { what: 'its stream to end' });
    stalled.resumeReading();
    expect((await stalled.closedWithin(5_000)).code).toBe(1006);
  });

  it('a normal client still streams an answer afterwards', async () => {
    upstream.setDefault({ chunks: ['all ', 'well'] });
    await expectStillServing(server, rssAtStart);
  });
});

describe('WebSocket message rate (20/s) and frame size (64 KiB)', () => {
  let server: TestServer;
  let rssAtStart: number;

  beforeAll(async () => {
    server = await startServer({
      env: { WS_MAX_MESSAGES_PER_SECOND: '20', WS_MAX_PAYLOAD_BYTES: String(64 * 1024) },
    });
    rssAtStart = process.memoryUsage().rss;
  });
  afterAll(async () => {
    await server?.close();
  });

  it('a burst of 2,000 graphql-ws pings is closed 4429 and mostly never answered', async () => {
    const peer = await Peer.open(server);
    expect(await peer.init()).toBe(true);
    for (let index = 0; index < 2_000; index++) peer.send({ type: 'ping' });
    expect(await peer.closedWithin(3_000)).toMatchObject({
      code: 4429,
      reason: 'Too many messages',
    });
    expect(peer.count('pong')).toBeLessThanOrEqual(20);
  });

  it('a burst of protocol-level pings is closed 4429 too', async () => {
    const peer = await Peer.open(server);
    expect(await peer.init()).toBe(true);
    for (let index = 0; index < 100; index++) peer.socket.ping();
    expect((await peer.closedWithin(3_000)).code).toBe(4429);
  });

  it('a client within the rate is served every message', async () => {
    const peer = await Peer.open(server);
    expect(await peer.init()).toBe(true);
    for (let index = 0; index < 25; index++) {
      peer.send({ type: 'ping' });
      await delay(100);
    }
    await until(() => peer.count('pong') === 25, { what: 'every pong' });
    expect(peer.isOpen).toBe(true);
    peer.socket.close(1000);
    await peer.closed;
  });

  it('a frame over the maximum payload is closed 1009 unread; one under it is answered', async () => {
    const small = await Peer.open(server);
    expect(await small.init()).toBe(true);
    small.send({ type: 'ping', payload: { pad: 'x'.repeat(60 * 1024) } });
    await until(() => small.has('pong'), { what: 'the pong' });
    small.socket.close(1000);
    await small.closed;

    const large = await Peer.open(server);
    expect(await large.init()).toBe(true);
    large.send({ type: 'ping', payload: { pad: 'x'.repeat(8 * 1024 * 1024) } });
    expect((await large.closedWithin(5_000)).code).toBe(1009);
    expect(large.has('pong')).toBe(false);
  });

  it('a normal client still streams an answer afterwards', async () => {
    await expectStillServing(server, rssAtStart);
  });
});

describe('a slow consumer (WS_MAX_BUFFERED_BYTES=64 KiB)', () => {
  const captured = captureLog();
  let server: TestServer;
  let rssAtStart: number;

  beforeAll(async () => {
    server = await startServer({
      env: { WS_MAX_BUFFERED_BYTES: String(64 * 1024) },
      overrides: { log: captured.log },
    });
    rssAtStart = process.memoryUsage().rss;
  });
  afterAll(async () => {
    await server?.close();
  });

  it('is dropped past the cap with bounded memory, while another subscriber of the stream completes', async () => {
    // 256 deltas of 16 KiB: 4 MiB per subscription, ten of them on the slow socket.
    const messageId = await storeAnswer(server, 256, 'x'.repeat(16 * 1024));
    const slow = await Peer.open(server);
    expect(await slow.init()).toBe(true);
    for (let index = 1; index <= 10; index++) slow.subscribe(String(index), messageId);
    slow.stopReading();

    let peakRss = process.memoryUsage().rss;
    const sampler = setInterval(() => {
      peakRss = Math.max(peakRss, process.memoryUsage().rss);
    }, 20);
    try {
      const normal = wsClient(server);
      const startedAt = Date.now();
      const stream = await collectWs(normal, messageId, undefined, { timeoutMs: 10_000 });
      await normal.dispose();
      expect(stream.deltas).toHaveLength(256);
      expect(stream.end?.message?.status).toBe('COMPLETED');
      expect(Date.now() - startedAt).toBeLessThan(5_000);

      await until(() => guardClosed(captured.lines, 'slow-consumer') === 1, {
        what: 'the slow consumer to be dropped',
      });
      await until(() => server.app.services.streams.openCount === 0, {
        what: 'its streams to end',
      });
      const health = await fetch(server.httpUrl.replace('/graphql', '/health'));
      expect(health.status).toBe(200);
    } finally {
      clearInterval(sampler);
    }
    expect(peakRss - rssAtStart).toBeLessThan(RSS_GROWTH_LIMIT);

    slow.resumeReading();
    expect((await slow.closedWithin(5_000)).code).toBe(1006);
    // Far from all of its 40 MiB ever left the server.
    expect(slow.count('next')).toBeLessThan(10 * 256);
  });

  it('a normal client still streams an answer afterwards', async () => {
    await expectStillServing(server, rssAtStart);
  });
});
