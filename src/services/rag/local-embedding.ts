import type { Embedder } from './embeddings.js';

const DIMENSIONS = 384;

/**
 * The built-in embedding, for offline development and tests: hashed word unigrams, word bigrams
 * and character trigrams, signed into 384 buckets and L2-normalised. It is lexical, not
 * semantic: texts that share words and word pieces are close, synonyms are not. Set
 * EMBEDDINGS_MODEL for real semantic retrieval.
 */
export class LocalEmbedder implements Embedder {
  readonly model = 'local-hashed-ngrams-v1';
  readonly unavailable = false;

  async embed(texts: readonly string[]): Promise<number[][]> {
    return texts.map(embedText);
  }
}

export function embedText(text: string): number[] {
  const vector = new Float64Array(DIMENSIONS);
  const words = text.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? [];
  const add = (feature: string, weight: number) => {
    const hash = fnv1a(feature);
    vector[hash % DIMENSIONS]! += hash & 0x80000000 ? -weight : weight;
  };
  for (let index = 0; index < words.length; index++) {
    const word = words[index]!;
    add(`w:${word}`, 1);
    if (index > 0) add(`b:${words[index - 1]} ${word}`, 0.5);
    const padded = `^${word}$`;
    for (let at = 0; at + 3 <= padded.length; at++) add(`c:${padded.slice(at, at + 3)}`, 0.25);
  }
  const norm = Math.hypot(...vector) || 1;
  return Array.from(vector, (value) => value / norm);
}

function fnv1a(text: string): number {
  let hash = 0x811c9dc5;
  for (let index = 0; index < text.length; index++) {
    hash ^= text.charCodeAt(index);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash;
}
