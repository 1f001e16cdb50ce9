import { type AnyOrama, create, insert, remove, search } from '@orama/orama';
import { ENGLISH_STOP_WORDS } from './stop-words.js';
import type { IndexedChunk, IndexScope, SearchHit, SearchIndex, SearchRequest } from './types.js';

interface Partition {
  scope: IndexScope;
  dimensions: number;
  db: AnyOrama;
  documents: number;
}

interface Placed {
  partition: string;
  chunkIds: string[];
}

const partitionKey = (scope: IndexScope) => `${scope.principal}\u0000${scope.collection}`;

/**
 * Orama in process: one database per (principal, collection), so no query can reach another
 * principal's chunks and each collection keeps one vector dimension. Orama's insert, remove and
 * search are synchronous with its default components, so a replace (remove then insert, with no
 * await between) is atomic for every search in this process.
 */
export class OramaSearchIndex implements SearchIndex {
  private readonly partitions = new Map<string, Partition>();
  private readonly placed = new Map<string, Placed>();
  private readonly documentOf = new Map<string, string>();

  async replaceDocument(
    scope: IndexScope,
    documentId: string,
    chunks: readonly IndexedChunk[],
  ): Promise<void> {
    const dimensions = chunks[0]?.embedding.length ?? 0;
    const key = partitionKey(scope);
    this.removeNow(documentId);
    if (chunks.length === 0) return;
    let partition = this.partitions.get(key);
    // The store refuses a second model in a collection; an emptied one is dropped above.
    if (partition && partition.dimensions !== dimensions) {
      throw new Error(`collection "${scope.collection}" holds ${partition.dimensions}-d vectors`);
    }
    if (!partition) {
      partition = {
        scope: { ...scope },
        dimensions,
        db: create({
          schema: { text: 'string', embedding: `vector[${dimensions}]` } as const,
          components: { tokenizer: { stopWords: [...ENGLISH_STOP_WORDS] } },
        }),
        documents: 0,
      };
      this.partitions.set(key, partition);
    }
    for (const chunk of chunks) {
      insert(partition.db, { id: chunk.id, text: chunk.text, embedding: chunk.embedding });
      this.documentOf.set(chunk.id, documentId);
    }
    partition.documents += 1;
    this.placed.set(documentId, { partition: key, chunkIds: chunks.map((chunk) => chunk.id) });
  }

  async removeDocument(documentId: string): Promise<void> {
    this.removeNow(documentId);
  }

  async search(request: SearchRequest): Promise<{ text: SearchHit[]; vector: SearchHit[] }> {
    const partitions = [...this.partitions.values()].filter(
      (partition) =>
        partition.scope.principal === request.principal &&
        (request.collections === undefined ||
          request.collections.includes(partition.scope.collection)),
    );
    const text: SearchHit[] = [];
    const vector: SearchHit[] = [];
    for (const partition of partitions) {
      if (request.text.trim() !== '') {
        const found = search(partition.db, {
          term: request.text,
          properties: ['text'],
          limit: request.limit,
        }) as Awaited<ReturnType<typeof search>>;
        text.push(...found.hits.map((hit) => this.hitOf(partition, hit)));
      }
      const wanted = request.vector;
      if (
        wanted &&
        wanted.value.length === partition.dimensions &&
        wanted.collections.includes(partition.scope.collection)
      ) {
        const found = search(partition.db, {
          mode: 'vector',
          vector: { value: wanted.value, property: 'embedding' },
          similarity: 0,
          limit: request.limit,
        }) as Awaited<ReturnType<typeof search>>;
        vector.push(...found.hits.map((hit) => this.hitOf(partition, hit)));
      }
    }
    const best = (hits: SearchHit[]) =>
      hits
        .sort((a, b) => b.score - a.score || a.chunkId.localeCompare(b.chunkId))
        .slice(0, request.limit);
    return { text: best(text), vector: best(vector) };
  }

  documentIds(): string[] {
    return [...this.placed.keys()];
  }

  private hitOf(
    partition: Partition,
    hit: { id: string; score: number; document: unknown },
  ): SearchHit {
    return {
      chunkId: hit.id,
      documentId: this.documentOf.get(hit.id) ?? '',
      collection: partition.scope.collection,
      text: (hit.document as { text: string }).text,
      score: hit.score,
    };
  }

  private removeNow(documentId: string): void {
    const placed = this.placed.get(documentId);
    if (!placed) return;
    const partition = this.partitions.get(placed.partition);
    if (partition) {
      for (const chunkId of placed.chunkIds) {
        remove(partition.db, chunkId);
        this.documentOf.delete(chunkId);
      }
      partition.documents -= 1;
      if (partition.documents <= 0) this.partitions.delete(placed.partition);
    }
    this.placed.delete(documentId);
  }
}
