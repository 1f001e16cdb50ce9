import type { Redis } from 'ioredis';
import type { MessageRecord, SessionRecord } from '../../../model.js';
import type { MessagePageRequest, SessionListEntry, Store } from '../types.js';
import { evalScript, type Guard } from './connection.js';
import type { RedisKeys } from './keys.js';

const CLAIM_SCRIPT = `
local current = redis.call('GET', KEYS[1])
if (not current) or current == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return false
end
return current`;

const RENEW_SCRIPT = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0`;

const RELEASE_SCRIPT = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`;

const TAKE_EXPIRED_SCRIPT = `
local expiresAt = redis.call('ZSCORE', KEYS[1], ARGV[1])
if expiresAt and tonumber(expiresAt) < tonumber(ARGV[2]) then
  return redis.call('ZREM', KEYS[1], ARGV[1])
end
return 0`;

/**
 * A page of a session's message records, read in a script: the ids in `list` from `first`, at
 * most `limit`, and their records (message keys are named by the ids the list holds, so they
 * cannot be passed as KEYS). The records' JSON, false where one is gone.
 */
const MESSAGE_PAGE_LUA = `
local function messagePage(list, first, limit, prefix)
  if limit <= 0 then return {} end
  local ids = redis.call('LRANGE', list, first, first + limit - 1)
  if #ids == 0 then return {} end
  for index, id in ipairs(ids) do ids[index] = prefix .. id end
  return redis.call('MGET', unpack(ids))
end`;

/** KEYS[1] = the session's message id list, ARGV = offset, limit, the message key prefix. */
const MESSAGE_PAGE_SCRIPT = `${MESSAGE_PAGE_LUA}
return messagePage(KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3])`;

/**
 * The session's own record ahead of its page: KEYS[1] = session, KEYS[2] = its message list,
 * ARGV as MESSAGE_PAGE_SCRIPT. The reply is the session (nil when there is none, and then
 * nothing else) and the page.
 */
const SESSION_WITH_PAGE_SCRIPT = `${MESSAGE_PAGE_LUA}
local session = redis.call('GET', KEYS[1])
if not session then return {session} end
local reply = {session}
for index, record in ipairs(messagePage(KEYS[2], tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3])) do
  reply[index + 1] = record
end
return reply`;

function parseAll<T>(values: readonly (string | null)[]): (T | null)[] {
  return values.map((value) => (value === null ? null : (JSON.parse(value) as T)));
}

/** A page's records, leaving out those that are gone. */
function parseMessages(values: readonly (string | null)[]): MessageRecord[] {
  return parseAll<MessageRecord>(values).filter(
    (message): message is MessageRecord => message !== null,
  );
}

/** Pipeline results are [error, value] pairs; any error fails the whole read. */
function pipelineValues(results: [Error | null, unknown][] | null): unknown[] {
  if (!results) throw new Error('pipeline aborted');
  return results.map(([error, value]) => {
    if (error) throw error;
    return value;
  });
}

export class RedisStore implements Store {
  constructor(
    private readonly redis: Redis,
    private readonly keys: RedisKeys,
    private readonly guarded: Guard,
  ) {}

  createSession(session: SessionRecord): Promise<void> {
    return this.guarded(async () => {
      const order = await this.redis.incr(this.keys.sessionOrder);
      await this.redis
        .multi()
        .set(this.keys.session(session.id), JSON.stringify(session))
        .zadd(this.keys.principalSessions(session.principal), order, session.id)
        .exec();
    });
  }

  saveSession(session: SessionRecord): Promise<void> {
    return this.guarded(async () => {
      await this.redis.set(this.keys.session(session.id), JSON.stringify(session), 'XX');
    });
  }

  getSessions(ids: readonly string[]): Promise<(SessionRecord | null)[]> {
    if (ids.length === 0) return Promise.resolve([]);
    return this.guarded(() => this.redis.mget(ids.map((id) => this.keys.session(id)))).then(
      parseAll<SessionRecord>,
    );
  }

  listSessions(
    principal: string,
    page: { beforeKey: number | undefined; limit: number },
  ): Promise<SessionListEntry[]> {
    return this.guarded(async () => {
      const max = page.beforeKey === undefined ? '+inf' : `(${page.beforeKey}`;
      const flat = await this.redis.zrevrangebyscore(
        this.keys.principalSessions(principal),
        max,
        '-inf',
        'WITHSCORES',
        'LIMIT',
        0,
        page.limit,
      );
      const entries: SessionListEntry[] = [];
      for (let index = 0; index < flat.length; index += 2) {
        entries.push({ id: flat[index]!, key: Number(flat[index + 1]) });
      }
      return entries;
    });
  }

  async deleteSession(sessionId: string): Promise<string[]> {
    const [sessionJson, messageIds] = await this.guarded(
      async () =>
        pipelineValues(
          await this.redis
            .pipeline()
            .get(this.keys.session(sessionId))
            .lrange(this.keys.sessionMessages(sessionId), 0, -1)
            .exec(),
        ) as [string | null, string[]],
    );
    if (sessionJson === null) return [];
    const session = JSON.parse(sessionJson) as SessionRecord;
    await this.guarded(() =>
      this.redis
        .multi()
        .del(
          this.keys.session(sessionId),
          this.keys.sessionMessages(sessionId),
          this.keys.sessionClaim(sessionId),
          ...messageIds.map((id) => this.keys.message(id)),
        )
        .zrem(this.keys.principalSessions(session.principal), sessionId)
        .exec(),
    );
    return messageIds;
  }

