/**
 * The Redis key layout, in one place (documented in the README). Every key starts with the
 * configured prefix so several deployments can share one Redis.
 */
export function redisKeys(prefix: string) {
  return {
    /** STRING: the SessionRecord as JSON. */
    session: (sessionId: string) => `${prefix}session:${sessionId}`,
    /** ZSET: a principal's session ids, scored by creation order (newest = highest). */
    principalSessions: (principal: string) => `${prefix}principal:${principal}:sessions`,
    /** STRING counter: the next creation-order score. */
    sessionOrder: `${prefix}counter:session-order`,
    /** LIST: a session's message ids, oldest first. */
    sessionMessages: (sessionId: string) => `${prefix}session:${sessionId}:messages`,
    /** STRING with PX: the id of the assistant message generating in the session (a lease). */
    sessionClaim: (sessionId: string) => `${prefix}session:${sessionId}:generation`,
    /** ZSET: messages being generated, scored by when their instance's lease ends (epoch ms). */
    generationLeases: `${prefix}generations`,
    /** STRING: the MessageRecord as JSON. */
    message: (messageId: string) => `${prefix}message:${messageId}`,
    /** STREAM with TTL: a message's events; entry id `<seq>-0`, field `e` = event JSON. */
    eventLog: (messageId: string) => `${prefix}message:${messageId}:events`,
    /** PUB/SUB channel: the doorbell for new events of one message. */
    eventChannel: (messageId: string) => `${prefix}events:${messageId}`,
    /**
     * HASH with TTL: a principal's ledger (p, pt: point bucket and when it was last counted;
     * tu, tw: LLM tokens used in the window that started at tw). `principal` is an API key name
     * or `ip:<address>` for anonymous callers.
     */
    ledger: (principal: string) => `${prefix}ledger:${principal}`,
    /** ZSET with TTL: a principal's answers streaming now, scored by when their lease ends. */
    ledgerGenerations: (principal: string) => `${prefix}ledger:${principal}:generations`,
    /** PUB/SUB channel: cancel requests, heard by every instance. */
    cancelChannel: `${prefix}control:cancel`,

    /*
     * Retrieval documents. A commit or delete touches every key of one document in one Lua
     * script, which also appends to the change feed; every instance's search index follows the
     * feed (and reads everything at start).
     */
    /** STRING: the DocumentRecord as JSON. */
    document: (documentId: string) => `${prefix}doc:${documentId}`,
    /** STRING: the document's chunks as JSON [{ id, text, e }], e = float32 embedding, base64. */
    documentChunks: (documentId: string) => `${prefix}doc:${documentId}:chunks`,
    /** ZSET: a principal's document ids, scored by creation order (newest = highest). */
    principalDocuments: (principal: string) => `${prefix}principal:${principal}:docs`,
    /** ZSET: the same, for one collection. */
    collectionDocuments: (principal: string, collection: string) =>
      `${prefix}principal:${principal}:collection:${collection}:docs`,
    /** HASH: `<collection>/<sourceId>` → the document id that source is stored as. */
    documentSources: (principal: string) => `${prefix}principal:${principal}:doc-sources`,
    /** HASH: collection → JSON { model, dimensions } of its embeddings (one model per collection). */
    collectionEmbeddings: (principal: string) => `${prefix}principal:${principal}:collections`,
    /** HASH: collection → how many documents it holds (its embedding entry goes with the last). */
    collectionSizes: (principal: string) => `${prefix}principal:${principal}:collection-sizes`,
    /** SET: every document id (what a new instance builds its index from). */
    allDocuments: `${prefix}docs`,
    /** STRING counter: the next document creation-order score. */
    documentOrder: `${prefix}counter:doc-order`,
    /** STREAM, MAXLEN ~10000: the change feed; field `d` = the id of a document that changed. */
    documentChanges: `${prefix}docs:changes`,
    /** PUB/SUB channel: the doorbell for new feed entries (readers also poll every second). */
    documentChangesChannel: `${prefix}docs:changed`,

    /*
     * The result cache (text operations): one scope per operation, e.g. `text:SUMMARIZE`.
     */
    /** STRING with PX: one cached result; `key` is a hex digest. */
    cacheEntry: (scope: string, key: string) => `${prefix}cache:${scope}:${key}`,
    /** ZSET with TTL: a scope's entry keys, scored by when they expire (epoch ms). */
    cacheIndex: (scope: string) => `${prefix}cache-index:${scope}`,
    /** HASH: hit and miss counts, fields `<scope>|hits` and `<scope>|misses`. */
    cacheStats: `${prefix}cache-stats`,
    /** STREAM, MAXLEN ~10000: contact submissions; field `c` = the ContactRecord as JSON. */
    contacts: `${prefix}contacts`,
  };
}

export type RedisKeys = ReturnType<typeof redisKeys>;
