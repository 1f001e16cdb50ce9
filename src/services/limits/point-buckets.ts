import {
  type BucketPolicy,
  type BucketState,
  bucketState,
  type Ledger,
  type MaybePromise,
} from '../../infra/backend/ledger.js';

export interface PointBucketsOptions {
  ledger: Ledger;
  policy: BucketPolicy;
  maxOperationCost: number;
  now?: () => number;
  /** How long a refund waits for the principal's next debit to carry it. */
  refundHoldMs?: number;
}

/**
 * A refund rides on the principal's next debit when one comes this soon: a principal sending
 * operations back to back then costs storage one round trip per operation instead of two.
 */
export const DEFAULT_REFUND_HOLD_MS = 20;

/**
 * Query points per principal (Shopify's leaky bucket): an operation's requested cost is taken
 * before it runs and the difference to its actual cost given back after. An operation that can
 * never fit the bucket is refused by its cost, not left RATE_LIMITED forever.
 *
 * A refund is held for up to `refundHoldMs` and given back in the same atomic step as the
 * principal's next debit (or alone, when none comes): the points it returns are unavailable for
 * those milliseconds, never counted twice, and never lost while the process runs (`close` gives
 * back what is held).
 */
export class PointBuckets {
  readonly policy: BucketPolicy;
  /** The per-operation maximum: MAX_OPERATION_COST, or the bucket size when smaller. */
  readonly maximum: number;
  private readonly ledger: Ledger;
  private readonly now: () => number;
  private readonly refundHoldMs: number;
  /** Points to give back per principal; entries live at most refundHoldMs. */
  private readonly held = new Map<string, number>();
  private flushTimer: NodeJS.Timeout | undefined;

  constructor(options: PointBucketsOptions) {
    this.ledger = options.ledger;
    this.policy = options.policy;
    this.maximum = Math.min(options.maxOperationCost, options.policy.limit);
    this.now = options.now ?? Date.now;
    this.refundHoldMs = options.refundHoldMs ?? DEFAULT_REFUND_HOLD_MS;
  }

  /** At once (no promise) on the embedded ledger. */
  debit(key: string, cost: number): MaybePromise<BucketState> {
    const credit = this.held.get(key);
    if (credit !== undefined) this.held.delete(key);
    // A credit whose step fails is not held again: the step may have reached storage.
    return this.ledger.debitPoints(key, cost, this.policy, this.now(), credit);
  }

  /**
   * Gives `points` back after an operation whose debit left `after`, and returns the bucket as
   * it stands with them (as of that debit: other operations since are not seen).
   */
  refund(key: string, points: number, after: BucketState): BucketState {
    this.held.set(key, (this.held.get(key) ?? 0) + points);
    this.flushTimer ??= setTimeout(() => void this.flush(), this.refundHoldMs).unref();
    const remaining = Math.min(this.policy.limit, after.remaining + points);
    return bucketState(true, remaining, 0, this.policy, this.now());
  }

  /** Gives back every refund held now. One storage cannot take is dropped: the bucket refills. */
  async flush(): Promise<void> {
    clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    const held = [...this.held];
    this.held.clear();
    const now = this.now();
    await Promise.all(
      held.map(([key, points]) =>
        this.ledger.refundPoints(key, points, this.policy, now).catch(() => {}),
      ),
    );
  }
}
