/**
 * Wall-clock milliseconds with sub-millisecond precision. Every bench process derives it from
 * the same system clock, so stamps taken in one process (the upstream's send time) can be
 * subtracted from stamps taken in another (the client's receipt time).
 */
export const wallClockMs = (): number => performance.timeOrigin + performance.now();

export const sleep = (ms: number): Promise<void> =>
  new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));
