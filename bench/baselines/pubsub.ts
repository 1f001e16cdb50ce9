import { EventEmitter } from 'node:events';
import { RedisPubSub } from 'graphql-redis-subscriptions';
import { PubSub, type PubSubEngine } from 'graphql-subscriptions';
import { Redis } from 'ioredis';

/**
 * The baseline's pub/sub, the plain way each backend would be done: graphql-redis-subscriptions
 * on Redis, or graphql-subscriptions' in-process PubSub for the embedded run.
 */
export interface BasePubSub {
  engine: PubSubEngine;
  topic(streamId: string): string;
  close(): Promise<void>;
}

export function createBasePubSub(redisUrl: string | undefined, keyPrefix: string): BasePubSub {
  if (!redisUrl) {
    // Ten subscribers per topic is the fan-out under test, not a listener leak.
    const emitter = new EventEmitter();
    emitter.setMaxListeners(0);
    return {
      engine: new PubSub({ eventEmitter: emitter }),
      topic: (streamId) => `stream:${streamId}`,
      close: async () => {},
    };
  }
  const engine = new RedisPubSub({
    publisher: new Redis(redisUrl),
    subscriber: new Redis(redisUrl),
  });
  return {
    engine,
    topic: (streamId) => `${keyPrefix}bare:${streamId}`,
    close: async () => {
      await engine.close();
    },
  };
}
