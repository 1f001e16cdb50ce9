import type { Redis } from 'ioredis';
import {
  type BucketPolicy,
  type BucketState,
  bucketState,
  type Ledger,
  type TokenPolicy,
  type TokenState,
} from '../ledger.js';
import { evalScript, type Guard } from './connection.js';
import type { RedisKeys } from './keys.js';

/**
 * The leaky bucket, as `refill` and `bucketState` in ../ledger.ts compute it. KEYS[1] = the
 * principal's ledger hash (fields p = points, pt = when), ARGV = limit, restore rate per second,
 * now (ms), points asked (debit) or given back (refund, as a negative number), points given back
 * before a debit (refunds held for it, see PointBuckets; 0 for none).
 * Returns { allowed 0|1, points after x1000 (an integer) }.
 */
const POINTS_SCRIPT = `
local limit = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local now = tonumber(ARGV[3])
local asked = tonumber(ARGV[4])
local credit = tonumber(ARGV[5])
local stored = redis.call('HMGET', KEYS[1], 'p', 'pt')
local points = limit
if stored[1] then
  local elapsed = math.max(0, now - tonumber(stored[2]))
  points = math.min(limit, tonumber(stored[1]) + elapsed * rate / 1000)
end
points = math.min(limit, points + credit)
local allowed = 1
if asked >= 0 then
  if points >= asked then points = points - asked else allowed = 0 end
else
  points = math.min(limit, points - asked)
end
redis.call('HSET', KEYS[1], 'p', tostring(points), 'pt', tostring(now))
local needed = math.ceil((limit - points) * 1000 / rate) + 1000
if redis.call('PTTL', KEYS[1]) < needed then redis.call('PEXPIRE', KEYS[1], needed) end
return { allowed, math.floor(points * 1000) }`;

/**
 * The token budget's fixed window. KEYS[1] = the ledger hash (fields tu = used, tw = window
 * start), ARGV = limit, window ms, now, mode ('reserve' | 'settle' | 'peek'), tokens, reserved,
 * the window the reservation was made in. Returns { allowed, used, window start }.
 */
const TOKENS_SCRIPT = `
local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local now = tonumber(ARGV[3])
local mode = ARGV[4]
local tokens = tonumber(ARGV[5])
local stored = redis.call('HMGET', KEYS[1], 'tu', 'tw')
local used = tonumber(stored[1] or '0')
local start = tonumber(stored[2] or '-1')
if start < 0 or now >= start + window then
  used = 0
  start = now
end
local allowed = 1
if mode == 'reserve' then
  if used + tokens <= limit then used = used + tokens else allowed = 0 end
elseif mode == 'settle' and tonumber(ARGV[7]) == start then
  used = math.max(0, used - tonumber(ARGV[6]) + tokens)
end
redis.call('HSET', KEYS[1], 'tu', used, 'tw', start)
local needed = math.max(1000, start + window - now)
if redis.call('PTTL', KEYS[1]) < needed then redis.call('PEXPIRE', KEYS[1], needed) end
return { allowed, used, start }`;

/** KEYS[1] = the principal's running answers (ZSET, score = lease end); ARGV = holder, max, lease, now. */
const ACQUIRE_SCRIPT = `
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[4])
if redis.call('ZSCORE', KEYS[1], ARGV[1]) or redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[2]) then
  redis.call('ZADD', KEYS[1], tonumber(ARGV[4]) + tonumber(ARGV[3]), ARGV[1])
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
  return 1
end
return 0`;

/**
 * KEYS[1] = the principal's running answers; ARGV = holder, lease end, lease. Extends a holder
 * still listed (never adds one) and the set's lifetime, in one command (it was four: MULTI,
 * ZADD, PEXPIRE, EXEC, every third of a lease for every running answer).
 */
const RENEW_SCRIPT = `
redis.call('ZADD', KEYS[1], 'XX', ARGV[2], ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 0`;

export class RedisLedger implements Ledger {
  constructor(
    private readonly redis: Redis,
    private readonly keys: RedisKeys,
    private readonly guarded: Guard,
  ) {}

  async debitPoints(
    key: string,
    cost: number,
    policy: BucketPolicy,
    now: number,
    credit = 0,
  ): Promise<BucketState> {
    const [allowed, scaled] = await this.points(key, cost, policy, now, credit);
    return bucketState(allowed === 1, scaled / 1000, cost, policy, now);
  }

  async refundPoints(
    key: string,
    points: number,
    policy: BucketPolicy,
    now: number,
  ): Promise<BucketState> {
    const [, scaled] = await this.points(key, -points, policy, now);
    return bucketState(true, scaled / 1000, 0, policy, now);
  }

  reserveTokens(key: string, tokens: number, policy: TokenPolicy, now: number) {
    return this.tokens(key, policy, now, ['reserve', tokens, 0, 0]);
  }

  settleTokens(
    key: string,
    settlement: { reserved: number; used: number; windowStart: number },
    policy: TokenPolicy,
    now: number,
  ) {
    return this.tokens(key, policy, now, [
      'settle',
      settlement.used,
      settlement.reserved,
      settlement.windowStart,
    ]);
  }

  peekTokens(key: string, policy: TokenPolicy, now: number) {
    return this.tokens(key, policy, now, ['peek', 0, 0, 0]);
  }

  acquireGeneration(
    key: string,
    holder: string,
    limits: { max: number; leaseMs: number },
    now: number,
  ): Promise<boolean> {
    return this.guarded(async () => {
      const acquired = await evalScript(
        this.redis,
        ACQUIRE_SCRIPT,
        1,
        this.keys.ledgerGenerations(key),
        holder,
        limits.max,
        limits.leaseMs,
        now,
      );
      return acquired === 1;
    });
  }

  renewGeneration(key: string, holder: string, leaseMs: number, now: number): Promise<void> {
    return this.guarded(async () => {
      await evalScript(
        this.redis,
        RENEW_SCRIPT,
        1,
        this.keys.ledgerGenerations(key),
        holder,
        now + leaseMs,
        leaseMs,
      );
    });
  }

  releaseGeneration(key: string, holder: string): Promise<void> {
    return this.guarded(async () => {
      await this.redis.zrem(this.keys.ledgerGenerations(key), holder);
    });
  }

  private points(key: string, asked: number, policy: BucketPolicy, now: number, credit = 0) {
    return this.guarded(
      () =>
        evalScript(
          this.redis,
          POINTS_SCRIPT,
          1,
          this.keys.ledger(key),
          policy.limit,
          policy.restoreRate,
          now,
          asked,
          credit,
        ) as Promise<[number, number]>,
    );
  }

  private async tokens(
    key: string,
    policy: TokenPolicy,
    now: number,
    [mode, tokens, reserved, windowStart]: [string, number, number, number],
  ): Promise<TokenState> {
    const [allowed, used, start] = (await this.guarded(() =>
      evalScript(
        this.redis,
        TOKENS_SCRIPT,
        1,
        this.keys.ledger(key),
        policy.limit,
        policy.windowMs,
        now,
        mode,
        tokens,
        reserved,
        windowStart,
      ),
    )) as [number, number, number];
    return { allowed: allowed === 1, used, resetAt: start + policy.windowMs, windowStart: start };
  }
}
