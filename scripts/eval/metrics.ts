import type { Question } from './corpus.js';

/** Results are chunks; a chunk counts for the document (file) it came from. */
export const RECALL_AT = 5;
export const MRR_DEPTH = 10;

export interface RankedAnswer {
  question: Question;
  /** The file of each chunk retrieved, best first (at least MRR_DEPTH long when there are). */
  files: readonly string[];
}

export interface Scores {
  /** Mean share of a question's expected files among the first RECALL_AT chunks. */
  recall: number;
  /** Mean of 1 / rank of the first chunk from an expected file, 0 past MRR_DEPTH. */
  mrr: number;
  /** Questions with no expected file in the first RECALL_AT chunks. */
  misses: RankedAnswer[];
}

export function score(answers: readonly RankedAnswer[]): Scores {
  let recall = 0;
  let mrr = 0;
  const misses: RankedAnswer[] = [];
  for (const answer of answers) {
    const expected = new Set(answer.question.expected);
    const top = new Set(answer.files.slice(0, RECALL_AT));
    const found = [...expected].filter((file) => top.has(file)).length;
    recall += found / expected.size;
    if (found === 0) misses.push(answer);
    const rank = answer.files.slice(0, MRR_DEPTH).findIndex((file) => expected.has(file));
    mrr += rank === -1 ? 0 : 1 / (rank + 1);
  }
  const count = Math.max(answers.length, 1);
  return { recall: recall / count, mrr: mrr / count, misses };
}
