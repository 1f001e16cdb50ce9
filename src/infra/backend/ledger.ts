/**
 * One ledger per principal: the point bucket that query cost draws from, the LLM token budget
 * and the answers streaming now. Every change is one atomic step (one Lua script on Redis), so
 * concurrent requests on any number of instances can never overdraw it. Time comes from the
 * caller (`now`, epoch ms), so every instance and test agrees on one clock.
 */

/** A value, or a promise of it: what a step of the embedded ledger gives without a turn. */
export type MaybePromise<T> = T | Promise<T>;

export interface BucketPolicy {
  /** Bucket size in points. */
  limit: number;
  /** Points restored per second. */
  restoreRate: number;
}

export interface BucketState {
  allowed: boolean;
  /** Points left after this step (whole points, never below 0). */
  remaining: number;
  /** Epoch ms when the bucket is full again. */
  resetAt: number;
  /** When refused: how long until the asked points are available. */
  retryAfterMs: number;
}

export interface TokenPolicy {
  limit: number;
  windowMs: number;
}

export interface TokenState {
  allowed: boolean;
  used: number;
  /** Epoch ms when this window ends and the budget is whole again. */
  resetAt: number;
  /** The window the step counted in; settle with it. */
  windowStart: number;
}

export interface Ledger {
  /**
   * Gives `credit` points back (refunds held since the principal's last step, see PointBuckets;
   * capped at the limit, given even when the debit is refused), then takes `cost` points when
   * the bucket holds them; refused (nothing taken) otherwise. The embedded ledger answers at
   * once (no promise): every operation's cost check runs this step before execution, and a
   * promise there cost each query a few microtasks through envelop's hooks.
   */
  debitPoints(
    key: string,
    cost: number,
    policy: BucketPolicy,
    now: number,
    credit?: number,
  ): MaybePromise<BucketState>;
  /** Gives points back (an operation cost less than was asked), never above the limit. */
  refundPoints(
    key: string,
    points: number,
    policy: BucketPolicy,
    now: number,
  ): Promise<BucketState>;
  /** Reserves tokens for an answer when the window's budget has room; refused otherwise. */
  reserveTokens(key: string, tokens: number, policy: TokenPolicy, now: number): Promise<TokenState>;
  /** Replaces a reservation made in `windowStart` by what the answer really used. */
  settleTokens(
    key: string,
    settlement: { reserved: number; used: number; windowStart: number },
    policy: TokenPolicy,
    now: number,
  ): Promise<TokenState>;
  peekTokens(key: string, policy: TokenPolicy, now: number): Promise<TokenState>;
  /**
   * Counts `holder` among the principal's running answers while fewer than `max` run (entries
   * lapse after `leaseMs` unless renewed, so a dead instance's answers free their places).
   */
  acquireGeneration(
    key: string,
    holder: string,
    limits: { max: number; leaseMs: number },
    now: number,
  ): Promise<boolean>;
  renewGeneration(key: string, holder: string, leaseMs: number, now: number): Promise<void>;
  releaseGeneration(key: string, holder: string): Promise<void>;
}

/** The leaky bucket's arithmetic, shared by the memory ledger and documented by the script. */
export function refill(
  stored: { points: number; at: number } | undefined,
  policy: BucketPolicy,
  now: number,
): number {
  if (!stored) return policy.limit;
  const restored = (Math.max(0, now - stored.at) * policy.restoreRate) / 1000;
  return Math.min(policy.limit, stored.points + restored);
}

export function bucketState(
  allowed: boolean,
  points: number,
  asked: number,
  policy: BucketPolicy,
  now: number,
): BucketState {
  const missing = allowed ? 0 : asked - points;
  return {
    allowed,
    remaining: Math.max(0, Math.floor(points)),
    resetAt: now + Math.ceil(((policy.limit - points) * 1000) / policy.restoreRate),
    retryAfterMs: Math.ceil((missing * 1000) / policy.restoreRate),
  };
}
