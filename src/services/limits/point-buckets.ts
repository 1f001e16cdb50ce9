import type { BucketPolicy, BucketState, Ledger } from '../../infra/backend/ledger.js';

export interface PointBucketsOptions {
  ledger: Ledger;
  policy: BucketPolicy;
  maxOperationCost: number;
  now?: () => number;
}

/**
 * Query points per principal (Shopify's leaky bucket): an operation's requested cost is taken
 * before it runs and the difference to its actual cost given back after. An operation that can
 * never fit the bucket is refused by its cost, not left RATE_LIMITED forever.
 */
export class PointBuckets {
  readonly policy: BucketPolicy;
  /** The per-operation maximum: MAX_OPERATION_COST, or the bucket size when smaller. */
  readonly maximum: number;
  private readonly ledger: Ledger;
  private readonly now: () => number;

  constructor(options: PointBucketsOptions) {
    this.ledger = options.ledger;
    this.policy = options.policy;
    this.maximum = Math.min(options.maxOperationCost, options.policy.limit);
    this.now = options.now ?? Date.now;
  }

  debit(key: string, cost: number): Promise<BucketState> {
    return this.ledger.debitPoints(key, cost, this.policy, this.now());
  }

  refund(key: string, points: number): Promise<BucketState> {
    return this.ledger.refundPoints(key, points, this.policy, this.now());
  }
}
