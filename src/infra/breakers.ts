import CircuitBreaker from 'opossum';
import type { BreakerConfig, BreakerKind } from '../config.js';
import type { BreakerSnapshot, BreakerState } from '../model.js';
import type { Logger } from './logger.js';
import { DeadlineExceeded, withLoopFairDeadline } from './loop-fair-deadline.js';

export type { BreakerSnapshot, BreakerState };

/** Thrown instead of calling the upstream while a breaker is open. */
export class BreakerOpenError extends Error {
  override name = 'BreakerOpenError';

  constructor(readonly breaker: string) {
    super(`The circuit breaker "${breaker}" is open.`);
  }
}

export interface BreakerOptions {
  /** Which settings apply: model endpoints and Redis fail differently. */
  kind: BreakerKind;
  /**
   * Time calls out (after the preset's `timeoutMs` of the event loop's time: see
   * loop-fair-deadline.ts). Off for calls that run their own timers and abort themselves: a
   * timeout only stops waiting, it cannot stop the call.
   */
  timeout: boolean;
  /** Errors that say nothing about the upstream's health (bad input, cancellation) return false. */
  isOutage: (error: unknown) => boolean;
}

type Call = () => Promise<unknown>;

/**
 * One opossum breaker per upstream. Each call passes its own thunk (and so its own
 * AbortController): opossum's shared abortController would abort every concurrent call.
 * No `capacity` is set, since capacity rejections count as failures and would open it.
 */
export class Breaker {
  constructor(
    private readonly circuit: CircuitBreaker<[Call], unknown>,
    /** Set when calls are timed out here (opossum's own timeout is a plain timer). */
    private readonly deadlineMs?: number,
  ) {}

  get name(): string {
    return this.circuit.name;
  }

  get state(): BreakerState {
    if (this.circuit.opened) return 'OPEN';
    return this.circuit.halfOpen ? 'HALF_OPEN' : 'CLOSED';
  }

  /** True when a call now would be refused without reaching the upstream. */
  get refusing(): boolean {
    return this.circuit.opened;
  }

  async fire<T>(call: () => Promise<T>): Promise<T> {
    const { deadlineMs } = this;
    try {
      if (deadlineMs === undefined) return (await this.circuit.fire(call)) as T;
      return (await this.circuit.fire(() => this.timed(call, deadlineMs))) as T;
    } catch (error) {
      if ((error as { code?: string }).code === 'EOPENBREAKER')
        throw new BreakerOpenError(this.name);
      throw error;
    }
  }

  /** Counted in the breaker's `timeouts` as opossum counts its own, and as a failure. */
  private timed<T>(call: () => Promise<T>, deadlineMs: number): Promise<T> {
    return withLoopFairDeadline(call(), deadlineMs).catch((error: unknown) => {
      if (error instanceof DeadlineExceeded) this.circuit.emit('timeout', error, deadlineMs, []);
      throw error;
    });
  }

  /** Counts a failure seen after the call had succeeded (a stream that broke midway). */
  recordFailure(error: unknown): void {
    this.circuit.fire(() => Promise.reject(error)).catch(() => {});
  }

  reset(): void {
    this.circuit.close();
  }

  /** Closes it only when it is not already closed (no "closed" event for nothing). */
  closeIfOpen(): void {
    if (this.state !== 'CLOSED') this.circuit.close();
  }

  snapshot(): BreakerSnapshot {
    const stats = this.circuit.stats;
    return {
      name: this.name,
      state: this.state,
      fires: stats.fires,
      successes: stats.successes,
      failures: stats.failures,
      rejects: stats.rejects,
      timeouts: stats.timeouts,
      latencyMeanMs: stats.latencyMean,
    };
  }

  shutdown(): void {
    this.circuit.shutdown();
  }
}

/** Every breaker of the process, by name, built from one preset; listed by health and admin. */
export class BreakerRegistry {
  private readonly breakers = new Map<string, Breaker>();

  private readonly config: BreakerConfig;
  private readonly log: Logger;

  constructor(parts: { config: BreakerConfig; log: Logger }) {
    this.config = parts.config;
    this.log = parts.log;
  }

  create(name: string, options: BreakerOptions): Breaker {
    const existing = this.breakers.get(name);
    if (existing) return existing;
    const settings = this.config[options.kind];
    const circuit = new CircuitBreaker<[Call], unknown>((call) => call(), {
      name,
      timeout: false,
      errorThresholdPercentage: settings.errorThresholdPercentage,
      volumeThreshold: settings.volumeThreshold,
      resetTimeout: settings.resetTimeoutMs,
      rollingCountTimeout: settings.rollingWindowMs,
      rollingCountBuckets: 10,
      errorFilter: (error: unknown) => !options.isOutage(error),
    });
    // opossum only knows a percentage; a count of failures in the window opens it too.
    circuit.on('failure', () => {
      if (!circuit.opened && circuit.stats.failures >= settings.failureThreshold) circuit.open();
    });
    circuit.on('open', () => this.log.warn({ breaker: name }, 'circuit breaker opened'));
    circuit.on('halfOpen', () => this.log.info({ breaker: name }, 'circuit breaker half-open'));
    circuit.on('close', () => this.log.info({ breaker: name }, 'circuit breaker closed'));
    const breaker = new Breaker(circuit, options.timeout ? settings.timeoutMs : undefined);
    this.breakers.set(name, breaker);
    return breaker;
  }

  list(): BreakerSnapshot[] {
    return [...this.breakers.values()].map((breaker) => breaker.snapshot());
  }

  /** Closes the named breaker; false when there is none by that name. */
  reset(name: string): boolean {
    const breaker = this.breakers.get(name);
    breaker?.reset();
    return breaker !== undefined;
  }

  shutdown(): void {
    for (const breaker of this.breakers.values()) breaker.shutdown();
  }
}
