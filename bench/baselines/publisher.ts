import type { BasePubSub } from './pubsub.js';
import type { UpstreamClient } from './upstream-client.js';

/** One event of the baseline stream: the fields a MessageDelta carries, plus an end marker. */
export interface BareEvent {
  messageId: string;
  seq: number;
  cursor: string;
  text: string;
  /** When it was published (ISO, millisecond precision, like MessageDelta.at). */
  at: string;
  end: boolean;
}

export interface PublishPlan {
  streamIds: string[];
  /** The prompt of each stream (harness/prompt.ts), which tells the fake upstream its answer. */
  prompts: string[];
}

/**
 * Plays the part the generations play in Parley, fed as they are: one openai SDK stream per
 * stream from the same fake upstream (with the same prompts, so the same tokens at the same
 * pace), each chunk published as it arrives, then an end marker. The upstream's work, the SDK's
 * parsing and the time stamp taken on arrival are then the same on both sides, and what the
 * figures compare is what lies between: Parley's event log, reader and executor against
 * graphql-redis-subscriptions straight into graphql-ws.
 */
export async function publishStreams(
  pubsub: BasePubSub,
  upstream: UpstreamClient,
  plan: PublishPlan,
): Promise<number> {
  const published = await Promise.all(
    plan.streamIds.map(async (streamId, index) => {
      const topic = pubsub.topic(streamId);
      const stream = await upstream(plan.prompts[index] ?? '');
      let seq = 0;
      for await (const chunk of stream) {
        const text = chunk.choices[0]?.delta?.content;
        if (!text) continue;
        seq++;
        await pubsub.engine.publish(topic, bareEvent(streamId, seq, text, false));
      }
      await pubsub.engine.publish(topic, bareEvent(streamId, seq + 1, '', true));
      return seq;
    }),
  );
  return published.reduce((sum, count) => sum + count, 0);
}

/** A baseline event stamped now, as MessageDelta.at is stamped when its token arrives. */
export function bareEvent(streamId: string, seq: number, text: string, end: boolean): BareEvent {
  return { messageId: streamId, seq, cursor: String(seq), text, at: new Date().toISOString(), end };
}
