import { randomUUID } from 'node:crypto';
import { setImmediate as turn } from 'node:timers/promises';
import { createApp } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { DEFAULT_COLLECTION, type DocumentRecord } from '../../src/model.js';
import { loadTokenizer } from '../../src/services/rag/chunking.js';
import { newDocumentId } from '../../src/services/rag/ingestion.js';
import { LocalEmbedder } from '../../src/services/rag/local-embedding.js';
import { type CorpusSpan, spanDocuments } from '../harness/rag-corpus.js';
import { serve } from '../harness/rpc.js';
import { probeMethods } from '../harness/target-probe.js';

/**
 * Parley as deployed (targets/parley.ts), plus one way in that the API does not have: `add`
 * commits chunks cut in this process straight to the documents store, and the index follows
 * through its own change feed (IndexSync → SearchIndex), as it does for another instance's
 * ingest. It builds the rag scenario's 100k-chunk index without the tokenizer and HTTP per
 * document, which would not fit the scenario's time; ingest through the API is measured apart.
 * Embedded backend only: there the feed applies each commit before the next macrotask.
 */
const config = loadConfig(process.env);
if (config.redisUrl) throw new Error('parley-rag runs on the embedded backend only');
// Loaded before the first heap reading, so no figure counts the tokenizer's tables.
await loadTokenizer();
const app = await createApp(config);
const port = await app.listen();
const embedder = new LocalEmbedder();

export interface AddPlan {
  span: CorpusSpan;
  /** Whose documents they are: the principal the bench's API key stands for. */
  principal: string;
}

async function add(plan: AddPlan) {
  const { chunkTokens, overlapTokens } = plan.span.chunking;
  if (chunkTokens !== config.rag.chunkTokens || overlapTokens !== config.rag.overlapTokens) {
    throw new Error(`chunks cut unlike this server's RAG_CHUNK_TOKENS/RAG_CHUNK_OVERLAP`);
  }
  const started = performance.now();
  let documents = 0;
  let chunks = 0;
  let nextDocument = plan.span.firstDocument;
  for await (const source of spanDocuments(plan.span)) {
    const vectors = await embedder.embed(source.chunks);
    const document: DocumentRecord = {
      id: newDocumentId(),
      principal: plan.principal,
      collection: DEFAULT_COLLECTION,
      title: source.title,
      chunkCount: source.chunks.length,
      createdAt: new Date().toISOString(),
      sourceId: null,
      metadata: null,
      revision: randomUUID(),
      embeddingModel: embedder.model,
    };
    const outcome = await app.backend.documents.commit({
      document,
      chunks: source.chunks.map((text, index) => ({
        id: `${document.id}:${index}`,
        text,
        embedding: vectors[index]!,
      })),
      embedding: { model: embedder.model, dimensions: vectors[0]?.length ?? 0 },
      replaces: null,
      maxDocumentsPerPrincipal: config.rag.maxDocumentsPerPrincipal,
    });
    if (outcome.status !== 'committed') throw new Error(`commit refused: ${outcome.status}`);
    // The feed's refresh is all promise callbacks on this backend: done by the next turn.
    await turn();
    documents++;
    chunks += source.chunks.length;
    nextDocument = source.index + 1;
  }
  return { documents, chunks, nextDocument, buildMs: performance.now() - started };
}

const methods = {
  ...probeMethods({ counters: () => ({ openSubscriptions: app.services.streams.openCount }) }),
  add,
  stop: () => app.close(),
};

export type ParleyRagMethods = typeof methods;

serve(methods, { port });
