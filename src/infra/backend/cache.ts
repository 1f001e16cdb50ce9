/**
 * A small result cache: string values under a key within a scope, each with its own lifetime,
 * with hit and miss counts per scope. Scopes are a bounded set chosen by the caller (the text
 * operations use one per operation), so a whole scope can be counted and invalidated.
 */

export interface CacheScopeStats {
  scope: string;
  hits: number;
  misses: number;
  /** Live entries (expired ones are not counted). */
  entries: number;
}

export interface ResultCache {
  /** The value, or null; counts a hit or a miss for the scope. */
  get(scope: string, key: string): Promise<string | null>;
  set(scope: string, key: string, value: string, ttlMs: number): Promise<void>;
  /** Removes every entry of these scopes; returns how many live entries were removed. */
  invalidate(scopes: readonly string[]): Promise<number>;
  /** Counts since the cache was created (memory) or first used (redis), per scope. */
  stats(scopes: readonly string[]): Promise<CacheScopeStats[]>;
}

/** Scopes and keys become Redis keys: only plain characters, checked where they enter. */
const PLAIN = /^[\w:.-]{1,128}$/;

export function assertPlainCacheName(name: string): void {
  if (!PLAIN.test(name)) throw new Error('cache scopes and keys are letters, digits and _ : . -');
}
