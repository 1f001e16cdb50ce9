import { RedisPubSub } from 'graphql-redis-subscriptions';
import type { Redis } from 'ioredis';

/** What RedisPubSub (graphql-redis-subscriptions 2.7.0) keeps of its subscriptions. */
interface PubSubState {
  currentSubscriptionId: number;
  subscriptionMap: Record<number, unknown>;
  /** Channels subscribed on Redis, with the ids of their local subscriptions. */
  subsRefsMap: Map<string, Set<number>>;
  /** A channel whose SUBSCRIBE is on its way, with the promise its later subscribers wait on. */
  subsPendingRefsMap: Map<string, { pending: Promise<unknown> }>;
}

/**
 * graphql-redis-subscriptions' RedisPubSub with the failure handling its 2.7.0 (the latest)
 * lacks (its issue #593), on a subscriber connection of its own that ioredis does not
 * resubscribe (`autoResubscribe: false`). Unhandled, each of these was an unhandled rejection,
 * which ends a Node process, or a channel lost for good:
 *
 * - A SUBSCRIBE that fails (its connection is down, or drops while it is on the wire) also
 *   rejects the promise RedisPubSub keeps for later subscribers of the channel, which nothing
 *   awaits, and leaves the subscription's id and listener behind. Here the caller still gets the
 *   error (the stream reader waits the outage out and tries again), and nothing else is left.
 * - UNSUBSCRIBE and PUNSUBSCRIBE are sent with their promises dropped.
 * - ioredis resubscribes after a reconnect with a promise of its own that nothing handles, and
 *   when that SUBSCRIBE is cut off too, the next connection resubscribes nothing: every channel
 *   would stay silent until the process restarts. Here every connection that becomes ready
 *   subscribes the channels that have local subscribers, so a failed try is made good by the
 *   next connection; and a channel whose UNSUBSCRIBE failed with its connection is not
 *   subscribed again.
 *
 * Only channels are subscribed here, never patterns, so no PUNSUBSCRIBE is sent at all (one
 * command less at the end of every stream).
 */
export class RedisChannels extends RedisPubSub {
  private readonly state: PubSubState;

  constructor(publisher: Redis, subscriber: Redis) {
    const unsubscribe = subscriber.unsubscribe.bind(subscriber);
    // The subscriber connection is this object's alone: nothing else calls these. A failed
    // UNSUBSCRIBE needs nothing more: its connection took its subscriptions with it.
    Object.assign(subscriber, {
      unsubscribe: (channel: string) => unsubscribe(channel).catch(() => 0),
      punsubscribe: () => Promise.resolve(0),
    });
    super({ publisher, subscriber });
    this.state = this as unknown as PubSubState;
    subscriber.on('ready', () => this.resubscribe(subscriber));
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

  /**
   * Channels whose SUBSCRIBE was on its way when the connection dropped are not among them:
   * their callers got the error and subscribe again.
   */
  private resubscribe(subscriber: Redis): void {
    const channels: string[] = [];
    for (const [channel, subscriptions] of this.state.subsRefsMap) {
      if (subscriptions.size > 0) channels.push(channel);
    }
    if (channels.length > 0) subscriber.subscribe(...channels).catch(() => {});
  }
}
