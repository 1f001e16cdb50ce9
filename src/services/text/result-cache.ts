import { createHash } from 'node:crypto';
import { z } from 'zod';
import type { ResultCache } from '../../infra/backend/cache.js';
import type { Logger } from '../../infra/logger.js';
import {
  SENTIMENT_LABELS,
  TEXT_OPERATIONS,
  type TextAnalysisRecord,
  type TextCacheStats,
  type TextOperation,
} from '../../model.js';
import type { TextTask } from './prompts.js';

/** Bumped when what a cached result means changes: older entries are then simply not found. */
const KEY_VERSION = 1;

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

const scopeOf = (operation: TextOperation) => `text:${operation}`;

/** What a cache entry must hold to be used; anything else is a miss (and is overwritten). */
const storedResult = z.object({
  operation: z.enum(TEXT_OPERATIONS),
  summary: z.string().nullable(),
  sentiment: z.object({ label: z.enum(SENTIMENT_LABELS), confidence: z.number() }).nullable(),
  points: z.array(z.string()).nullable(),
  questions: z.array(z.string()).nullable(),
  answer: z.string().nullable(),
  model: z.string().nullable(),
  usage: z.object({ promptTokens: z.number(), completionTokens: z.number() }).nullable(),
  notice: z.string().nullable(),
});

/**
 * Text-operation results by operation, options (canonical JSON, defaults applied), model and the
 * sha256 of the text and question, for CACHE_TTL_SECONDS. Entries are per principal: a cache
 * shared across principals would tell one whether another had analysed a given text. The cache
 * helps and never decides: a backend failure is logged and counts as a miss.
 */
export class TextResultCache {
  constructor(
    private readonly cache: ResultCache,
    private readonly ttlMs: number,
    private readonly log: Logger,
  ) {}

  get enabled(): boolean {
    return this.ttlMs > 0;
  }

  keyOf(principal: string, model: string, task: TextTask): string {
    const options = task.options;
    // Arrays keep their order: a canonical JSON with no object whose key order could vary.
    return sha256(
      JSON.stringify([
        KEY_VERSION,
        principal,
        task.operation,
        [options.maxWords, options.maxItems, options.language],
        model,
        sha256(task.text),
        task.question === null ? null : sha256(task.question),
      ]),
    );
  }

  async read(operation: TextOperation, key: string): Promise<TextAnalysisRecord | null> {
    if (!this.enabled) return null;
    try {
      const stored = await this.cache.get(scopeOf(operation), key);
      if (stored === null) return null;
      const parsed = storedResult.safeParse(JSON.parse(stored));
      return parsed.success && parsed.data.operation === operation
        ? { ...parsed.data, cached: true }
        : null;
    } catch (error) {
      this.log.warn({ err: error, operation }, 'text cache unreadable; analysing anew');
      return null;
    }
  }

  async write(key: string, result: TextAnalysisRecord): Promise<void> {
    if (!this.enabled) return;
    const { cached: _cached, ...stored } = result;
    try {
      await this.cache.set(scopeOf(result.operation), key, JSON.stringify(stored), this.ttlMs);
    } catch (error) {
      this.log.warn({ err: error, operation: result.operation }, 'text result not cached');
    }
  }

  /** Every entry of one operation, or of all; returns how many live entries went. */
  invalidate(operation: TextOperation | null): Promise<number> {
    const operations = operation ? [operation] : TEXT_OPERATIONS;
    return this.cache.invalidate(operations.map(scopeOf));
  }

  async stats(): Promise<TextCacheStats> {
    const scopes = await this.cache.stats(TEXT_OPERATIONS.map(scopeOf));
    const operations = TEXT_OPERATIONS.map((operation, index) => ({
      operation,
      hits: scopes[index]?.hits ?? 0,
      misses: scopes[index]?.misses ?? 0,
      entries: scopes[index]?.entries ?? 0,
    }));
    const sum = (field: 'hits' | 'misses' | 'entries') =>
      operations.reduce((total, entry) => total + entry[field], 0);
    return { hits: sum('hits'), misses: sum('misses'), entries: sum('entries'), operations };
  }
}
