import type { Store } from '../../infra/backend/types.js';
import type { Logger } from '../../infra/logger.js';
import type { AnswerLifecycle } from './answers.js';

const BATCH = 100;

export interface RecoveryOptions {
  store: Store;
  answers: AnswerLifecycle;
  sweepIntervalMs: number;
  log: Logger;
}

/**
 * Finds answers whose generating instance died (its lease lapsed) and has the lifecycle end
 * them INTERRUPTED, so no message stays STREAMING and every subscriber gets its MessageEnd.
 * Every instance sweeps; the atomic take makes exactly one of them do each.
 */
export class GenerationRecovery {
  private timer: NodeJS.Timeout | undefined;
  private sweeping: Promise<number> | undefined;

  constructor(private readonly options: RecoveryOptions) {}

  /** Sweeps now (a restarted instance cleans up after its previous life) and then periodically. */
  start(): void {
    const tick = () => {
      this.sweeping ??= this.sweep()
        .catch(() => 0)
        .finally(() => {
          this.sweeping = undefined;
        });
    };
    tick();
    this.timer = setInterval(tick, this.options.sweepIntervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.sweeping;
  }

  /** Interrupts every answer whose lease ended before `now`; returns how many. */
  async sweep(now = Date.now()): Promise<number> {
    const { store, answers } = this.options;
    let recovered = 0;
    for (const messageId of await store.expiredGenerations(now, BATCH)) {
      // A lease of ours can lag during a storage outage; our own answer finishes it.
      if (answers.isRunningHere(messageId)) continue;
      if (!(await store.takeExpiredGeneration(messageId, now))) continue;
      if (await answers.recover(messageId)) recovered++;
    }
    return recovered;
  }
}
