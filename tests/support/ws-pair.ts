import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { onTestFinished } from 'vitest';
import { WebSocket, WebSocketServer } from 'ws';
import { withTimeout } from './assertions.js';

/** Both ends of one WebSocket on loopback, with every text the client received. */
export interface SocketPair {
  server: WebSocket;
  client: WebSocket;
  received: string[];
  close: () => Promise<void>;
}

/** A ws server on a free port and one client connected to it, closed when the test ends. */
export async function connectedPair(): Promise<SocketPair> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await once(wss, 'listening');
  const { port } = wss.address() as AddressInfo;
  const accepted = once(wss, 'connection') as Promise<[WebSocket]>;
  const client = new WebSocket(`ws://127.0.0.1:${port}`);
  const received: string[] = [];
  client.on('message', (data) => received.push(String(data)));
  await once(client, 'open');
  const [server] = await accepted;
  const pair: SocketPair = {
    server,
    client,
    received,
    close: async () => {
      client.terminate();
      for (const peer of wss.clients) peer.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    },
  };
  onTestFinished(() => pair.close());
  return pair;
}

/** Resolves once the client holds `count` texts (its recording listener runs first). */
export function receivedAll(pair: SocketPair, count: number): Promise<void> {
  return withTimeout(
    new Promise<void>((resolve) => {
      const check = () => {
        if (pair.received.length < count) return;
        pair.client.off('message', check);
        resolve();
      };
      pair.client.on('message', check);
      check();
    }),
    `${count} frames`,
  );
}
