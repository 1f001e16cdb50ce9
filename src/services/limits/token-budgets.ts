import type { LimitsConfig } from '../../config.js';
import { RateLimited } from '../../errors.js';
import type { Ledger, TokenPolicy } from '../../infra/backend/ledger.js';
import type { Principal, TokenBudgetView } from '../../model.js';

export interface TokenReservation {
  key: string;
  reserved: number;
  windowStart: number;
  policy: TokenPolicy;
}

export type { TokenBudgetView };

export interface TokenBudgetsOptions {
  ledger: Ledger;
  budget: LimitsConfig['tokenBudget'];
  now?: () => number;
}

/**
 * LLM tokens per principal per window (LLM_TOKEN_BUDGET, per key LLM_TOKEN_BUDGETS). An answer
 * reserves its prompt and its completion cap before it starts, atomically, so concurrent answers
 * can never overshoot the budget; its real usage replaces the reservation when it ends.
 */
export class TokenBudgets {
  private readonly ledger: Ledger;
  private readonly budget: LimitsConfig['tokenBudget'];
  private readonly now: () => number;

  constructor(options: TokenBudgetsOptions) {
    this.ledger = options.ledger;
    this.budget = options.budget;
    this.now = options.now ?? Date.now;
  }

  /** The principal's policy; undefined when its budget is unlimited. */
  policyFor(principal: Principal): TokenPolicy | undefined {
    const limit = this.budget.perKey[principal.id] ?? this.budget.default;
    return limit === undefined ? undefined : { limit, windowMs: this.budget.windowMs };
  }

  /** Null when unlimited; RATE_LIMITED (reason TOKEN_BUDGET) when the budget has no room. */
  async reserve(
    principal: Principal,
    key: string,
    tokens: number,
  ): Promise<TokenReservation | null> {
    const policy = this.policyFor(principal);
    if (!policy) return null;
    const now = this.now();
    const state = await this.ledger.reserveTokens(key, tokens, policy, now);
    if (!state.allowed) {
      throw new RateLimited(
        `This answer needs up to ${tokens} tokens and your token budget has ${Math.max(0, policy.limit - state.used)} left until it renews.`,
        { retryAfterMs: state.resetAt - now, reason: 'TOKEN_BUDGET' },
      );
    }
    return { key, reserved: tokens, windowStart: state.windowStart, policy };
  }

  async settle(reservation: TokenReservation, used: number): Promise<void> {
    await this.ledger.settleTokens(
      reservation.key,
      { reserved: reservation.reserved, used, windowStart: reservation.windowStart },
      reservation.policy,
      this.now(),
    );
  }

  async view(principal: Principal, key: string): Promise<TokenBudgetView | null> {
    const policy = this.policyFor(principal);
    if (!policy) return null;
    const state = await this.ledger.peekTokens(key, policy, this.now());
    return {
      limit: policy.limit,
      used: state.used,
      remaining: Math.max(0, policy.limit - state.used),
      resetAt: new Date(state.resetAt),
    };
  }
}
