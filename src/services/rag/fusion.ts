import type { SearchHit } from '../../infra/search/types.js';

/** The usual RRF constant: ranks past the first few weigh little, and no score needs scaling. */
export const RRF_K = 60;

export interface FusedHit {
  hit: SearchHit;
  score: number;
}

/**
 * Reciprocal rank fusion of ranked lists (BM25, vector): each list adds 1 / (RRF_K + rank) for a
 * chunk, rank from 1. The sum is divided by the most any chunk could get (first in every list
 * searched), so scores run 0–1: 1 is first in every list, ~0.5 first in one of two and absent
 * from the other. Scores compare within one result, not across queries.
 */
export function fuseByRank(lists: readonly (readonly SearchHit[])[], k: number): FusedHit[] {
  const searched = lists.length;
  if (searched === 0) return [];
  const fused = new Map<string, FusedHit>();
  for (const list of lists) {
    list.forEach((hit, index) => {
      const contribution = 1 / (RRF_K + index + 1);
      const entry = fused.get(hit.chunkId);
      if (entry) entry.score += contribution;
      else fused.set(hit.chunkId, { hit, score: contribution });
    });
  }
  const best = searched / (RRF_K + 1);
  return [...fused.values()]
    .map((entry) => ({ hit: entry.hit, score: Math.min(1, entry.score / best) }))
    .sort((a, b) => b.score - a.score || a.hit.chunkId.localeCompare(b.hit.chunkId))
    .slice(0, k);
}
