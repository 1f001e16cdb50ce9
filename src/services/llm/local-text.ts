import type { OfflineTask } from './types.js';

/**
 * The offline responder's text operations: deterministic heuristics, each result labelled
 * "offline" so nobody mistakes it for a model's. Sentences are split on . ! ? and line breaks;
 * sentiment counts the words of a small lexicon.
 */

const POSITIVE = new Set(
  'good great excellent amazing awesome love loved lovely like liked happy glad pleased delight delighted wonderful fantastic best better nice fine superb brilliant enjoy enjoyed helpful perfect recommend thanks thank success successful win pleasant impressive easy fast reliable'.split(
    ' ',
  ),
);
const NEGATIVE = new Set(
  'bad terrible awful horrible hate hated dislike poor worse worst sad angry annoyed annoying disappointed disappointing broken bug bugs fail failed failure slow ugly useless wrong problem problems difficult hard painful unreliable crash crashed crashes error errors never'.split(
    ' ',
  ),
);

export const OFFLINE_NOTICE =
  'offline development responder: deterministic heuristics, not a language model';

export function offlineAnswer(task: OfflineTask): Record<string, unknown> {
  const sentences = sentencesOf(task.text);
  switch (task.operation) {
    case 'SUMMARIZE':
      return { summary: `offline summary: ${firstWords(sentences.join(' '), task.maxWords)}` };
    case 'SENTIMENT':
      return sentimentOf(task.text);
    case 'KEY_POINTS':
      return {
        points: sentences
          .slice(0, task.maxItems)
          .map((sentence) => `offline: ${firstWords(sentence, 30)}`),
      };
    case 'QUESTIONS':
      return {
        questions: sentences
          .slice(0, task.maxItems)
          .map((sentence) => `offline: what does "${firstWords(sentence, 12)}" imply?`),
      };
    case 'ANSWER':
      return { answer: `offline answer: ${closestSentence(sentences, task.question ?? '')}` };
  }
}

function sentencesOf(text: string): string[] {
  const sentences = text
    .split(/(?<=[.!?])\s+|\n+/)
    .map((sentence) => sentence.replace(/\s+/g, ' ').trim())
    .filter((sentence) => sentence.length > 0);
  return sentences.length > 0 ? sentences : ['(empty text)'];
}

function firstWords(text: string, maxWords: number): string {
  const words = text.split(/\s+/).filter((word) => word.length > 0);
  return words.length <= maxWords ? words.join(' ') : `${words.slice(0, maxWords).join(' ')}…`;
}

const wordsOf = (text: string) => text.toLowerCase().match(/[\p{L}\p{N}']+/gu) ?? [];

/** Counts lexicon words: only one kind is that kind, both is MIXED, none is NEUTRAL. */
function sentimentOf(text: string): { label: string; confidence: number } {
  let positive = 0;
  let negative = 0;
  for (const word of wordsOf(text)) {
    if (POSITIVE.has(word)) positive++;
    else if (NEGATIVE.has(word)) negative++;
  }
  const found = positive + negative;
  if (found === 0) return { label: 'NEUTRAL', confidence: 0.5 };
  const confidence = Math.round(Math.min(0.95, 0.5 + found * 0.1) * 100) / 100;
  if (positive > 0 && negative > 0) return { label: 'MIXED', confidence };
  return { label: positive > 0 ? 'POSITIVE' : 'NEGATIVE', confidence };
}

/** The sentence sharing the most words with the question (the first one on a tie). */
function closestSentence(sentences: readonly string[], question: string): string {
  const asked = new Set(wordsOf(question).filter((word) => word.length > 2));
  let best = sentences[0] ?? '';
  let bestScore = 0;
  for (const sentence of sentences) {
    const score = wordsOf(sentence).filter((word) => asked.has(word)).length;
    if (score > bestScore) {
      best = sentence;
      bestScore = score;
    }
  }
  return firstWords(best, 60);
}
