import { type AnyOrama, create, insert, search } from '@orama/orama';
import { ENGLISH_STOP_WORDS } from '../../src/infra/search/stop-words.js';
import { loadTokenizer } from '../../src/services/rag/chunking.js';
import { embedText } from '../../src/services/rag/local-embedding.js';
import { type CorpusSpan, spanDocuments } from '../harness/rag-corpus.js';
import { type Found, type QueryWindowPlan, runQueryWindow } from '../harness/rag-search.js';
import { serve } from '../harness/rpc.js';
import { probeMethods } from '../harness/target-probe.js';

/**
 * The rag baseline: one plain Orama database configured as Parley's index is (text + 384-d
 * vector, the English stop words, taken from src/infra/search/stop-words.ts so the two cannot
 * drift) called directly in this process, filled with the same chunks (Parley's chunker, same
 * settings) and the same local embedding, and searched the way Parley retrieves: BM25 and
 * vector search, each as deep as Parley asks, fused by reciprocal rank to the best k. What it
 * leaves out is what Parley adds around the library: HTTP, GraphQL, auth and cost limiting, the
 * store and the index sync.
 */

/** Parley's own constants (rag-service.ts, fusion.ts), so both sides do the same search. */
const CANDIDATE_FACTOR = 4;
const MIN_CANDIDATES = 20;
const RRF_K = 60;

const db: AnyOrama = create({
  schema: { text: 'string', embedding: 'vector[384]' } as const,
  components: { tokenizer: { stopWords: [...ENGLISH_STOP_WORDS] } },
});
let nextId = 0;

export interface AddResult {
  documents: number;
  chunks: number;
  /** The first document past the span (where the next span starts). */
  nextDocument: number;
  /** Chunking, embedding and inserting, summed over documents, ms. */
  buildMs: number;
  /** Of which the inserts, ms. */
  insertMs: number;
  chunkChars: number;
  /** o200k tokens of the chunks (0 unless the span was cut with o200k), counted outside buildMs. */
  chunkTokens: number;
}

async function add(span: CorpusSpan): Promise<AddResult> {
  const tokenizer = span.counting === 'o200k' ? await loadTokenizer() : undefined;
  const result: AddResult = {
    documents: 0,
    chunks: 0,
    nextDocument: span.firstDocument,
    buildMs: 0,
    insertMs: 0,
    chunkChars: 0,
    chunkTokens: 0,
  };
  let started = performance.now();
  for await (const document of spanDocuments(span)) {
    const vectors = document.chunks.map(embedText);
    const inserting = performance.now();
    document.chunks.forEach((text, index) => {
      insert(db, { id: `chunk-${nextId++}`, text, embedding: vectors[index]! });
    });
    const ended = performance.now();
    result.insertMs += ended - inserting;
    result.buildMs += ended - started;
    result.documents++;
    result.chunks += document.chunks.length;
    result.nextDocument = document.index + 1;
    for (const text of document.chunks) {
      result.chunkChars += text.length;
      if (tokenizer) result.chunkTokens += tokenizer.count(text);
    }
    started = performance.now();
  }
  return result;
}

function retrieve(query: string, k: number): Found[] {
  const limit = Math.max(k * CANDIDATE_FACTOR, MIN_CANDIDATES);
  const vector = embedText(query);
  const text = search(db, { term: query, properties: ['text'], limit }) as Awaited<
    ReturnType<typeof search>
  >;
  const similar = search(db, {
    mode: 'vector',
    vector: { value: vector, property: 'embedding' },
    similarity: 0,
    limit,
  }) as Awaited<ReturnType<typeof search>>;
  const fused = new Map<string, Found>();
  const lists = [text.hits, similar.hits];
  for (const hits of lists) {
    hits.forEach((hit, index) => {
      const entry = fused.get(hit.id);
      const contribution = 1 / (RRF_K + index + 1);
      if (entry) entry.score += contribution;
      else
        fused.set(hit.id, { text: (hit.document as { text: string }).text, score: contribution });
    });
  }
  // Scaled like Parley's: 1 is first in every list.
  const best = lists.length / (RRF_K + 1);
  return [...fused.values()]
    .sort((a, b) => b.score - a.score)
    .slice(0, k)
    .map((entry) => ({ text: entry.text, score: Math.min(1, entry.score / best) }));
}

// Loaded before the first heap reading, so no figure counts the tokenizer's tables.
await loadTokenizer();

const methods = {
  ...probeMethods({ counters: () => ({ chunks: nextId }) }),
  add,
  search: (plan: QueryWindowPlan) => runQueryWindow(plan, (query) => retrieve(query, plan.k)),
};

export type BareOramaMethods = typeof methods;

serve(methods);
