import DataLoader from 'dataloader';
import type { MessagePageRequest, Store, StreamLog } from './infra/backend/types.js';
import {
  isMessageId,
  isSessionId,
  type MessageRecord,
  type Principal,
  type SessionRecord,
} from './model.js';
import { readWholeLog } from './services/streams/log-text.js';

/**
 * Per-request batching of every by-id read: one backend round trip per kind of read per tick,
 * whatever the number of rows. Made per request so no cache outlives it. Reads are filtered to
 * the principal here, so nothing that reads through a loader can see another principal's rows.
 */
export function createLoaders(store: Store, streams: StreamLog, principal: Principal) {
  const owned = <T extends { principal: string }>(record: T | null) =>
    record && record.principal === principal.id ? record : null;
  return {
    session: new DataLoader<string, SessionRecord | null>((ids) =>
      loadValid(ids, isSessionId, async (valid) => (await store.getSessions(valid)).map(owned)),
    ),
    message: new DataLoader<string, MessageRecord | null>((ids) =>
      loadValid(ids, isMessageId, async (valid) => (await store.getMessages(valid)).map(owned)),
    ),
    messageCount: new DataLoader<string, number>(async (sessionIds) =>
      store.countMessages(sessionIds),
    ),
    messagePage: new DataLoader<MessagePageRequest, string[], string>(
      async (pages) => store.listMessageIds(pages),
      { cacheKeyFn: (page) => `${page.sessionId}:${page.offset}:${page.limit}` },
    ),
    /** The text so far of a message still streaming: its deltas, concatenated. */
    liveContent: new DataLoader<string, string>(async (messageIds) =>
      Promise.all(messageIds.map(async (id) => (await readWholeLog(streams, id)).text)),
    ),
  };
}

export type Loaders = ReturnType<typeof createLoaders>;

/**
 * Ids from outside reach the backend only when they have the shape of ids this server makes;
 * any other is not found, exactly like an unknown id (no key of another kind can be read).
 */
async function loadValid<T>(
  ids: readonly string[],
  isValid: (id: string) => boolean,
  load: (validIds: string[]) => Promise<(T | null)[]>,
): Promise<(T | null)[]> {
  const valid = ids.filter(isValid);
  if (valid.length === ids.length) return load(valid);
  const loaded = new Map<string, T | null>();
  const records = valid.length > 0 ? await load(valid) : [];
  valid.forEach((id, index) => {
    loaded.set(id, records[index] ?? null);
  });
  return ids.map((id) => loaded.get(id) ?? null);
}
