import type { Store, StreamLog } from '../infra/backend/types.js';
import type { Logger } from '../infra/logger.js';
import { FINAL_STATUSES } from '../model.js';
import { readWholeLog } from './log-text.js';

const BATCH = 100;

/**
 * Finds answers whose generating instance died (its lease lapsed) and ends them INTERRUPTED
 * with the text they had streamed, so no message stays STREAMING and every subscriber gets its
 * MessageEnd. Every instance sweeps; the atomic take makes exactly one of them do each.
 */
export class GenerationRecovery {
  private timer: NodeJS.Timeout | undefined;
  private sweeping: Promise<number> | undefined;

  constructor(
    private readonly store: Store,
    private readonly streams: StreamLog,
    private readonly isRunningHere: (messageId: string) => boolean,
    private readonly sweepIntervalMs: number,
    private readonly log: Logger,
  ) {}

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
    this.timer = setInterval(tick, this.sweepIntervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.sweeping;
  }

  /** Interrupts every generation whose lease ended before `now`; returns how many. */
  async sweep(now = Date.now()): Promise<number> {
    let recovered = 0;
    for (const messageId of await this.store.expiredGenerations(now, BATCH)) {
      // A lease of ours can lag during a storage outage; our own generation finishes it.
      if (this.isRunningHere(messageId)) continue;
      if (!(await this.store.takeExpiredGeneration(messageId, now))) continue;
      if (await this.interrupt(messageId)) recovered++;
    }
    return recovered;
  }

  /** Ends the message INTERRUPTED, or only writes the end event its dead instance left unwritten. */
  private async interrupt(messageId: string): Promise<boolean> {
    const [message] = await this.store.getMessages([messageId]);
    if (!message) return false;
    const log = await readWholeLog(this.streams, messageId);
    if (log.ended) return false;
    let status = message.status;
    if (!FINAL_STATUSES.has(status)) {
      status = 'INTERRUPTED';
      await this.store.saveMessage({
        ...message,
        content: log.text,
        status,
        error: {
          code: 'GENERATION_LOST',
          message: 'The server generating this answer stopped before it finished.',
        },
        completedAt: new Date().toISOString(),
      });
      await this.store.releaseSession(message.sessionId, messageId);
    }
    await this.streams.append(messageId, [
      { type: 'end', messageId, seq: log.lastSeq + 1, status, at: Date.now() },
    ]);
    this.log.warn(
      { messageId, status, characters: log.text.length },
      'ended an orphaned generation',
    );
    return true;
  }
}
