import { loadConfig } from '../../src/config.js';
import { MemoryDocumentStore } from '../../src/infra/backend/memory-documents.js';
import { BreakerRegistry } from '../../src/infra/breakers.js';
import { createLogger } from '../../src/infra/logger.js';
import { OramaSearchIndex } from '../../src/infra/search/orama-index.js';
import type { Principal } from '../../src/model.js';
import { isLlmOutage } from '../../src/services/llm/chain.js';
import { createLlmChain } from '../../src/services/llm/index.js';
import { type Embedder, OpenAiEmbedder } from '../../src/services/rag/embeddings.js';
import { LocalEmbedder } from '../../src/services/rag/local-embedding.js';
import { RagService } from '../../src/services/rag/rag-service.js';
import type { Corpus } from './corpus.js';

export type Mode = 'bm25' | 'vector' | 'hybrid';
export const MODES: readonly Mode[] = ['bm25', 'vector', 'hybrid'];

const PRINCIPAL: Principal = { id: 'eval', scopes: ['rag'], anonymous: false };
const COLLECTION = 'corpus';

/** The server's own parts, in process, with the defaults a server starts with. */
const config = loadConfig({ NODE_ENV: 'test', LOG_LEVEL: 'silent' });
const log = createLogger('silent');
const breakers = new BreakerRegistry({ config: config.breakers, log });

export const localEmbedder = (): Embedder => new LocalEmbedder();

/** An OpenAI-compatible /embeddings endpoint, through the server's own client and breaker. */
export function remoteEmbedder(endpoint: {
  baseURL: string;
  model: string;
  apiKey: string | undefined;
}): Embedder {
  return new OpenAiEmbedder({
    ...endpoint,
    batchSize: 64,
    timeoutMs: 60_000,
    retry: config.llm.retry,
    // One breaker per endpoint, as the server has one for its embeddings endpoint.
    breaker: breakers.create(`embeddings:${endpoint.baseURL}`, {
      kind: 'llm',
      timeout: false,
      isOutage: isLlmOutage,
    }),
    log,
  });
}

/**
 * The corpus ingested through RagService (the server's chunking, embedding and indexing), then
 * searched three ways: hybrid is RagService.retrieve, what ragQuery answers; BM25 alone and
 * vectors alone ask the same search index for one list (the API has no switch for either).
 */
export class CorpusIndex {
  private constructor(
    private readonly rag: RagService,
    private readonly index: OramaSearchIndex,
    private readonly embedder: Embedder,
    private readonly fileOf: ReadonlyMap<string, string>,
    readonly chunks: number,
  ) {}

  static async build(corpus: Corpus, embedder: Embedder): Promise<CorpusIndex> {
    const index = new OramaSearchIndex();
    const rag = new RagService({
      store: new MemoryDocumentStore(),
      index,
      embedder,
      llm: createLlmChain({ llm: config.llm, breakers, log }),
      config: config.rag,
      answerTimeoutMs: config.llm.totalTimeoutMs,
      log,
    });
    await rag.start();
    const fileOf = new Map<string, string>();
    let chunks = 0;
    for (const document of corpus.documents) {
      const stored = await rag.ingest(PRINCIPAL, { ...document, collection: COLLECTION });
      fileOf.set(stored.id, document.sourceId);
      chunks += stored.chunkCount;
    }
    return new CorpusIndex(rag, index, embedder, fileOf, chunks);
  }

  /** The file of each of the `depth` best chunks for `query`, best first. */
  async rank(mode: Mode, query: string, depth: number): Promise<string[]> {
    if (mode === 'hybrid') {
      const { chunks } = await this.rag.retrieve(PRINCIPAL, {
        query,
        collection: COLLECTION,
        k: depth,
      });
      return chunks.map((chunk) => chunk.document.sourceId ?? '');
    }
    const vector = mode === 'vector' ? (await this.embedder.embed([query]))[0] : undefined;
    const found = await this.index.search({
      principal: PRINCIPAL.id,
      collections: [COLLECTION],
      text: mode === 'bm25' ? query : '',
      vector: vector ? { value: vector, collections: [COLLECTION] } : undefined,
      limit: depth,
    });
    const hits = mode === 'bm25' ? found.text : found.vector;
    return hits.map((hit) => this.fileOf.get(hit.documentId) ?? '');
  }

  close(): Promise<void> {
    return this.rag.stop();
  }
}
