/**
 * Wraps a generator so that `return()` (a client unsubscribing) interrupts it even while it is
 * suspended in an `await`: the signal wakes the wait, the generator runs its `finally` and ends.
 * A plain async generator would only see `return()` at its next `yield`.
 */
export function abortableGenerator<T>(
  run: (signal: AbortSignal) => AsyncGenerator<T, void, undefined>,
): AsyncGenerator<T, void, undefined> {
  const controller = new AbortController();
  const generator = run(controller.signal);
  const wrapper: AsyncGenerator<T, void, undefined> = {
    next: () => generator.next(),
    return: (value) => {
      controller.abort();
      return generator.return(value);
    },
    throw: (error) => {
      controller.abort();
      return generator.throw(error);
    },
    [Symbol.asyncIterator]: () => wrapper,
  };
  return wrapper;
}

/**
 * Resolves true when woken, false after `timeoutMs` without a ring, and true at once when any
 * of `signals` aborts. One timer (refreshed) and one listener per signal serve every wait: a
 * reader waits once per event, so a promise, a timer and listeners per wait were a measurable
 * share of delivering it. (Not AbortSignal.any: on Node 20 a long-lived source signal keeps every
 * composite made from it alive, about 1 KB per subscription.)
 */
export class Doorbell {
  private wake: ((woken: boolean) => void) | undefined;
  private rung = false;
  private timer: NodeJS.Timeout | undefined;
  private readonly onAbort = () => this.settle(true);

  constructor(
    private readonly timeoutMs: number,
    private readonly signals: readonly AbortSignal[],
  ) {
    for (const signal of signals) signal.addEventListener('abort', this.onAbort);
  }

  ring(): void {
    this.rung = true;
    this.settle(true);
  }

  wait(): Promise<boolean> {
    if (this.rung || this.signals.some((signal) => signal.aborted)) {
      this.rung = false;
      return Promise.resolve(true);
    }
    if (this.timer) this.timer.refresh();
    else this.timer = setTimeout(() => this.settle(false), this.timeoutMs);
    return new Promise((resolve) => {
      this.wake = resolve;
    });
  }

  /** Waits `ms`, or less when a signal aborts; rings in the meantime are kept for `wait`. */
  sleep(ms: number): Promise<void> {
    if (this.signals.some((signal) => signal.aborted)) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        for (const signal of this.signals) signal.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      for (const signal of this.signals) signal.addEventListener('abort', done, { once: true });
    });
  }

  close(): void {
    clearTimeout(this.timer);
    for (const signal of this.signals) signal.removeEventListener('abort', this.onAbort);
  }

  private settle(woken: boolean): void {
    const wake = this.wake;
    if (!wake) return;
    this.wake = undefined;
    this.rung = false;
    wake(woken);
  }
}
