/**
 * The search index port: full-text and vector search over chunks, scoped to one principal. The
 * in-process implementation is Orama (orama-index.ts); an external engine (OpenSearch, Qdrant,
 * pgvector…) can implement the same interface.
 */

export interface IndexedChunk {
  id: string;
  text: string;
  embedding: number[];
}

export interface IndexScope {
  principal: string;
  collection: string;
}

export interface SearchHit {
  chunkId: string;
  documentId: string;
  collection: string;
  text: string;
  /** The engine's own score: BM25 for text, cosine similarity for vectors. Higher is better. */
  score: number;
}

export interface SearchRequest {
  principal: string;
  /** Collections to search; every one of the principal's when undefined. */
  collections: readonly string[] | undefined;
  text: string;
  /** Searched only in the collections listed here (their vectors come from the same model). */
  vector: { value: number[]; collections: readonly string[] } | undefined;
  limit: number;
}

export interface SearchIndex {
  /**
   * Puts the document's chunks in place of its previous ones in one step: no search sees both
   * versions or neither.
   */
  replaceDocument(
    scope: IndexScope,
    documentId: string,
    chunks: readonly IndexedChunk[],
  ): Promise<void>;
  removeDocument(documentId: string): Promise<void>;
  /** Best first, each list at most `limit` long. */
  search(request: SearchRequest): Promise<{ text: SearchHit[]; vector: SearchHit[] }>;
  /** Ids of every document held (to drop those a rebuild no longer finds). */
  documentIds(): string[];
}
