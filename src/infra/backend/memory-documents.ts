import type { DocumentRecord } from '../../model.js';
import type {
  CollectionEmbedding,
  CommitOutcome,
  DocumentChange,
  DocumentCommit,
  DocumentListEntry,
  DocumentStore,
  StoredChunk,
  Unwatch,
} from './types.js';

interface Entry {
  document: DocumentRecord;
  chunks: StoredChunk[];
  key: number;
}

const sourceKey = (principal: string, collection: string, sourceId: string) =>
  `${principal}\u0000${collection}\u0000${sourceId}`;
const collectionKey = (principal: string, collection: string) => `${principal}\u0000${collection}`;

/**
 * The embedded documents store. Every method changes its maps without awaiting in between, so
 * each commit or delete is one step, like the Redis scripts; the feed is called after it.
 */
export class MemoryDocumentStore implements DocumentStore {
  private readonly entries = new Map<string, Entry>();
  private readonly sources = new Map<string, string>();
  private readonly collections = new Map<
    string,
    { embedding: CollectionEmbedding; size: number }
  >();
  private readonly watchers = new Set<(change: DocumentChange) => void>();
  private nextKey = 1;

  async findBySource(principal: string, collection: string, sourceId: string) {
    return this.sources.get(sourceKey(principal, collection, sourceId)) ?? null;
  }

  async getDocuments(ids: readonly string[]): Promise<(DocumentRecord | null)[]> {
    return ids.map((id) => {
      const entry = this.entries.get(id);
      return entry ? structuredClone(entry.document) : null;
    });
  }

  async getChunks(documentId: string): Promise<StoredChunk[] | null> {
    const entry = this.entries.get(documentId);
    return entry ? structuredClone(entry.chunks) : null;
  }

  async commit(commit: DocumentCommit): Promise<CommitOutcome> {
    const { document, chunks, embedding, replaces } = commit;
    const { principal, collection, sourceId } = document;
    const source = sourceId === null ? undefined : sourceKey(principal, collection, sourceId);
    if (source !== undefined && (this.sources.get(source) ?? null) !== replaces) {
      return { status: 'conflict' };
    }
    const held = this.collections.get(collectionKey(principal, collection));
    if (
      held &&
      (held.embedding.model !== embedding.model ||
        held.embedding.dimensions !== embedding.dimensions)
    ) {
      return { status: 'embedding-mismatch', existing: { ...held.embedding } };
    }
    const previous = this.entries.get(document.id);
    if (!previous) {
      if (this.count(principal) >= commit.maxDocumentsPerPrincipal) {
        return { status: 'too-many-documents' };
      }
      this.collections.set(collectionKey(principal, collection), {
        embedding: { ...embedding },
        size: (held?.size ?? 0) + 1,
      });
      if (source !== undefined) this.sources.set(source, document.id);
    }
    this.entries.set(document.id, {
      document: structuredClone(document),
      chunks: structuredClone(chunks),
      key: previous?.key ?? this.nextKey++,
    });
    this.announce(document.id);
    return { status: 'committed' };
  }

  async delete(document: DocumentRecord): Promise<boolean> {
    const entry = this.entries.get(document.id);
    if (!entry) return false;
    const { principal, collection, sourceId } = entry.document;
    this.entries.delete(document.id);
    if (sourceId !== null) {
      const source = sourceKey(principal, collection, sourceId);
      if (this.sources.get(source) === document.id) this.sources.delete(source);
    }
    const held = this.collections.get(collectionKey(principal, collection));
    if (held && held.size <= 1) this.collections.delete(collectionKey(principal, collection));
    else if (held) held.size -= 1;
    this.announce(document.id);
    return true;
  }

  async countDocuments(principal: string): Promise<number> {
    return this.count(principal);
  }

  private count(principal: string): number {
    let count = 0;
    for (const entry of this.entries.values()) if (entry.document.principal === principal) count++;
    return count;
  }

  async collectionEmbedding(principal: string, collection: string) {
    const held = this.collections.get(collectionKey(principal, collection));
    return held ? { ...held.embedding } : null;
  }

  async listDocuments(
    principal: string,
    page: { collection: string | undefined; beforeKey: number | undefined; limit: number },
  ): Promise<DocumentListEntry[]> {
    return [...this.entries.values()]
      .filter(
        (entry) =>
          entry.document.principal === principal &&
          (page.collection === undefined || entry.document.collection === page.collection) &&
          (page.beforeKey === undefined || entry.key < page.beforeKey),
      )
      .sort((a, b) => b.key - a.key)
      .slice(0, page.limit)
      .map((entry) => ({ id: entry.document.id, key: entry.key }));
  }

  async *allDocumentIds(): AsyncIterable<string[]> {
    yield [...this.entries.keys()];
  }

  async watchChanges(onChange: (change: DocumentChange) => void): Promise<Unwatch> {
    this.watchers.add(onChange);
    return async () => {
      this.watchers.delete(onChange);
    };
  }

  private announce(documentId: string): void {
    for (const watcher of this.watchers) watcher({ documentId });
  }
}
