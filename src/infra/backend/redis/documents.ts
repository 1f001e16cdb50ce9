import type { RedisPubSub } from 'graphql-redis-subscriptions';
import type { Redis } from 'ioredis';
import type { DocumentRecord } from '../../../model.js';
import type {
  CollectionEmbedding,
  CommitOutcome,
  DocumentChange,
  DocumentCommit,
  DocumentListEntry,
  DocumentStore,
  StoredChunk,
  Unwatch,
} from '../types.js';
import { evalScript, type Guard } from './connection.js';
import type { RedisKeys } from './keys.js';

/** The change feed keeps about this many entries; a reader further behind rebuilds. */
const CHANGES_MAX_LENGTH = 10_000;
/** How often a reader looks at the feed without a doorbell (pub/sub is at most once). */
const CHANGES_POLL_MS = 1_000;
const CHANGES_PAGE = 500;

const COMMIT_SCRIPT = `
if ARGV[4] ~= '' then
  local current = redis.call('HGET', KEYS[5], ARGV[4]) or ''
  if current ~= ARGV[5] then return {'conflict'} end
end
local held = redis.call('HGET', KEYS[6], ARGV[6])
if held and held ~= ARGV[7] then return {'embedding-mismatch', held} end
if redis.call('EXISTS', KEYS[1]) == 0 then
  if redis.call('ZCARD', KEYS[3]) >= tonumber(ARGV[8]) then return {'too-many-documents'} end
  local order = redis.call('INCR', KEYS[9])
  redis.call('ZADD', KEYS[3], order, ARGV[1])
  redis.call('ZADD', KEYS[4], order, ARGV[1])
  redis.call('SADD', KEYS[8], ARGV[1])
  redis.call('HSET', KEYS[6], ARGV[6], ARGV[7])
  redis.call('HINCRBY', KEYS[7], ARGV[6], 1)
  if ARGV[4] ~= '' then redis.call('HSET', KEYS[5], ARGV[4], ARGV[1]) end
end
redis.call('SET', KEYS[1], ARGV[2])
redis.call('SET', KEYS[2], ARGV[3])
redis.call('XADD', KEYS[10], 'MAXLEN', '~', ARGV[9], '*', 'd', ARGV[1])
return {'committed'}`;

const DELETE_SCRIPT = `
if redis.call('DEL', KEYS[1]) == 0 then return 0 end
redis.call('DEL', KEYS[2])
redis.call('ZREM', KEYS[3], ARGV[1])
redis.call('ZREM', KEYS[4], ARGV[1])
redis.call('SREM', KEYS[8], ARGV[1])
if ARGV[2] ~= '' and redis.call('HGET', KEYS[5], ARGV[2]) == ARGV[1] then
  redis.call('HDEL', KEYS[5], ARGV[2])
end
if redis.call('HINCRBY', KEYS[7], ARGV[3], -1) <= 0 then
  redis.call('HDEL', KEYS[7], ARGV[3])
  redis.call('HDEL', KEYS[6], ARGV[3])
end
redis.call('XADD', KEYS[10], 'MAXLEN', '~', ARGV[4], '*', 'd', ARGV[1])
return 1`;

/** Embeddings travel as little-endian float32, base64: a quarter of their JSON size. */
const encodeVector = (vector: number[]) =>
  Buffer.from(new Float32Array(vector).buffer).toString('base64');
function decodeVector(encoded: string): number[] {
  const bytes = Buffer.from(encoded, 'base64');
  return Array.from(new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4));
}

const sourceField = (collection: string, sourceId: string | null) =>
  sourceId === null ? '' : `${collection}/${sourceId}`;
const embeddingJson = (embedding: CollectionEmbedding) =>
  JSON.stringify({ model: embedding.model, dimensions: embedding.dimensions });

/** Stream ids `<ms>-<seq>`, compared as numbers. */
function compareStreamIds(a: string, b: string): number {
  const [aMs = 0, aSeq = 0] = a.split('-').map(Number);
  const [bMs = 0, bSeq = 0] = b.split('-').map(Number);
  return aMs === bMs ? aSeq - bSeq : aMs - bMs;
}

export class RedisDocumentStore implements DocumentStore {
  constructor(
    private readonly redis: Redis,
    private readonly pubsub: RedisPubSub,
    private readonly keys: RedisKeys,
    private readonly guarded: Guard,
  ) {}

  findBySource(principal: string, collection: string, sourceId: string) {
    return this.guarded(() =>
      this.redis.hget(this.keys.documentSources(principal), sourceField(collection, sourceId)),
    );
  }

  getDocuments(ids: readonly string[]): Promise<(DocumentRecord | null)[]> {
    if (ids.length === 0) return Promise.resolve([]);
    return this.guarded(async () => {
      const values = await this.redis.mget(...ids.map((id) => this.keys.document(id)));
      return values.map((value) => (value === null ? null : (JSON.parse(value) as DocumentRecord)));
    });
  }

  getChunks(documentId: string): Promise<StoredChunk[] | null> {
    return this.guarded(async () => {
      const value = await this.redis.get(this.keys.documentChunks(documentId));
      if (value === null) return null;
      const stored = JSON.parse(value) as { id: string; text: string; e: string }[];
      return stored.map((chunk) => ({
        id: chunk.id,
        text: chunk.text,
        embedding: decodeVector(chunk.e),
      }));
    });
  }

