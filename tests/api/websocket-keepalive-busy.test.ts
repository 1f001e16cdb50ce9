import { type ChildProcess, spawn } from 'node:child_process';
import { dirname, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/infra/logger.js';
import { startServer, type TestServer } from '../support/server.js';
import { until } from '../support/wait.js';

/**
 * The keep-alive tells a peer that missed its pong from a server that was too busy to read it:
 * a pong that arrived while a burst held the event loop is still unread when the sweep timer
 * fires, and judging then terminated healthy peers (every subscriber of a saturated instance at
 * once). The peer runs in a process of its own, so it answers pings while this one is held.
 */
const PING_MS = 200;
const PONG_MS = 300;
const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

/** Connects, inits, and reports each ping it answers (ws answers with a pong itself). */
const PEER = `
import WebSocket from 'ws';
const socket = new WebSocket(process.env.WS_URL, 'graphql-transport-ws');
socket.on('open', () => socket.send(JSON.stringify({ type: 'connection_init', payload: {} })));
socket.on('message', (data) => {
  if (JSON.parse(String(data)).type === 'connection_ack') console.log('acked');
});
socket.on('ping', () => console.log('ping'));
socket.on('close', (code) => { console.log('closed ' + code); process.exit(0); });
socket.on('error', () => {});
`;

/** Blocks the event loop, as a burst of deliveries or a long GC does. */
function blockFor(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end) {
    // busy: nothing else in this process runs meanwhile
  }
}

describe(`the WebSocket keep-alive under a held event loop (ping ${PING_MS} ms, pong ${PONG_MS} ms)`, () => {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n').filter(Boolean))
        lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  let server: TestServer;
  let peer: ChildProcess;
  const said: string[] = [];

  beforeAll(async () => {
    server = await startServer({
      env: { WS_PING_INTERVAL_MS: String(PING_MS), WS_PONG_TIMEOUT_MS: String(PONG_MS) },
      overrides: { log: createLogger('debug', sink) },
    });
    peer = spawn(process.execPath, ['--input-type=module', '-e', PEER], {
      cwd: ROOT,
      env: { ...process.env, WS_URL: server.wsUrl },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    createInterface({ input: peer.stdout! }).on('line', (line) => said.push(line));
    await until(() => said.includes('acked'), { what: 'the peer to be acked', timeoutMs: 10_000 });
  });
  afterAll(async () => {
    peer?.kill();
    await server?.close();
  });

  it('keeps a peer that answered while the loop was held past the pong timeout', async () => {
    await until(() => said.includes('ping'), { what: 'the first ping' });
    for (let block = 0; block < 6; block++) {
      // Right after a turn in which the sweep may have pinged: the pong arrives during the block.
      await new Promise<void>((done) =>
        setImmediate(() => {
          blockFor(PONG_MS * 3);
          done();
        }),
      );
    }
    const pings = () => said.filter((line) => line === 'ping').length;
    const closes = () => said.filter((line) => line.startsWith('closed'));
    const pingsAfter = pings();
    // Pinged again and again after the blocks (still watched, still answering), or closed.
    await until(() => pings() >= pingsAfter + 3 || closes().length > 0, {
      what: 'three more pings or a close',
    });
    expect(closes()).toEqual([]);
    const missed = lines.filter(
      (line) => line.msg === 'websocket closed' && line.reason === 'missed-pong',
    );
    expect(missed).toEqual([]);
  });
});
