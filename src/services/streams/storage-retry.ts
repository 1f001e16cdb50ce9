import { setTimeout as sleep } from 'node:timers/promises';
import { Unavailable } from '../../errors.js';
import type { Logger } from '../../infra/logger.js';

const FIRST_DELAY_MS = 200;
const MAX_DELAY_MS = 2_000;

/**
 * Runs `store` until it succeeds, waiting out a storage outage with capped backoff: a finished
 * answer is never dropped because Redis was away. Only an outage is retried; any other error,
 * or `giveUp` aborting (shutdown grace spent), ends the wait.
 */
export async function retryUntilStored(
  store: () => Promise<void>,
  giveUp: AbortSignal,
  log: Logger,
): Promise<void> {
  for (let delay = FIRST_DELAY_MS; ; delay = Math.min(delay * 2, MAX_DELAY_MS)) {
    try {
      await store();
      return;
    } catch (error) {
      if (!(error instanceof Unavailable) || giveUp.aborted) throw error;
      log.warn({ retryInMs: delay }, 'storage unavailable; keeping the answer until it returns');
      try {
        await sleep(delay, undefined, { signal: giveUp });
      } catch {
        throw error;
      }
    }
  }
}
