import type { Breaker } from '../../breakers.js';
import type { RedisMetrics } from '../../metrics.js';
import type { Backend, ControlBus, Unwatch } from '../types.js';
import { RedisResultCache } from './cache.js';
import {
  connectRedis,
  createGuard,
  type Guard,
  startHeartbeat,
  TurnBatchedWrites,
} from './connection.js';
import { RedisContactStore } from './contacts.js';
import { RedisDocumentStore } from './documents.js';
import { redisKeys } from './keys.js';
import { RedisLedger } from './ledger.js';
import { RedisChannels } from './pubsub.js';
import { RedisStore } from './store.js';
import { RedisStreamLog } from './stream-log.js';

export interface RedisBackendOptions {
  url: string;
  streamLogTtlSeconds: number;
  keyPrefix: string;
  /** Guards every command; while open, calls fail fast with UPSTREAM_UNAVAILABLE. */
  breaker?: Breaker;
  /** Times every command of both connections. */
  metrics?: RedisMetrics;
}

/** Shared backend: any number of instances serve the same sessions and streams. */
export async function createRedisBackend(options: RedisBackendOptions): Promise<Backend> {
  const keys = redisKeys(options.keyPrefix);
  const connect = (name: string, resubscribe = true) =>
    connectRedis(options.url, name, options.metrics, { autoResubscribe: resubscribe });
  const commands = await connect('parley-commands');
  // RedisChannels subscribes its channels again itself (see pubsub.ts).
  const subscriber = await connect('parley-subscriber', false).catch(async (error) => {
    commands.disconnect();
    throw error;
  });
  const stopHeartbeats = [startHeartbeat(commands), startHeartbeat(subscriber)];
  // A connection that is ready again is proof that Redis is back: stop refusing at once rather
  // than after the breaker's reset timeout, so answers held during the outage get stored.
  commands.on('ready', () => options.breaker?.closeIfOpen());
  const guard = createGuard(options.breaker);
  // Every guarded command joins its turn's write (see TurnBatchedWrites): one syscall for the
  // scripts of all requests and answers handled in one turn, not one each.
  const batched = new TurnBatchedWrites(commands);
  const guarded: Guard = (call) =>
    guard(() => {
      batched.hold();
      return call();
    });
  const unguarded = createGuard(undefined);
  const pubsub = new RedisChannels(commands, subscriber);

  const control: ControlBus = {
    publishCancel: (messageId) =>
      guarded(async () => {
        await commands.publish(keys.cancelChannel, JSON.stringify(messageId));
      }),
    onCancel: (handler) =>
      guarded(async (): Promise<Unwatch> => {
        const subscriptionId = await pubsub.subscribe<string>(keys.cancelChannel, handler);
        return async () => pubsub.unsubscribe(subscriptionId);
      }),
  };

  return {
    kind: 'redis',
    store: new RedisStore(commands, keys, guarded),
    streams: new RedisStreamLog(commands, pubsub, keys, options.streamLogTtlSeconds, guarded),
    control,
    ledger: new RedisLedger(commands, keys, guarded),
    documents: new RedisDocumentStore(commands, pubsub, keys, guarded),
    cache: new RedisResultCache(commands, keys, guarded),
    contacts: new RedisContactStore(commands, keys, guarded),
    // Not through the breaker: readiness must see Redis itself, and must not count against it.
    ping: async () => {
      await unguarded(() => commands.ping());
    },
    close: async () => {
      for (const stop of stopHeartbeats) stop();
      await Promise.allSettled([commands.quit(), subscriber.quit()]);
    },
  };
}
