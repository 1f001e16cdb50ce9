import { randomUUID } from 'node:crypto';
import type { RagConfig } from '../../config.js';
import { BadInput } from '../../errors.js';
import type { DocumentStore } from '../../infra/backend/types.js';
import { DEFAULT_COLLECTION, type DocumentRecord, type Principal } from '../../model.js';
import { chunkMarkdown, loadTokenizer } from './chunking.js';
import type { Embedder } from './embeddings.js';
import type { IndexSync } from './index-sync.js';
import {
  checkCollection,
  checkMetadata,
  checkSourceId,
  checkText,
  checkTitle,
} from './validation.js';

export interface IngestInput {
  collection?: string | null;
  title: string;
  text: string;
  metadata?: unknown;
  sourceId?: string | null;
}

/** Commits that lost a race for the same sourceId are prepared again, this many times. */
const COMMIT_ATTEMPTS = 3;

export const newDocumentId = () => `doc_${randomUUID().replaceAll('-', '')}`;

/**
 * Ingest: check, chunk, embed, then one atomic commit (document, chunks, vectors, change feed),
 * then this instance's index, before the Document is returned. Every refusal comes before the
 * commit, so a refused or failed ingest stores nothing.
 */
export async function ingestDocument(
  parts: { store: DocumentStore; embedder: Embedder; sync: IndexSync; config: RagConfig },
  principal: Principal,
  input: IngestInput,
): Promise<DocumentRecord> {
  const { store, embedder, sync, config } = parts;
  const text = checkText(input.text, 'text', config.maxDocumentChars);
  const title = checkTitle(input.title);
  const collection = checkCollection(input.collection, DEFAULT_COLLECTION);
  const sourceId = checkSourceId(input.sourceId);
  const metadata = checkMetadata(input.metadata);
  const chunkTexts = chunkMarkdown(text, config, await loadTokenizer());
  if (chunkTexts.length > config.maxChunksPerDocument) {
    throw new BadInput(
      `The text makes ${chunkTexts.length} chunks; at most ${config.maxChunksPerDocument} are allowed per document.`,
      { field: 'text', reason: 'TOO_MANY_CHUNKS' },
    );
  }
  // Refusals an embedding call would only delay (the commit checks both again, atomically).
  const held = await store.collectionEmbedding(principal.id, collection);
  if (held && held.model !== embedder.model) throw mismatch(collection, held.model, embedder.model);
  const existing = sourceId ? await store.findBySource(principal.id, collection, sourceId) : null;
  if (!existing) {
    const count = await store.countDocuments(principal.id);
    if (count >= config.maxDocumentsPerPrincipal) throw tooManyDocuments(config);
  }
  const vectors = await embedder.embed(chunkTexts);
  const embedding = { model: embedder.model, dimensions: vectors[0]?.length ?? 0 };
  for (let attempt = 0; attempt < COMMIT_ATTEMPTS; attempt++) {
    const replaces = sourceId ? await store.findBySource(principal.id, collection, sourceId) : null;
    const [previous] = replaces ? await store.getDocuments([replaces]) : [null];
    const id = previous?.id ?? newDocumentId();
    const document: DocumentRecord = {
      id,
      principal: principal.id,
      collection,
      title,
      chunkCount: chunkTexts.length,
      createdAt: previous?.createdAt ?? new Date().toISOString(),
      sourceId,
      metadata,
      revision: randomUUID(),
      embeddingModel: embedder.model,
    };
    const chunks = chunkTexts.map((chunkText, index) => ({
      id: `${id}:${index}`,
      text: chunkText,
      embedding: vectors[index]!,
    }));
    const outcome = await store.commit({
      document,
      chunks,
      embedding,
      replaces: previous ? replaces : null,
      maxDocumentsPerPrincipal: config.maxDocumentsPerPrincipal,
    });
    if (outcome.status === 'too-many-documents') throw tooManyDocuments(config);
    if (outcome.status === 'embedding-mismatch') {
      throw mismatch(collection, outcome.existing.model, embedder.model);
    }
    if (outcome.status === 'committed') {
      await sync.refresh(id);
      return document;
    }
  }
  throw new BadInput('The same sourceId is being ingested concurrently; retry.', {
    field: 'sourceId',
    reason: 'CONCURRENT_INGEST',
  });
}

const tooManyDocuments = (config: RagConfig) =>
  new BadInput(
    `At most ${config.maxDocumentsPerPrincipal} documents may be stored per principal.`,
    {
      reason: 'TOO_MANY_DOCUMENTS',
    },
  );

const mismatch = (collection: string, held: string, current: string) =>
  new BadInput(
    `Collection "${collection}" holds embeddings of model "${held}"; this server embeds with "${current}". Use another collection, or delete its documents first.`,
    { field: 'collection', reason: 'EMBEDDING_MODEL_MISMATCH' },
  );
