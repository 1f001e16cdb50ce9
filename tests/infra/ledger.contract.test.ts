import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { backendCases, backendFor } from '../support/backends.js';

/** The ledger's rules, the same on both backends; time is passed in, so no test waits. */
describe.each(backendCases())('the %s ledger', (_name, backendCase) => {
  const backend = backendFor(backendCase);
  const bucket = { limit: 100, restoreRate: 10 };
  const tokens = { limit: 1_000, windowMs: 60_000 };
  const T0 = 1_700_000_000_000;
  const key = () => `principal-${randomUUID()}`;

  it('a new bucket is full; a debit takes its points and says when it is full again', async () => {
    const state = await backend().ledger.debitPoints(key(), 30, bucket, T0);
    expect(state).toEqual({ allowed: true, remaining: 70, resetAt: T0 + 3_000, retryAfterMs: 0 });
  });

  it('refuses a debit larger than what is left, takes nothing, and says how long to wait', async () => {
    const principal = key();
    await backend().ledger.debitPoints(principal, 95, bucket, T0);
    const refused = await backend().ledger.debitPoints(principal, 20, bucket, T0);
    expect(refused).toMatchObject({ allowed: false, remaining: 5, retryAfterMs: 1_500 });
    const next = await backend().ledger.debitPoints(principal, 5, bucket, T0);
    expect(next).toMatchObject({ allowed: true, remaining: 0 });
  });

  it('restores points at the restore rate, never above the limit', async () => {
    const principal = key();
    await backend().ledger.debitPoints(principal, 100, bucket, T0);
    expect(await backend().ledger.debitPoints(principal, 0, bucket, T0 + 2_500)).toMatchObject({
      remaining: 25,
    });
    expect(await backend().ledger.debitPoints(principal, 0, bucket, T0 + 60_000)).toMatchObject({
      remaining: 100,
    });
  });

  it('a refund gives points back, capped at the limit', async () => {
    const principal = key();
    await backend().ledger.debitPoints(principal, 60, bucket, T0);
    expect(await backend().ledger.refundPoints(principal, 45, bucket, T0)).toMatchObject({
      remaining: 85,
    });
    expect(await backend().ledger.refundPoints(principal, 500, bucket, T0)).toMatchObject({
      remaining: 100,
    });
  });

  it('a debit gives its credit back first, capped at the limit, even when it is refused', async () => {
    const principal = key();
    await backend().ledger.debitPoints(principal, 90, bucket, T0);
    // 10 left + 30 given back: 40 hold the 35 asked.
    expect(await backend().ledger.debitPoints(principal, 35, bucket, T0, 30)).toMatchObject({
      allowed: true,
      remaining: 5,
    });
    // 5 + 10 cannot hold 50: refused, and the 10 are given back all the same.
    expect(await backend().ledger.debitPoints(principal, 50, bucket, T0, 10)).toMatchObject({
      allowed: false,
      remaining: 15,
    });
    expect(await backend().ledger.debitPoints(principal, 0, bucket, T0, 500)).toMatchObject({
      remaining: 100,
    });
  });

  it('concurrent debits never overdraw the bucket', async () => {
    const principal = key();
    const results = await Promise.all(
      Array.from({ length: 20 }, () => backend().ledger.debitPoints(principal, 10, bucket, T0)),
    );
    expect(results.filter((result) => result.allowed)).toHaveLength(10);
  });

  it('token reservations never overshoot the budget, even all at once', async () => {
    const principal = key();
    await backend().ledger.reserveTokens(principal, 900, tokens, T0);
    const results = await Promise.all(
      Array.from({ length: 20 }, () => backend().ledger.reserveTokens(principal, 30, tokens, T0)),
    );
    expect(results.filter((result) => result.allowed)).toHaveLength(3);
    expect((await backend().ledger.peekTokens(principal, tokens, T0)).used).toBe(990);
  });

  it('settling replaces a reservation with the real usage, and a new window starts empty', async () => {
    const principal = key();
    const reserved = await backend().ledger.reserveTokens(principal, 500, tokens, T0);
    const settled = await backend().ledger.settleTokens(
      principal,
      { reserved: 500, used: 120, windowStart: reserved.windowStart },
      tokens,
      T0 + 1_000,
    );
    expect(settled).toMatchObject({ used: 120, resetAt: T0 + 60_000 });
    const later = await backend().ledger.peekTokens(principal, tokens, T0 + 61_000);
    expect(later).toMatchObject({ used: 0, resetAt: T0 + 121_000 });
    // A settlement from an old window does not touch the new one.
    await backend().ledger.settleTokens(
      principal,
      { reserved: 0, used: 50, windowStart: reserved.windowStart },
      tokens,
      T0 + 62_000,
    );
    expect((await backend().ledger.peekTokens(principal, tokens, T0 + 62_000)).used).toBe(0);
  });

  it('counts running answers up to a maximum; a released or lapsed one frees its place', async () => {
    const principal = key();
    const limits = { max: 2, leaseMs: 10_000 };
    expect(await backend().ledger.acquireGeneration(principal, 'a', limits, T0)).toBe(true);
    expect(await backend().ledger.acquireGeneration(principal, 'b', limits, T0)).toBe(true);
    expect(await backend().ledger.acquireGeneration(principal, 'c', limits, T0)).toBe(false);
    await backend().ledger.releaseGeneration(principal, 'a');
    expect(await backend().ledger.acquireGeneration(principal, 'c', limits, T0)).toBe(true);
    expect(await backend().ledger.acquireGeneration(principal, 'd', limits, T0 + 5_000)).toBe(
      false,
    );
    await backend().ledger.renewGeneration(principal, 'c', 10_000, T0 + 5_000);
    // b lapsed at T0 + 10 s; c was renewed until T0 + 15 s.
    expect(await backend().ledger.acquireGeneration(principal, 'd', limits, T0 + 11_000)).toBe(
      true,
    );
    expect(await backend().ledger.acquireGeneration(principal, 'e', limits, T0 + 11_000)).toBe(
      false,
    );
  });
});
