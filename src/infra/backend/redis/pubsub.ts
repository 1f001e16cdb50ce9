import { RedisPubSub } from 'graphql-redis-subscriptions';
import type { Redis } from 'ioredis';

/** What RedisPubSub (graphql-redis-subscriptions 2.7.0) keeps of its subscriptions. */
interface PubSubState {
  currentSubscriptionId: number;
  subscriptionMap: Record<number, unknown>;
  subsRefsMap: Map<string, Set<number>>;
  /** A channel whose SUBSCRIBE is on its way, with the promise its later subscribers wait on. */
  subsPendingRefsMap: Map<string, { pending: Promise<unknown> }>;
}

/**
 * graphql-redis-subscriptions' RedisPubSub with the failure handling its 2.7.0 (the latest)
 * lacks (its issue #593). Each of these was an unhandled rejection, which ends a Node process,
 * whenever the subscriber connection was down or dropped:
 *
 * - A SUBSCRIBE that fails also rejects the promise RedisPubSub keeps for later subscribers of
 *   the channel, which nothing awaits, and leaves the subscription's id and listener behind.
 *   Here the caller still gets the error (the stream reader waits the outage out and tries
 *   again), and nothing of the failed subscription stays.
 * - UNSUBSCRIBE and PUNSUBSCRIBE are sent with their promises dropped. A failed UNSUBSCRIBE also
 *   leaves ioredis counting the channel as subscribed, so it subscribes it again on reconnect:
 *   such a channel is unsubscribed once the connection is ready, unless it is wanted again.
 *
 * Only channels are subscribed here, never patterns, so no PUNSUBSCRIBE is sent at all (one
 * command less at the end of every stream).
 */
export class RedisChannels extends RedisPubSub {
  /** Channels whose UNSUBSCRIBE failed: ioredis subscribes them again on reconnect. */
  private readonly unsubscribeFailed: Set<string>;
  private readonly state: PubSubState;

  constructor(publisher: Redis, subscriber: Redis) {
    const unsubscribeFailed = new Set<string>();
    const unsubscribe = subscriber.unsubscribe.bind(subscriber);
    // The subscriber connection is this object's alone: nothing else calls these.
    Object.assign(subscriber, {
      unsubscribe: (channel: string) =>
        unsubscribe(channel).catch(() => {
          unsubscribeFailed.add(channel);
        }),
      punsubscribe: () => Promise.resolve(0),
    });
    super({ publisher, subscriber });
    this.unsubscribeFailed = unsubscribeFailed;
    this.state = this as unknown as PubSubState;
    subscriber.on('ready', () => this.unsubscribeUnwanted(subscriber));
  }

  override async subscribe<T>(trigger: string, onMessage: (message: T) => void): Promise<number> {
    const id = this.state.currentSubscriptionId;
    const subscribed = super.subscribe(trigger, onMessage);
    this.state.subsPendingRefsMap.get(trigger)?.pending.catch(() => {});
    try {
      return await subscribed;
    } catch (error) {
      delete this.state.subscriptionMap[id];
      if (this.state.subsRefsMap.get(trigger)?.size === 0) this.state.subsRefsMap.delete(trigger);
      throw error;
    }
  }

  /** Runs after ioredis has resubscribed what it counted (it emits 'ready' on the next tick). */
  private unsubscribeUnwanted(subscriber: Redis): void {
    for (const channel of this.unsubscribeFailed) {
      this.unsubscribeFailed.delete(channel);
      const wanted =
        this.state.subsRefsMap.has(channel) || this.state.subsPendingRefsMap.has(channel);
      if (!wanted) void subscriber.unsubscribe(channel);
    }
  }
}
