/**
 * Wall-clock milliseconds with sub-millisecond precision. Every bench process derives it from
 * the same system clock, so stamps taken in one process (the upstream's send time) can be
 * subtracted from stamps taken in another (the client's receipt time).
 */
export const wallClockMs = (): number => performance.timeOrigin + performance.now();

export const sleep = (ms: number): Promise<void> =>
  new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));

/**
 * Asks `done` every `intervalMs` until it holds; past `timeoutMs` fails with `failure()` (which
 * can tell what was seen last).
 */
export async function pollUntil(
  done: () => Promise<boolean>,
  failure: () => string,
  timeoutMs: number,
  intervalMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await done())) {
    if (Date.now() > deadline) throw new Error(failure());
    await sleep(intervalMs);
  }
}
