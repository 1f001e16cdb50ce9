import DataLoader from 'dataloader';
import type { MessagePageRequest, Store, StreamLog } from '../infra/backend/types.js';
import type { MessageRecord, Principal, SessionRecord } from '../model.js';
import { readWholeLog } from './log-text.js';

/**
 * Per-request batching of every by-id read: one backend round trip per kind of read per tick,
 * whatever the number of rows. Made per request so no cache outlives it. Reads are filtered to
 * the principal here, so nothing that reads through a loader can see another principal's rows.
 */
export function createLoaders(store: Store, streams: StreamLog, principal: Principal) {
  const owned = <T extends { principal: string }>(record: T | null) =>
    record && record.principal === principal.id ? record : null;
  return {
    session: new DataLoader<string, SessionRecord | null>(async (ids) =>
      (await store.getSessions(ids)).map(owned),
    ),
    message: new DataLoader<string, MessageRecord | null>(async (ids) =>
      (await store.getMessages(ids)).map(owned),
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
