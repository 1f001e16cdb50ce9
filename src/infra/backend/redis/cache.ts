import type { Redis } from 'ioredis';
import { assertPlainCacheName, type CacheScopeStats, type ResultCache } from '../cache.js';
import { evalScript, type Guard } from './connection.js';
import type { RedisKeys } from './keys.js';

/** KEYS[1] = the entry, KEYS[2] = the stats hash; ARGV = scope. Counts the lookup. */
const GET_SCRIPT = `
local value = redis.call('GET', KEYS[1])
if value then
  redis.call('HINCRBY', KEYS[2], ARGV[1] .. '|hits', 1)
else
  redis.call('HINCRBY', KEYS[2], ARGV[1] .. '|misses', 1)
end
return value`;

/**
 * KEYS[1] = the entry, KEYS[2] = the scope's index; ARGV = value, ttl ms, now ms, entry key.
 * The index forgets what has expired and lives as long as its longest entry.
 */
const SET_SCRIPT = `
local ttl = tonumber(ARGV[2])
local now = tonumber(ARGV[3])
redis.call('SET', KEYS[1], ARGV[1], 'PX', ttl)
redis.call('ZADD', KEYS[2], now + ttl, ARGV[4])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
if redis.call('PTTL', KEYS[2]) < ttl then redis.call('PEXPIRE', KEYS[2], ttl) end
return 1`;

/**
 * KEYS[1] = the scope's index; ARGV = the prefix its entry keys start with. Deletes every entry
 * the index names and the index; returns how many entries still existed.
 */
const INVALIDATE_SCRIPT = `
local members = redis.call('ZRANGE', KEYS[1], 0, -1)
local removed = 0
for _, member in ipairs(members) do
  removed = removed + redis.call('DEL', ARGV[1] .. member)
end
redis.call('DEL', KEYS[1])
return removed`;

/** The shared cache: every instance reads and counts the same entries. */
export class RedisResultCache implements ResultCache {
  constructor(
    private readonly redis: Redis,
    private readonly keys: RedisKeys,
    private readonly guarded: Guard,
    private readonly now: () => number = Date.now,
  ) {}

  get(scope: string, key: string): Promise<string | null> {
    assertPlainCacheName(scope);
    assertPlainCacheName(key);
    return this.guarded(async () => {
      const value = await evalScript(
        this.redis,
        GET_SCRIPT,
        2,
        this.keys.cacheEntry(scope, key),
        this.keys.cacheStats,
        scope,
      );
      return typeof value === 'string' ? value : null;
    });
  }

  async set(scope: string, key: string, value: string, ttlMs: number): Promise<void> {
    assertPlainCacheName(scope);
    assertPlainCacheName(key);
    if (ttlMs <= 0) return;
    await this.guarded(() =>
      evalScript(
        this.redis,
        SET_SCRIPT,
        2,
        this.keys.cacheEntry(scope, key),
        this.keys.cacheIndex(scope),
        value,
        Math.ceil(ttlMs),
        this.now(),
        key,
      ),
    );
  }

  async invalidate(scopes: readonly string[]): Promise<number> {
    let removed = 0;
    for (const scope of scopes) {
      assertPlainCacheName(scope);
      const count = await this.guarded(() =>
        evalScript(
          this.redis,
          INVALIDATE_SCRIPT,
          1,
          this.keys.cacheIndex(scope),
          this.keys.cacheEntry(scope, ''),
        ),
      );
      removed += Number(count);
    }
    return removed;
  }

  stats(scopes: readonly string[]): Promise<CacheScopeStats[]> {
    for (const scope of scopes) assertPlainCacheName(scope);
    if (scopes.length === 0) return Promise.resolve([]);
    return this.guarded(async () => {
      const now = this.now();
      const pipeline = this.redis.pipeline();
      pipeline.hmget(
        this.keys.cacheStats,
        ...scopes.flatMap((scope) => [`${scope}|hits`, `${scope}|misses`]),
      );
      for (const scope of scopes) pipeline.zcount(this.keys.cacheIndex(scope), `(${now}`, '+inf');
      const replies = (await pipeline.exec()) ?? [];
      for (const [error] of replies) if (error) throw error;
      const counts = (replies[0]?.[1] ?? []) as (string | null)[];
      return scopes.map((scope, index) => ({
        scope,
        hits: Number(counts[index * 2] ?? 0),
        misses: Number(counts[index * 2 + 1] ?? 0),
        entries: Number(replies[index + 1]?.[1] ?? 0),
      }));
    });
  }
}