  commit(commit: DocumentCommit): Promise<CommitOutcome> {
    const { document } = commit;
    const chunks = commit.chunks.map((chunk) => ({
      id: chunk.id,
      text: chunk.text,
      e: encodeVector(chunk.embedding),
    }));
    return this.guarded(async () => {
      const reply = (await evalScript(
        this.redis,
        COMMIT_SCRIPT,
        10,
        ...this.documentKeys(document),
        document.id,
        JSON.stringify(document),
        JSON.stringify(chunks),
        sourceField(document.collection, document.sourceId),
        commit.replaces ?? '',
        document.collection,
        embeddingJson(commit.embedding),
        commit.maxDocumentsPerPrincipal,
        CHANGES_MAX_LENGTH,
      )) as string[];
      const [status, existing] = reply;
      if (status === 'embedding-mismatch') {
        return { status, existing: JSON.parse(existing ?? '{}') as CollectionEmbedding };
      }
      if (status === 'committed') await this.ringDoorbell(document.id);
      return { status } as CommitOutcome;
    });
  }

  delete(document: DocumentRecord): Promise<boolean> {
    return this.guarded(async () => {
      const removed = await evalScript(
        this.redis,
        DELETE_SCRIPT,
        10,
        ...this.documentKeys(document),
        document.id,
        sourceField(document.collection, document.sourceId),
        document.collection,
        CHANGES_MAX_LENGTH,
      );
      if (removed === 1) await this.ringDoorbell(document.id);
      return removed === 1;
    });
  }

  countDocuments(principal: string): Promise<number> {
    return this.guarded(() => this.redis.zcard(this.keys.principalDocuments(principal)));
  }

  collectionEmbedding(principal: string, collection: string) {
    return this.guarded(async () => {
      const held = await this.redis.hget(this.keys.collectionEmbeddings(principal), collection);
      return held === null ? null : (JSON.parse(held) as CollectionEmbedding);
    });
  }

  listDocuments(
    principal: string,
    page: { collection: string | undefined; beforeKey: number | undefined; limit: number },
  ): Promise<DocumentListEntry[]> {
    const key =
      page.collection === undefined
        ? this.keys.principalDocuments(principal)
        : this.keys.collectionDocuments(principal, page.collection);
    const max = page.beforeKey === undefined ? '+inf' : `(${page.beforeKey}`;
    return this.guarded(async () => {
      const flat = await this.redis.zrevrangebyscore(
        key,
        max,
        '-inf',
        'WITHSCORES',
        'LIMIT',
        0,
        page.limit,
      );
      const entries: DocumentListEntry[] = [];
      for (let index = 0; index < flat.length; index += 2) {
        entries.push({ id: flat[index]!, key: Number(flat[index + 1]) });
      }
      return entries;
    });
  }

  async *allDocumentIds(): AsyncIterable<string[]> {
    let cursor = '0';
    do {
      const [next, ids] = await this.guarded(() =>
        this.redis.sscan(this.keys.allDocuments, cursor, 'COUNT', 500),
      );
      cursor = next;
      if (ids.length > 0) yield ids;
    } while (cursor !== '0');
  }

  /**
   * Reads the feed from its current end on: after every doorbell and at least once a second
   * (a doorbell can be lost). A reader whose position was trimmed away reports a gap.
   */
  async watchChanges(
    onChange: (change: DocumentChange) => void,
    onGap: () => void,
  ): Promise<Unwatch> {
    const latest = await this.guarded(() =>
      this.redis.xrevrange(this.keys.documentChanges, '+', '-', 'COUNT', 1),
    );
    let position = latest[0]?.[0] ?? '0-0';
    let reading: Promise<void> | undefined;
    let again = false;
    let stopped = false;
    const readOnce = async () => {
      const oldest = await this.redis.xrange(this.keys.documentChanges, '-', '+', 'COUNT', 1);
      const oldestId = oldest[0]?.[0];
      if (position !== '0-0' && oldestId && compareStreamIds(oldestId, position) > 0) {
        position = (
          await this.redis.xrevrange(this.keys.documentChanges, '+', '-', 'COUNT', 1)
        )[0]![0];
        onGap();
        return;
      }
      for (;;) {
        const entries = await this.redis.xrange(
          this.keys.documentChanges,
          `(${position}`,
          '+',
          'COUNT',
          CHANGES_PAGE,
        );
        for (const [id, fields] of entries) {
          position = id;
          if (!stopped && fields[0] === 'd' && fields[1]) onChange({ documentId: fields[1] });
        }
        if (entries.length < CHANGES_PAGE) return;
      }
    };
    const read = () => {
      if (stopped) return;
      if (reading) {
        again = true;
        return;
      }
      reading = readOnce()
        .catch(() => {})
        .finally(() => {
          reading = undefined;
          if (again) {
            again = false;
            read();
          }
        });
    };
    const subscriptionId = await this.guarded(() =>
      this.pubsub.subscribe<string>(this.keys.documentChangesChannel, read),
    );
    const poll = setInterval(read, CHANGES_POLL_MS);
    poll.unref();
    return async () => {
      stopped = true;
      clearInterval(poll);
      this.pubsub.unsubscribe(subscriptionId);
      await reading;
    };
  }

  private documentKeys(document: DocumentRecord): string[] {
    const { keys } = this;
    return [
      keys.document(document.id),
      keys.documentChunks(document.id),
      keys.principalDocuments(document.principal),
      keys.collectionDocuments(document.principal, document.collection),
      keys.documentSources(document.principal),
      keys.collectionEmbeddings(document.principal),
      keys.collectionSizes(document.principal),
      keys.allDocuments,
      keys.documentOrder,
      keys.documentChanges,
    ];
  }

  /** Only a hint: readers also poll, since pub/sub loses messages in an outage. */
  private async ringDoorbell(documentId: string): Promise<void> {
    await this.redis
      .publish(this.keys.documentChangesChannel, JSON.stringify(documentId))
      .catch(() => {});
  }
}
