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
  };
}

export type RedisKeys = ReturnType<typeof redisKeys>;
