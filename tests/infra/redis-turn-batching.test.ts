import { randomUUID } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { createRedisBackend } from '../../src/infra/backend/redis/index.js';
import type { Backend } from '../../src/infra/backend/types.js';
import type { StreamEvent } from '../../src/model.js';
import { deleteKeys, SHARED_REDIS_URL } from '../support/redis.js';
import { countSocketWrites } from '../support/socket-writes.js';
import { TcpProxy } from '../support/tcp-proxy.js';

/**
 * The commands sent in one turn of the event loop leave in one write: one syscall for the
 * appends of every answer whose tokens arrived in that turn and the reads of every request
 * handled in it, not one per command.
 */
const ANSWERS = 10;
const messageId = () => `msg_${randomUUID().replaceAll('-', '')}`;
const delta = (id: string, seq: number): StreamEvent => ({
  type: 'delta',
  messageId: id,
  seq,
  text: `token ${seq}`,
  at: Date.now(),
});

describe('the Redis event log', () => {
  let proxy: TcpProxy;
  let backend: Backend;
  const prefix = `batching-${randomUUID()}:`;
  afterAll(async () => {
    await backend?.close();
    await proxy?.close();
    await deleteKeys(SHARED_REDIS_URL, prefix);
  });

  it('sends the commands of one turn in one write, and each is stored and answered', async () => {
    proxy = await new TcpProxy({ port: Number(new URL(SHARED_REDIS_URL).port || 6379) }).start();
    backend = await createRedisBackend({
      url: proxy.url,
      streamLogTtlSeconds: 60,
      keyPrefix: prefix,
    });
    for (let round = 1; round <= 3; round++) {
      const ids = Array.from({ length: ANSWERS }, messageId);
      let read: unknown[] = [];
      const writes = await countSocketWrites(
        (socket) => socket.remotePort === proxy.port,
        () =>
          Promise.all([
            ...ids.map((id) => backend.streams.append(id, [delta(id, 1)])),
            backend.store.getMessages(ids).then((messages) => {
              read = messages;
            }),
          ]),
      );
      // One write for the eleven (each would be its own without batching); a heartbeat PING
      // that falls in this window may add its own.
      expect(writes).toBeLessThanOrEqual(2);
      expect(read).toEqual(ids.map(() => null));
      const logs = await Promise.all(ids.map((id) => backend.streams.read(id, 0, 10)));
      expect(logs.map((log) => log.map((event) => event.seq))).toEqual(ids.map(() => [1]));
      // The next turn's append is not held behind anything: it is answered on its own.
      await backend.streams.append(ids[0]!, [delta(ids[0]!, 2)]);
      expect(await backend.streams.newestSeq(ids[0]!)).toBe(2);
    }
  });
});
