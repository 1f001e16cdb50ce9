import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { MemoryResultCache } from '../../src/infra/backend/memory-cache.js';
import { backendCases, backendFor } from '../support/backends.js';
import { until } from '../support/wait.js';

const HOUR = 3_600_000;

/** The result cache's rules, the same on both backends. */
describe.each(backendCases())('the %s result cache', (_name, backendCase) => {
  const backend = backendFor(backendCase);
  /** Each test its own scopes: counts are per scope and the redis backend shares a prefix. */
  const scope = () => `test:${randomUUID().slice(0, 8)}`;

  it('gives back what was set, and counts each lookup as a hit or a miss', async () => {
    const [a, b] = [scope(), scope()];
    expect(await backend().cache.get(a, 'k1')).toBeNull();
    await backend().cache.set(a, 'k1', '{"v":1}', HOUR);
    expect(await backend().cache.get(a, 'k1')).toBe('{"v":1}');
    expect(await backend().cache.get(a, 'k1')).toBe('{"v":1}');
    expect(await backend().cache.get(b, 'k1')).toBeNull();
    expect(await backend().cache.stats([a, b])).toEqual([
      { scope: a, hits: 2, misses: 1, entries: 1 },
      { scope: b, hits: 0, misses: 1, entries: 0 },
    ]);
  });

  it('a set replaces the value and counts as one entry', async () => {
    const a = scope();
    await backend().cache.set(a, 'k', 'one', HOUR);
    await backend().cache.set(a, 'k', 'two', HOUR);
    expect(await backend().cache.get(a, 'k')).toBe('two');
    expect((await backend().cache.stats([a]))[0]?.entries).toBe(1);
  });

  it('an entry is gone once its lifetime is over', async () => {
    const a = scope();
    await backend().cache.set(a, 'short', 'v', 30);
    await backend().cache.set(a, 'long', 'v', HOUR);
    await until(async () => (await backend().cache.get(a, 'short')) === null, { what: 'expiry' });
    expect(await backend().cache.get(a, 'long')).toBe('v');
    expect((await backend().cache.stats([a]))[0]?.entries).toBe(1);
  });

  it('invalidates the scopes named, and only them, saying how many live entries went', async () => {
    const [a, b] = [scope(), scope()];
    await backend().cache.set(a, 'k1', 'v', HOUR);
    await backend().cache.set(a, 'k2', 'v', HOUR);
    await backend().cache.set(b, 'k1', 'v', HOUR);
    expect(await backend().cache.invalidate([a])).toBe(2);
    expect(await backend().cache.get(a, 'k1')).toBeNull();
    expect(await backend().cache.get(b, 'k1')).toBe('v');
    expect(await backend().cache.invalidate([a])).toBe(0);
    expect(await backend().cache.invalidate([a, b])).toBe(1);
    expect((await backend().cache.stats([a, b])).map((entry) => entry.entries)).toEqual([0, 0]);
  });

  it('refuses a scope or key that is not plain (it would become part of a key)', async () => {
    await expect(backend().cache.set('a b', 'k', 'v', HOUR)).rejects.toThrow();
    await expect(backend().cache.set(scope(), 'k*', 'v', HOUR)).rejects.toThrow();
  });
});

describe('the memory result cache', () => {
  it('holds at most its bound, dropping the least recently used first', async () => {
    const cache = new MemoryResultCache(2);
    await cache.set('s', 'a', '1', HOUR);
    await cache.set('s', 'b', '2', HOUR);
    expect(await cache.get('s', 'a')).toBe('1');
    await cache.set('s', 'c', '3', HOUR);
    expect(await cache.get('s', 'b')).toBeNull();
    expect(await cache.get('s', 'a')).toBe('1');
    expect(await cache.get('s', 'c')).toBe('3');
    expect((await cache.stats(['s']))[0]?.entries).toBe(2);
  });
});
