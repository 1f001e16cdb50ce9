import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createMemoryBackend } from '../../src/infra/backend/memory.js';
import type { Backend } from '../../src/infra/backend/types.js';
import type { DeltaEvent } from '../../src/model.js';

/**
 * The embedded log's own rules, beyond the contract both backends share: its TTL (one timer per
 * message, restarted by every append) and the copies it keeps.
 */
const TTL_SECONDS = 10;
const messageId = 'message-ttl';

const delta = (seq: number): DeltaEvent => ({
  type: 'delta',
  messageId,
  seq,
  text: `t${seq}`,
  at: 1_700_000_000_000 + seq,
});

describe('the embedded stream log', () => {
  let backend: Backend;

  beforeEach(() => {
    vi.useFakeTimers();
    backend = createMemoryBackend({ streamLogTtlSeconds: TTL_SECONDS });
  });

  afterEach(async () => {
    await backend.close();
    vi.useRealTimers();
  });

  it('restarts the TTL at every append, and drops the log once it runs out', async () => {
    await backend.streams.append(messageId, [delta(1)]);
    await vi.advanceTimersByTimeAsync(TTL_SECONDS * 1000 - 1);
    await backend.streams.append(messageId, [delta(2)]);
    // Past the first append's TTL: only the restart keeps the log.
    await vi.advanceTimersByTimeAsync(TTL_SECONDS * 1000 - 1);
    expect(await backend.streams.newestSeq(messageId)).toBe(2);
    await vi.advanceTimersByTimeAsync(1);
    expect(await backend.streams.read(messageId, 0, 10)).toEqual([]);
    // A log written again after it expired starts a TTL of its own.
    await backend.streams.append(messageId, [delta(1)]);
    await vi.advanceTimersByTimeAsync(TTL_SECONDS * 1000 - 1);
    expect(await backend.streams.newestSeq(messageId)).toBe(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(await backend.streams.newestSeq(messageId)).toBe(0);
  });

  it('keeps frozen copies: neither the writer nor a reader can change what others read', async () => {
    const written = delta(1);
    await backend.streams.append(messageId, [written]);
    written.text = 'changed by the writer';
    const [read] = await backend.streams.read(messageId, 0, 10);
    expect(read).toEqual(delta(1));
    expect(Object.isFrozen(read)).toBe(true);
    expect(read).not.toBe(written);
  });
});
