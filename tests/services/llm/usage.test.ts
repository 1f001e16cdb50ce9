import { describe, expect, it } from 'vitest';
import { countUsage } from '../../../src/services/llm/usage.js';

describe('countUsage', () => {
  it('counts a special-token marker in a caller’s text as plain text instead of throwing', async () => {
    const usage = await countUsage(
      [{ role: 'user', content: 'what does <|endoftext|> mean?' }],
      'It marks <|im_end|> the end.',
    );
    expect(usage.promptTokens).toBeGreaterThan(4);
    expect(usage.completionTokens).toBeGreaterThan(3);
  });
});
