import { setTimeout as sleep } from 'node:timers/promises';
import { Unavailable } from '../../errors.js';
import type { Logger } from '../../infra/logger.js';

const FIRST_DELAY_MS = 200;
const MAX_DELAY_MS = 2_000;

/**
 * Calls `call` until it succeeds, waiting out a storage outage with capped backoff. Only an
 * outage is retried; any other error, `giveUp` aborting, or `mayWait` refusing the next delay
 * ends the wait with the last error.
 */
async function throughOutage<T>(
  call: () => Promise<T>,
  giveUp: AbortSignal,
  mayWait: (delayMs: number) => boolean,
): Promise<T> {
  for (let delay = FIRST_DELAY_MS; ; delay = Math.min(delay * 2, MAX_DELAY_MS)) {
    try {
      return await call();
    } catch (error) {
      if (!(error instanceof Unavailable) || giveUp.aborted || !mayWait(delay)) throw error;
      try {
        await sleep(delay, undefined, { signal: giveUp });
      } catch {
        throw error;
      }
    }
  }
}

/**
 * Runs `store` until it succeeds, waiting out a storage outage: a finished answer is never
 * dropped because Redis was away. `giveUp` aborting (shutdown grace spent) ends the wait.
 */
export function retryUntilStored(
  store: () => Promise<void>,
  giveUp: AbortSignal,
  log: Logger,
): Promise<void> {
  return throughOutage(store, giveUp, (retryInMs) => {
    log.warn({ retryInMs }, 'storage unavailable; keeping the answer until it returns');
    return true;
  });
}

/**
 * Runs `read` until it answers, waiting out a storage outage for at most `maxOutageMs` (as a
 * stream reader waits one out for its log), or until `giveUp` aborts.
 */
export function readThroughOutage<T>(
  read: () => Promise<T>,
  maxOutageMs: number,
  giveUp: AbortSignal,
): Promise<T> {
  const since = Date.now();
  return throughOutage(read, giveUp, (delayMs) => Date.now() - since + delayMs <= maxOutageMs);
}
