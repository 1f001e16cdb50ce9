import OpenAI from 'openai';
import type { BareEvent } from './publisher.js';

/** The same openai SDK call Parley makes, against the bench's fake upstream. */
export function createUpstreamClient(baseURL: string) {
  const client = new OpenAI({ baseURL, apiKey: 'bench', maxRetries: 0 });
  return (prompt: string) =>
    client.chat.completions.create({
      model: 'bench-model',
      messages: [{ role: 'user', content: prompt }],
      stream: true,
    });
}

export type UpstreamClient = ReturnType<typeof createUpstreamClient>;

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
      yield {
        messageId: id,
        seq,
        cursor: String(seq),
        text,
        at: new Date().toISOString(),
        end: false,
      };
    }
    yield {
      messageId: id,
      seq: seq + 1,
      cursor: String(seq + 1),
      text: '',
      at: new Date().toISOString(),
      end: true,
    };
  };
}
