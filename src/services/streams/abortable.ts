/**
 * What stops a reader, as far as readers use an AbortSignal: an AbortSignal is one, and so is a
 * subscription's own StopSignal.
 */
export interface Stoppable {
  readonly aborted: boolean;
  addEventListener(type: 'abort', listener: StopListener): void;
  removeEventListener(type: 'abort', listener: StopListener): void;
}

/** A function, or an object whose `handleEvent` runs (as EventTarget calls listener objects). */
export type StopListener = (() => void) | { handleEvent(): void };

/**
 * A one-shot stop for one subscription. Not an AbortController: on Node 20 a controller's signal
 * (an EventTarget with two maps and a shape of its own) and its first listener cost about 0.9 KB,
 * held by every idle subscription; this is an object and, once listened to, a small array.
 */
export class StopSignal implements Stoppable {
  aborted = false;
  private listeners: StopListener[] | undefined;

  addEventListener(_type: 'abort', listener: StopListener): void {
    if (this.aborted) return;
    if (this.listeners) this.listeners.push(listener);
    else this.listeners = [listener];
  }

  removeEventListener(_type: 'abort', listener: StopListener): void {
    const index = this.listeners?.indexOf(listener) ?? -1;
    if (index >= 0) this.listeners?.splice(index, 1);
  }

  abort(): void {
    if (this.aborted) return;
    this.aborted = true;
    const listeners = this.listeners;
    this.listeners = undefined;
    for (const listener of listeners ?? []) {
      if (typeof listener === 'function') listener();
      else listener.handleEvent();
    }
  }
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

  constructor(
    private readonly timeoutMs: number,
    private readonly signals: readonly Stoppable[],
  ) {
    // The doorbell is its own listener (handleEvent): no closure per reader.
    for (const signal of signals) signal.addEventListener('abort', this);
  }

  /** A signal aborted. */
  handleEvent(): void {
    this.settle(true);
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
      for (const signal of this.signals) signal.addEventListener('abort', done);
    });
  }

  close(): void {
    clearTimeout(this.timer);
    for (const signal of this.signals) signal.removeEventListener('abort', this);
  }

  private settle(woken: boolean): void {
    const wake = this.wake;
    if (!wake) return;
    this.wake = undefined;
    this.rung = false;
    wake(woken);
  }
}
