import { randomUUID } from 'node:crypto';
import type { BucketPolicy } from '../../src/infra/backend/ledger.js';
import { createRedisBackend } from '../../src/infra/backend/redis/index.js';
import { deleteKeys } from '../../tests/support/redis.js';
import { SampleSet, type Summary, summarize } from './stats.js';

/**
 * The round trip of the Redis point-bucket script, through the product's own RedisLedger (the
 * script text, its arguments and ioredis's EVAL as Parley sends them), each debit followed by a
 * PING on the same connection so both see the same Redis and the same noise. Runs in the
 * runner's process: `signal` stops it.
 */
export interface BucketScriptPlan {
  redisUrl: string;
  policy: BucketPolicy;
  warmup: number;
  roundTrips: number;
  signal: AbortSignal;
}

export async function bucketScriptRoundTrips(
  plan: BucketScriptPlan,
): Promise<{ script: Summary; ping: Summary }> {
  const keyPrefix = `bench:${randomUUID()}:`;
  const backend = await createRedisBackend({
    url: plan.redisUrl,
    streamLogTtlSeconds: 60,
    keyPrefix,
  });
  const script = new SampleSet();
  const ping = new SampleSet();
  try {
    for (let trip = 0; trip < plan.warmup + plan.roundTrips; trip++) {
      if (trip % 100 === 0) plan.signal.throwIfAborted();
      const debitStarted = performance.now();
      // The script does the same work whatever the amount: one point stands for any operation.
      await backend.ledger.debitPoints('bench', 1, plan.policy, Date.now());
      const pingStarted = performance.now();
      await backend.ping();
      const pingEnded = performance.now();
      if (trip < plan.warmup) continue;
      script.add(pingStarted - debitStarted);
      ping.add(pingEnded - pingStarted);
    }
  } finally {
    await backend.close();
    await deleteKeys(plan.redisUrl, keyPrefix);
  }
  return { script: summarize(script.toArray()), ping: summarize(ping.toArray()) };
}
