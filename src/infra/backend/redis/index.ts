import { RedisPubSub } from 'graphql-redis-subscriptions';
import type { Redis } from 'ioredis';
import type { Backend, ControlBus, Unwatch } from '../types.js';
import { connectRedis, guarded } from './connection.js';
import { redisKeys } from './keys.js';
import { RedisStore } from './store.js';
import { RedisStreamLog } from './stream-log.js';

export interface RedisBackendOptions {
  url: string;
  streamLogTtlSeconds: number;
  keyPrefix: string;
}

/** Shared backend: any number of instances serve the same sessions and streams. */
export async function createRedisBackend(options: RedisBackendOptions): Promise<Backend> {
  const keys = redisKeys(options.keyPrefix);
  const commands = await connectRedis(options.url, 'parley-commands');
  const subscriber = await connectRedis(options.url, 'parley-subscriber').catch(async (error) => {
    commands.disconnect();
    throw error;
  });
  handleUnsubscribeRejections(subscriber);
  const pubsub = new RedisPubSub({ publisher: commands, subscriber });

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
    store: new RedisStore(commands, keys),
    streams: new RedisStreamLog(commands, pubsub, keys, options.streamLogTtlSeconds),
    control,
    ping: () =>
      guarded(async () => {
        await commands.ping();
      }),
    close: async () => {
      await Promise.allSettled([commands.quit(), subscriber.quit()]);
    },
  };
}

/**
 * graphql-redis-subscriptions fires UNSUBSCRIBE without awaiting it; during an outage its
 * rejection would go unhandled and end the process. The channel is dropped on reconnect anyway.
 */
function handleUnsubscribeRejections(subscriber: Redis): void {
  for (const name of ['unsubscribe', 'punsubscribe'] as const) {
    const original = subscriber[name].bind(subscriber) as (...args: unknown[]) => Promise<unknown>;
    Object.assign(subscriber, {
      [name]: (...args: unknown[]) => {
        const reply = original(...args);
        reply.catch(() => {});
        return reply;
      },
    });
  }
}
