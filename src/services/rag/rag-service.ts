import type { RagConfig } from '../../config.js';
import { NotFound, Unavailable } from '../../errors.js';
import type { DocumentListEntry, DocumentStore } from '../../infra/backend/types.js';
import type { Logger } from '../../infra/logger.js';
import type { SearchIndex } from '../../infra/search/types.js';
import {
  type DocumentRecord,
  isDocumentId,
  type Principal,
  type RetrievedChunkRecord,
} from '../../model.js';
import { GenerationFailure, type LlmChain } from '../llm/index.js';
import type { Embedder } from './embeddings.js';
import { fuseByRank } from './fusion.js';
import { IndexSync } from './index-sync.js';
import { type IngestInput, ingestDocument } from './ingestion.js';
import { answerTurns } from './prompt.js';
import { checkCollection, checkK, checkQuery } from './validation.js';

export interface RagServiceParts {
  store: DocumentStore;
  index: SearchIndex;
  embedder: Embedder;
  llm: LlmChain;
  config: RagConfig;
  /** How long a generated `answer` may take. */
  answerTimeoutMs: number;
  log: Logger;
}

export interface Retrieval {
  chunks: RetrievedChunkRecord[];
  /** True when vector search was skipped (the embeddings endpoint is down): BM25 alone. */
  degraded: boolean;
}

/** Each list is searched this much deeper than `k`, so fusion has candidates to reorder. */
const CANDIDATE_FACTOR = 4;
const MIN_CANDIDATES = 20;

/**
 * Retrieval-augmented generation: documents in, chunks out. Ingest and delete go through the
 * store (atomic, with a change feed); search reads this instance's index, which IndexSync keeps
 * in step with every instance's changes. A document belongs to the principal that ingested it.
 */
export class RagService {
  private readonly sync: IndexSync;

  constructor(private readonly parts: RagServiceParts) {
    this.sync = new IndexSync(parts.store, parts.index, parts.log);
  }

  start(): Promise<void> {
    return this.sync.start();
  }

  stop(): Promise<void> {
    return this.sync.stop();
  }

  ingest(principal: Principal, input: IngestInput): Promise<DocumentRecord> {
    return ingestDocument(
      { ...this.parts, store: this.parts.store, sync: this.sync },
      principal,
      input,
    );
  }

  async deleteDocument(principal: Principal, id: string): Promise<boolean> {
    const document = await this.ownedDocument(principal, id);
    await this.parts.store.delete(document);
    await this.sync.refresh(document.id);
    this.parts.log.info({ documentId: id }, 'document deleted');
    return true;
  }

  async ownedDocument(principal: Principal, id: string): Promise<DocumentRecord> {
    const [document] = isDocumentId(id) ? await this.parts.store.getDocuments([id]) : [null];
    if (!document || document.principal !== principal.id) throw new NotFound('Document', id);
    return document;
  }

  /** One page of the principal's documents, newest first (an unknown collection: none). */
  async listDocuments(
    principal: Principal,
    page: { collection?: string | null; beforeKey: number | undefined; limit: number },
  ): Promise<{ entry: DocumentListEntry; document: DocumentRecord }[]> {
    const collection = page.collection ?? undefined;
    if (collection !== undefined) checkCollection(collection, collection);
    const entries = await this.parts.store.listDocuments(principal.id, {
      collection,
      beforeKey: page.beforeKey,
      limit: page.limit,
    });
    const documents = await this.parts.store.getDocuments(entries.map((entry) => entry.id));
    return entries.flatMap((entry, index) => {
      const document = documents[index];
      return document && document.principal === principal.id ? [{ entry, document }] : [];
    });
  }

  /**
   * The k best chunks of the principal's documents for `query`, in one collection or all of
   * them: BM25 and vector similarity fused by reciprocal rank (scores 0–1, best first).
   */
  async retrieve(
    principal: Principal,
    input: { query: string; collection?: string | null; k?: number | null },
  ): Promise<Retrieval> {
    const query = checkQuery(input.query);
    const k = checkK(input.k, 'k');
    const known = this.sync.collectionsOf(principal.id);
    const collections =
      input.collection === null || input.collection === undefined
        ? [...known.keys()]
        : [checkCollection(input.collection, '')].filter((name) => known.has(name));
    if (collections.length === 0) return { chunks: [], degraded: false };
    const sameModel = collections.filter((name) => known.get(name) === this.parts.embedder.model);
    const vector = sameModel.length > 0 ? await this.queryVector(query) : undefined;
    const limit = Math.max(k * CANDIDATE_FACTOR, MIN_CANDIDATES);
    const found = await this.parts.index.search({
      principal: principal.id,
      collections,
      text: query,
      vector: vector ? { value: vector, collections: sameModel } : undefined,
      limit,
    });
    const lists = vector ? [found.text, found.vector] : [found.text];
    const chunks = fuseByRank(lists, k).flatMap(({ hit, score }) => {
      const document = this.sync.document(hit.documentId);
      return document && document.principal === principal.id
        ? [{ id: hit.chunkId, document, text: hit.text, score }]
        : [];
    });
    return { chunks, degraded: sameModel.length > 0 && !vector };
  }

  /** What `answer` says: the model's reply from the chunks, citing them as [1], [2]… */
  async answer(query: string, chunks: readonly RetrievedChunkRecord[]): Promise<string> {
    const signal = AbortSignal.timeout(this.parts.answerTimeoutMs);
    let text = '';
    try {
      for await (const chunk of this.parts.llm.stream(answerTurns(query, chunks), signal)) {
        if (chunk.kind === 'text') text += chunk.text;
      }
    } catch (error) {
      if (error instanceof GenerationFailure || signal.aborted) {
        throw new Unavailable(
          'No model could answer right now; retry shortly.',
          {},
          { cause: error },
        );
      }
      throw error;
    }
    return text;
  }

  /** The query's embedding, or undefined when the endpoint is down (search falls back to BM25). */
  private async queryVector(query: string): Promise<number[] | undefined> {
    if (this.parts.embedder.unavailable) return undefined;
    try {
      const [vector] = await this.parts.embedder.embed([query]);
      return vector;
    } catch (error) {
      if (!(error instanceof Unavailable)) throw error;
      this.parts.log.warn({ err: error }, 'query embedding failed; searching with BM25 alone');
      return undefined;
    }
  }
}
