import { type BareEvent, bareEvent } from './publisher.js';
import type { UpstreamClient } from './upstream-client.js';

/**
 * The ttft baseline's subscription: each chunk handed straight to graphql-ws. Parley's time to
 * first delta minus this one is what its event log, pub/sub and reader add.
 */
export function createRelay(upstream: UpstreamClient) {
  return async function* relay(id: string, prompt: string): AsyncGenerator<BareEvent> {
    const stream = await upstream(prompt);
    let seq = 0;
    for await (const chunk of stream) {
      const text = chunk.choices[0]?.delta?.content;
      if (!text) continue;
      seq++;
      yield bareEvent(id, seq, text, false);
    }
    yield bareEvent(id, seq + 1, '', true);
  };
}
