import { assertPlainCacheName, type CacheScopeStats, type ResultCache } from './cache.js';

interface Entry {
  scope: string;
  value: string;
  expiresAt: number;
}

/**
 * The embedded cache: one process, at most `maxEntries` entries (the least recently used go
 * first), each dropped once its lifetime is over. Counting and invalidating walk every entry,
 * which the bound keeps cheap.
 */
export class MemoryResultCache implements ResultCache {
  /** In least-recently-used order: a Map keeps insertion order, and a hit re-inserts. */
  private readonly entries = new Map<string, Entry>();
  private readonly counts = new Map<string, { hits: number; misses: number }>();

  constructor(
    private readonly maxEntries: number,
    private readonly now: () => number = Date.now,
  ) {}

  async get(scope: string, key: string): Promise<string | null> {
    const id = entryId(scope, key);
    const entry = this.entries.get(id);
    const counts = this.countsOf(scope);
    this.entries.delete(id);
    if (!entry || entry.expiresAt <= this.now()) {
      counts.misses++;
      return null;
    }
    this.entries.set(id, entry);
    counts.hits++;
    return entry.value;
  }

  async set(scope: string, key: string, value: string, ttlMs: number): Promise<void> {
    assertPlainCacheName(scope);
    assertPlainCacheName(key);
    if (ttlMs <= 0) return;
    const id = entryId(scope, key);
    this.entries.delete(id);
    this.entries.set(id, { scope, value, expiresAt: this.now() + ttlMs });
    for (const oldest of this.entries.keys()) {
      if (this.entries.size <= this.maxEntries) break;
      this.entries.delete(oldest);
    }
  }

  async invalidate(scopes: readonly string[]): Promise<number> {
    const now = this.now();
    let removed = 0;
    for (const [id, entry] of this.entries) {
      if (!scopes.includes(entry.scope)) continue;
      if (entry.expiresAt > now) removed++;
      this.entries.delete(id);
    }
    return removed;
  }

  async stats(scopes: readonly string[]): Promise<CacheScopeStats[]> {
    const now = this.now();
    const live = new Map<string, number>();
    for (const entry of this.entries.values()) {
      if (entry.expiresAt > now) live.set(entry.scope, (live.get(entry.scope) ?? 0) + 1);
    }
    return scopes.map((scope) => ({
      scope,
      ...this.countsOf(scope),
      entries: live.get(scope) ?? 0,
    }));
  }

  private countsOf(scope: string) {
    let counts = this.counts.get(scope);
    if (!counts) {
      counts = { hits: 0, misses: 0 };
      this.counts.set(scope, counts);
    }
    return counts;
  }
}

const entryId = (scope: string, key: string) => `${scope}\u0000${key}`;
