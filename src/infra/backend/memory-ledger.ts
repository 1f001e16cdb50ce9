import {
  type BucketPolicy,
  type BucketState,
  bucketState,
  type Ledger,
  refill,
  type TokenPolicy,
  type TokenState,
} from './ledger.js';

interface Account {
  points?: { points: number; at: number };
  tokens?: { used: number; windowStart: number };
  generations: Map<string, number>;
}

/** The embedded ledger: the same rules as the Redis scripts, in one process. */
export class MemoryLedger implements Ledger {
  private readonly accounts = new Map<string, Account>();

  debitPoints(
    key: string,
    cost: number,
    policy: BucketPolicy,
    now: number,
    credit = 0,
  ): BucketState {
    const account = this.account(key);
    const points = Math.min(policy.limit, refill(account.points, policy, now) + credit);
    const allowed = points >= cost;
    const after = allowed ? points - cost : points;
    account.points = { points: after, at: now };
    return bucketState(allowed, after, cost, policy, now);
  }

  async refundPoints(
    key: string,
    points: number,
    policy: BucketPolicy,
    now: number,
  ): Promise<BucketState> {
    const account = this.account(key);
    const after = Math.min(policy.limit, refill(account.points, policy, now) + points);
    account.points = { points: after, at: now };
    return bucketState(true, after, 0, policy, now);
  }

  async reserveTokens(key: string, tokens: number, policy: TokenPolicy, now: number) {
    const window = this.window(key, policy, now);
    const allowed = window.used + tokens <= policy.limit;
    if (allowed) window.used += tokens;
    return tokenState(allowed, window, policy);
  }

  async settleTokens(
    key: string,
    settlement: { reserved: number; used: number; windowStart: number },
    policy: TokenPolicy,
    now: number,
  ): Promise<TokenState> {
    const window = this.window(key, policy, now);
    if (window.windowStart === settlement.windowStart) {
      window.used = Math.max(0, window.used - settlement.reserved + settlement.used);
    }
    return tokenState(true, window, policy);
  }

  async peekTokens(key: string, policy: TokenPolicy, now: number) {
    return tokenState(true, this.window(key, policy, now), policy);
  }

  async acquireGeneration(
    key: string,
    holder: string,
    limits: { max: number; leaseMs: number },
    now: number,
  ): Promise<boolean> {
    const running = this.account(key).generations;
    for (const [id, expiresAt] of running) if (expiresAt <= now) running.delete(id);
    if (!running.has(holder) && running.size >= limits.max) return false;
    running.set(holder, now + limits.leaseMs);
    return true;
  }

  async renewGeneration(key: string, holder: string, leaseMs: number, now: number) {
    const running = this.account(key).generations;
    if (running.has(holder)) running.set(holder, now + leaseMs);
  }

  async releaseGeneration(key: string, holder: string) {
    this.account(key).generations.delete(holder);
  }

  private account(key: string): Account {
    let account = this.accounts.get(key);
    if (!account) {
      account = { generations: new Map() };
      this.accounts.set(key, account);
    }
    return account;
  }

  private window(key: string, policy: TokenPolicy, now: number) {
    const account = this.account(key);
    if (!account.tokens || now >= account.tokens.windowStart + policy.windowMs) {
      account.tokens = { used: 0, windowStart: now };
    }
    return account.tokens;
  }
}

function tokenState(
  allowed: boolean,
  window: { used: number; windowStart: number },
  policy: TokenPolicy,
): TokenState {
  return {
    allowed,
    used: window.used,
    resetAt: window.windowStart + policy.windowMs,
    windowStart: window.windowStart,
  };
}
