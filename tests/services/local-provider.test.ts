import { describe, expect, it } from 'vitest';
import { LOCAL_MODEL, LocalProvider } from '../../src/services/llm/local.js';
import type { ChatTurn, LlmChunk } from '../../src/services/llm/types.js';

const turns: ChatTurn[] = [
  { role: 'system', content: 'You are a patient teacher.' },
  { role: 'user', content: 'What is a monad?' },
];

async function collect(provider: LocalProvider, signal = new AbortController().signal) {
  const chunks: LlmChunk[] = [];
  for await (const chunk of provider.stream(turns, signal)) chunks.push(chunk);
  return chunks;
}

const textOf = (chunks: LlmChunk[]) =>
  chunks.map((chunk) => (chunk.kind === 'text' ? chunk.text : '')).join('');

describe('the local responder', () => {
  it('says plainly that it is the offline development responder', async () => {
    const text = textOf(await collect(new LocalProvider(0)));
    expect(text).toContain("Parley's offline development responder, not a language model");
    expect(text).toContain('What is a monad?');
    expect(new LocalProvider(0).model).toBe(LOCAL_MODEL);
  });

  it('is deterministic: the same conversation streams the same chunks', async () => {
    expect(await collect(new LocalProvider(0))).toEqual(await collect(new LocalProvider(0)));
  });

  it('streams word by word', async () => {
    const chunks = await collect(new LocalProvider(0));
    expect(chunks.every((chunk) => chunk.kind === 'text')).toBe(true);
    expect(chunks.length).toBeGreaterThan(10);
    for (const chunk of chunks)
      expect(chunk.kind === 'text' && /^\S+\s*$/.test(chunk.text)).toBe(true);
  });

  it('stops at once when aborted', async () => {
    const controller = new AbortController();
    const received: LlmChunk[] = [];
    const provider = new LocalProvider(20);
    await expect(
      (async () => {
        for await (const chunk of provider.stream(turns, controller.signal)) {
          received.push(chunk);
          if (received.length === 2) controller.abort(new Error('stop'));
        }
      })(),
    ).rejects.toThrow();
    expect(received).toHaveLength(2);
  });
});
