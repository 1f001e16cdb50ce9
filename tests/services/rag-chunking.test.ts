import { describe, expect, it } from 'vitest';
import { chunkMarkdown, loadTokenizer } from '../../src/services/rag/chunking.js';
import { embedText } from '../../src/services/rag/local-embedding.js';

const tokens = await loadTokenizer();
const options = { chunkTokens: 80, overlapTokens: 15 };

describe('markdown chunking', () => {
  it('every chunk starts with the heading trail it sits under', () => {
    const chunks = chunkMarkdown(
      '# A\n\nIntro.\n\n## B\n\nBody of b.\n\n### C\n\nDeep.\n\n## D\n\nLast.',
      options,
      tokens,
    );
    expect(chunks).toEqual([
      '# A\n\nIntro.',
      '# A\n## B\n\nBody of b.',
      '# A\n## B\n### C\n\nDeep.',
      '# A\n## D\n\nLast.',
    ]);
  });

  it('prose is cut to the token size with the overlap carried into the next chunk', () => {
    const text = Array.from({ length: 60 }, (_, index) => `Sentence number ${index} is here.`).join(
      ' ',
    );
    const chunks = chunkMarkdown(text, options, tokens);
    expect(chunks.length).toBeGreaterThan(3);
    for (const chunk of chunks)
      expect(tokens.count(chunk)).toBeLessThanOrEqual(options.chunkTokens);
    const tail = chunks[0]!.split(' ').slice(-3).join(' ');
    expect(chunks[1]!.startsWith(tail) || chunks[1]!.includes(tail)).toBe(true);
  });

  it('a code block is never split, even past the chunk size', () => {
    const code = [
      '```ts',
      ...Array.from({ length: 30 }, (_, index) => `const value${index} = ${index};`),
      '```',
    ].join('\n');
    const chunks = chunkMarkdown(`# Code\n\nBefore.\n\n${code}\n\nAfter.`, options, tokens);
    expect(chunks.filter((chunk) => chunk.includes(code))).toHaveLength(1);
    expect(chunks.filter((chunk) => chunk.includes('```'))).toHaveLength(1);
  });

  it('a heading inside a code block is code, not a heading', () => {
    const chunks = chunkMarkdown('# Real\n\n```sh\n# not a heading\necho hi\n```', options, tokens);
    expect(chunks).toEqual(['# Real\n\n```sh\n# not a heading\necho hi\n```']);
  });

  it('special-token text is plain text', () => {
    expect(chunkMarkdown('a <|endoftext|> b', options, tokens)).toEqual(['a <|endoftext|> b']);
  });
});

describe('the local embedding', () => {
  it('is deterministic, unit length, and closer for texts sharing words', () => {
    const cosine = (a: number[], b: number[]) =>
      a.reduce((sum, value, index) => sum + value * b[index]!, 0);
    const penguins = embedText('emperor penguins huddle in winter');
    expect(embedText('emperor penguins huddle in winter')).toEqual(penguins);
    expect(Math.hypot(...penguins)).toBeCloseTo(1, 6);
    expect(cosine(penguins, embedText('penguins in the winter'))).toBeGreaterThan(
      cosine(penguins, embedText('stock market prices fell')),
    );
  });
});
