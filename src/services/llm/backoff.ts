import type { RetrySettings } from '../../config.js';

/**
 * Exponential backoff with full jitter (a random wait between 0 and base·2^attempt, capped), or
 * what the upstream asked for in Retry-After when that is longer, up to `retryAfterCapMs`.
 */
export function retryDelayMs(
  attempt: number,
  retry: RetrySettings,
  retryAfterMs: number | undefined,
  random: () => number = Math.random,
): number {
  const ceiling = Math.min(retry.maxDelayMs, retry.baseDelayMs * 2 ** attempt);
  const jittered = random() * ceiling;
  if (retryAfterMs === undefined) return jittered;
  return Math.max(jittered, Math.min(retryAfterMs, retry.retryAfterCapMs));
}
