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

/** Resolves true when woken, false after `timeoutMs`, and true at once on abort. */
export class Doorbell {
  private pending: (() => void) | undefined;
  private rung = false;

  ring(): void {
    this.rung = true;
    this.pending?.();
  }

  wait(timeoutMs: number, signal: AbortSignal): Promise<boolean> {
    if (this.rung || signal.aborted) {
      this.rung = false;
      return Promise.resolve(true);
    }
    return new Promise((resolve) => {
      const finish = (woken: boolean) => {
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
        this.pending = undefined;
        this.rung = false;
        resolve(woken);
      };
      const onAbort = () => finish(true);
      const timer = setTimeout(() => finish(false), timeoutMs);
      signal.addEventListener('abort', onAbort, { once: true });
      this.pending = () => finish(true);
    });
  }
}
