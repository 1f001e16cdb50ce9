import { describe, expect, it } from 'vitest';
import type { BucketPolicy } from '../../src/infra/backend/ledger.js';
import { MemoryLedger } from '../../src/infra/backend/memory-ledger.js';
import { PointBuckets } from '../../src/services/limits/point-buckets.js';
import { until } from '../support/wait.js';

const T0 = 1_700_000_000_000;
const policy: BucketPolicy = { limit: 100, restoreRate: 10 };

/** The embedded ledger, recording each step it is asked for. */
class RecordingLedger extends MemoryLedger {
  readonly steps: string[] = [];

  override debitPoints(key: string, cost: number, p: BucketPolicy, now: number, credit?: number) {
    this.steps.push(`debit ${key} ${cost} credit ${credit ?? 0}`);
    return super.debitPoints(key, cost, p, now, credit);
  }

  override refundPoints(key: string, points: number, p: BucketPolicy, now: number) {
    this.steps.push(`refund ${key} ${points}`);
    return super.refundPoints(key, points, p, now);
  }
}

function buckets(refundHoldMs: number) {
  const ledger = new RecordingLedger();
  const points = new PointBuckets({
    ledger,
    policy,
    maxOperationCost: 100,
    now: () => T0,
    refundHoldMs,
  });
  return { ledger, points };
}

describe('PointBuckets: a refund rides on the next debit', () => {
  it('runs operations back to back in one ledger step each, the refunds carried by the debits', async () => {
    const { ledger, points } = buckets(60_000);
    const reports = [];
    for (let operation = 0; operation < 5; operation++) {
      const debited = await points.debit('alice', 30);
      reports.push(points.refund('alice', 20, debited).remaining);
    }
    // Each operation costs 10 in the end: the report says so at once.
    expect(reports).toEqual([90, 80, 70, 60, 50]);
    expect(ledger.steps).toEqual([
      'debit alice 30 credit 0',
      'debit alice 30 credit 20',
      'debit alice 30 credit 20',
      'debit alice 30 credit 20',
      'debit alice 30 credit 20',
    ]);
    await points.flush();
    expect(ledger.steps.at(-1)).toBe('refund alice 20');
    expect((await points.debit('alice', 0)).remaining).toBe(50);
  });

  it('gives a refund back alone once no debit came for the hold', async () => {
    const { ledger, points } = buckets(10);
    const debited = await points.debit('bob', 60);
    expect(points.refund('bob', 45, debited)).toMatchObject({ remaining: 85, resetAt: T0 + 1_500 });
    await until(() => ledger.steps.length === 2, { what: 'the held refund' });
    expect(ledger.steps).toEqual(['debit bob 60 credit 0', 'refund bob 45']);
    expect((await points.debit('bob', 0)).remaining).toBe(85);
  });

  it("keeps principals apart, caps the report at the limit, and gives one principal's refunds back summed", async () => {
    const { ledger, points } = buckets(60_000);
    const carol = await points.debit('carol', 10);
    const dave = await points.debit('dave', 50);
    expect(points.refund('carol', 9, carol).remaining).toBe(99);
    expect(points.refund('carol', 500, carol).remaining).toBe(100);
    expect(points.refund('dave', 5, dave).remaining).toBe(55);
    await points.flush();
    expect(ledger.steps.slice(2).sort()).toEqual(['refund carol 509', 'refund dave 5']);
    expect((await points.debit('carol', 0)).remaining).toBe(100);
    expect((await points.debit('dave', 0)).remaining).toBe(55);
  });
});