  addMessage(message: MessageRecord): Promise<void> {
    return this.guarded(async () => {
      await this.redis
        .multi()
        .set(this.keys.message(message.id), JSON.stringify(message))
        .rpush(this.keys.sessionMessages(message.sessionId), message.id)
        .exec();
    });
  }

  saveMessage(message: MessageRecord): Promise<void> {
    return this.guarded(async () => {
      await this.redis.set(this.keys.message(message.id), JSON.stringify(message), 'XX');
    });
  }

  getMessages(ids: readonly string[]): Promise<(MessageRecord | null)[]> {
    if (ids.length === 0) return Promise.resolve([]);
    return this.guarded(() => this.redis.mget(ids.map((id) => this.keys.message(id)))).then(
      parseAll<MessageRecord>,
    );
  }

  countMessages(sessionIds: readonly string[]): Promise<number[]> {
    if (sessionIds.length === 0) return Promise.resolve([]);
    return this.guarded(async () => {
      const pipeline = this.redis.pipeline();
      for (const id of sessionIds) pipeline.llen(this.keys.sessionMessages(id));
      return pipelineValues(await pipeline.exec()) as number[];
    });
  }

  listMessageIds(pages: readonly MessagePageRequest[]): Promise<string[][]> {
    if (pages.length === 0) return Promise.resolve([]);
    return this.guarded(async () => {
      const pipeline = this.redis.pipeline();
      for (const { sessionId, offset, limit } of pages) {
        if (limit <= 0) pipeline.echo('empty');
        else pipeline.lrange(this.keys.sessionMessages(sessionId), offset, offset + limit - 1);
      }
      const values = pipelineValues(await pipeline.exec());
      return values.map((value) => (Array.isArray(value) ? (value as string[]) : []));
    });
  }

  listMessages(pages: readonly MessagePageRequest[]): Promise<MessageRecord[][]> {
    if (pages.length === 0) return Promise.resolve([]);
    const messagePrefix = this.keys.message('');
    // Sent together: one round trip whatever the number of pages.
    return this.guarded(() =>
      Promise.all(
        pages.map(async ({ sessionId, offset, limit }) => {
          if (limit <= 0) return [];
          const values = (await evalScript(
            this.redis,
            MESSAGE_PAGE_SCRIPT,
            1,
            this.keys.sessionMessages(sessionId),
            offset,
            limit,
            messagePrefix,
          )) as (string | null)[];
          return parseMessages(values);
        }),
      ),
    );
  }

  getSessionWithMessages({
    sessionId,
    offset,
    limit,
  }: MessagePageRequest): Promise<{ session: SessionRecord | null; messages: MessageRecord[] }> {
    return this.guarded(async () => {
      const [session = null, ...messages] = (await evalScript(
        this.redis,
        SESSION_WITH_PAGE_SCRIPT,
        2,
        this.keys.session(sessionId),
        this.keys.sessionMessages(sessionId),
        offset,
        limit,
        this.keys.message(''),
      )) as (string | null)[];
      return {
        session: session === null ? null : (JSON.parse(session) as SessionRecord),
        messages: parseMessages(messages),
      };
    });
  }

  claimSession(sessionId: string, holder: string, ttlMs: number): Promise<string | null> {
    return this.guarded(async () => {
      const current = await evalScript(
        this.redis,
        CLAIM_SCRIPT,
        1,
        this.keys.sessionClaim(sessionId),
        holder,
        ttlMs,
      );
      return typeof current === 'string' ? current : null;
    });
  }

  renewSessionClaim(sessionId: string, holder: string, ttlMs: number): Promise<boolean> {
    return this.guarded(async () => {
      const renewed = await evalScript(
        this.redis,
        RENEW_SCRIPT,
        1,
        this.keys.sessionClaim(sessionId),
        holder,
        ttlMs,
      );
      return renewed === 1;
    });
  }

  releaseSession(sessionId: string, holder: string): Promise<void> {
    return this.guarded(async () => {
      await evalScript(this.redis, RELEASE_SCRIPT, 1, this.keys.sessionClaim(sessionId), holder);
    });
  }

  leaseGeneration(messageId: string, expiresAt: number): Promise<void> {
    return this.guarded(async () => {
      await this.redis.zadd(this.keys.generationLeases, expiresAt, messageId);
    });
  }

  renewGenerationLease(messageId: string, expiresAt: number): Promise<void> {
    return this.guarded(async () => {
      await this.redis.zadd(this.keys.generationLeases, 'XX', expiresAt, messageId);
    });
  }

  endGenerationLease(messageId: string): Promise<void> {
    return this.guarded(async () => {
      await this.redis.zrem(this.keys.generationLeases, messageId);
    });
  }

  expiredGenerations(now: number, limit: number): Promise<string[]> {
    return this.guarded(() =>
      this.redis.zrangebyscore(this.keys.generationLeases, '-inf', `(${now}`, 'LIMIT', 0, limit),
    );
  }

  takeExpiredGeneration(messageId: string, now: number): Promise<boolean> {
    return this.guarded(async () => {
      const removed = await evalScript(
        this.redis,
        TAKE_EXPIRED_SCRIPT,
        1,
        this.keys.generationLeases,
        messageId,
        now,
      );
      return removed === 1;
    });
  }
}
