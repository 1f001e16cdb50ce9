import type { DocumentStore, Unwatch } from '../../infra/backend/types.js';
import type { Logger } from '../../infra/logger.js';
import type { SearchIndex } from '../../infra/search/types.js';
import type { DocumentRecord } from '../../model.js';

/**
 * Keeps this instance's search index in step with the stored documents: it follows the store's
 * change feed (every instance's commits and deletes), builds everything at start, and reads
 * everything again when the feed reports a gap. Each change is applied by reading the
 * document's current state, one document at a time in order, so a late or repeated change can
 * never bring back an old version.
 */
export class IndexSync {
  private readonly documents = new Map<string, DocumentRecord>();
  private readonly pending = new Map<string, Promise<void>>();
  private unwatch: Unwatch | undefined;

  constructor(
    private readonly store: DocumentStore,
    private readonly index: SearchIndex,
    private readonly log: Logger,
  ) {}

  /** Watches first, then reads everything: a change made meanwhile is applied twice, never missed. */
  async start(): Promise<void> {
    this.unwatch = await this.store.watchChanges(
      (change) => {
        this.refresh(change.documentId).catch((error: unknown) =>
          this.log.warn({ err: error, documentId: change.documentId }, 'index refresh failed'),
        );
      },
      () => {
        this.log.warn('the document change feed skipped entries; rebuilding the index');
        this.rebuild().catch((error: unknown) => this.log.error({ err: error }, 'rebuild failed'));
      },
    );
    await this.rebuild();
  }

  async stop(): Promise<void> {
    await this.unwatch?.();
    await Promise.allSettled([...this.pending.values()]);
  }

  /** The document as the index holds it (what search results are built from). */
  document(id: string): DocumentRecord | undefined {
    return this.documents.get(id);
  }

  /** The principal's collections in the index, with the model of their vectors. */
  collectionsOf(principal: string): Map<string, string> {
    const collections = new Map<string, string>();
    for (const document of this.documents.values()) {
      if (document.principal === principal) {
        collections.set(document.collection, document.embeddingModel);
      }
    }
    return collections;
  }

  /** Brings one document's index entry to its stored state; resolves when it is searchable. */
  refresh(documentId: string): Promise<void> {
    const previous = this.pending.get(documentId) ?? Promise.resolve();
    const next = previous
      .catch(() => {})
      .then(() => this.apply(documentId))
      .finally(() => {
        if (this.pending.get(documentId) === next) this.pending.delete(documentId);
      });
    this.pending.set(documentId, next);
    return next;
  }

  private async rebuild(): Promise<void> {
    const seen = new Set<string>();
    let count = 0;
    for await (const ids of this.store.allDocumentIds()) {
      for (const id of ids) seen.add(id);
      await Promise.all(ids.map((id) => this.refresh(id)));
      count += ids.length;
    }
    for (const id of this.index.documentIds()) if (!seen.has(id)) await this.refresh(id);
    this.log.info({ documents: count }, 'search index built');
  }

  private async apply(documentId: string): Promise<void> {
    const [document] = await this.store.getDocuments([documentId]);
    if (!document) {
      await this.index.removeDocument(documentId);
      this.documents.delete(documentId);
      return;
    }
    if (this.documents.get(documentId)?.revision === document.revision) return;
    const chunks = await this.store.getChunks(documentId);
    // Chunks are written in the same step as the record: missing means deleted since.
    if (!chunks) {
      await this.index.removeDocument(documentId);
      this.documents.delete(documentId);
      return;
    }
    await this.index.replaceDocument(
      { principal: document.principal, collection: document.collection },
      documentId,
      chunks,
    );
    this.documents.set(documentId, document);
  }
}
