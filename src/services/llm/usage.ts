import type { TokenUsage } from '../../model.js';
import type { ChatTurn } from './types.js';

type CountTokens = (text: string) => number;
let counter: Promise<CountTokens> | undefined;

/** Loaded on first use: the encoding tables cost start-up time a server with usage never needs. */
function loadCounter(): Promise<CountTokens> {
  // Special tokens in a caller's text (`<|endoftext|>`) are counted as the plain text they are:
  // the tokenizer would otherwise throw on them.
  counter ??= import('gpt-tokenizer').then(
    (tokenizer) => (text: string) => tokenizer.countTokens(text, { disallowedSpecial: new Set() }),
  );
  return counter;
}

/**
 * Usage counted locally with o200k_base (GPT-4o's encoding) when the upstream reports none:
 * exact for that family, an estimate for others. Each turn adds ~4 tokens of message framing.
 */
export async function countUsage(turns: readonly ChatTurn[], answer: string): Promise<TokenUsage> {
  const countTokens = await loadCounter();
  const promptTokens = turns.reduce((sum, turn) => sum + countTokens(turn.content) + 4, 0);
  return { promptTokens, completionTokens: countTokens(answer) };
}
