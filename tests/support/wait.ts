import { setTimeout as delay } from 'node:timers/promises';

/**
 * Waits until `condition` holds, checking every `intervalMs`, and fails after `timeoutMs`. For
 * state that announces no event of its own (a server-side counter, a TTL expiry).
 */
export async function until(
  condition: () => boolean | Promise<boolean>,
  { timeoutMs = 10_000, intervalMs = 5, what = 'condition' } = {},
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await delay(intervalMs);
  }
}
