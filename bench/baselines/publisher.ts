import { setImmediate as yieldToIo } from 'node:timers/promises';
import { sleep } from '../harness/clock.js';
import { tokenText } from '../harness/prompt.js';
import type { BasePubSub } from './pubsub.js';

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
  tokens: number;
  /** 0 publishes as fast as publishing completes; otherwise one token per stream per interval. */
  intervalMs: number;
}

/**
 * Plays the part the generations play in Parley: one loop per stream publishing `tokens` deltas
 * and an end marker. Paced streams start spread over one interval, as Parley's paced generations
 * are (see scenarios/fanout.ts), so neither side gets a synchronized burst the other lacks.
 */
export async function publishStreams(pubsub: BasePubSub, plan: PublishPlan): Promise<number> {
  const start = performance.now();
  const published = await Promise.all(
    plan.streamIds.map(async (streamId, index) => {
      const topic = pubsub.topic(streamId);
      const phase = plan.intervalMs > 0 ? (index * plan.intervalMs) / plan.streamIds.length : 0;
      for (let seq = 1; seq <= plan.tokens; seq++) {
        if (plan.intervalMs > 0)
          await sleep(start + phase + (seq - 1) * plan.intervalMs - performance.now());
        await pubsub.engine.publish(topic, event(streamId, seq, tokenText(seq - 1), false));
        if (pubsub.inProcess && plan.intervalMs === 0) await yieldToIo();
      }
      await pubsub.engine.publish(topic, event(streamId, plan.tokens + 1, '', true));
      return plan.tokens;
    }),
  );
  return published.reduce((sum, count) => sum + count, 0);
}

function event(streamId: string, seq: number, text: string, end: boolean): BareEvent {
  return { messageId: streamId, seq, cursor: String(seq), text, at: new Date().toISOString(), end };
}
