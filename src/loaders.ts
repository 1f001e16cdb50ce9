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

export type { MessagePageRequest };

/**
 * Per-request batching of every by-id read: one backend round trip per kind of read per tick,
 * whatever the number of rows. Made per request so no cache outlives it. Reads are filtered to
 * the principal here, so nothing that reads through a loader can see another principal's rows.
 * Each loader is made on first use: most operations need one or two of them.
 */
export class Loaders {
  #session?: DataLoader<string, SessionRecord | null>;
  #message?: DataLoader<string, MessageRecord | null>;
  #messageCount?: DataLoader<string, number>;
  #messagePage?: DataLoader<MessagePageRequest, MessageRecord[], string>;
  #liveContent?: DataLoader<string, string>;

  constructor(
    private readonly store: Store,
    private readonly streams: StreamLog,
    private readonly principal: Principal,
  ) {}

  /** A method, not an arrow field: a subscription holds its loaders for as long as it runs. */
  private owned<T extends { principal: string }>(record: T | null): T | null {
    return record && record.principal === this.principal.id ? record : null;
  }

  private ownMessages(messages: MessageRecord[]): MessageRecord[] {
    return messages.filter((message) => message.principal === this.principal.id);
  }

  get session(): DataLoader<string, SessionRecord | null> {
    this.#session ??= new DataLoader((ids) =>
      loadValid(ids, isSessionId, async (valid) =>
        (await this.store.getSessions(valid)).map((record) => this.owned(record)),
      ),
    );
    return this.#session;
  }

  get message(): DataLoader<string, MessageRecord | null> {
    this.#message ??= new DataLoader((ids) =>
      loadValid(ids, isMessageId, async (valid) =>
        (await this.store.getMessages(valid)).map((record) => this.owned(record)),
      ),
    );
    return this.#message;
  }

  get messageCount(): DataLoader<string, number> {
    this.#messageCount ??= new DataLoader(async (sessionIds) =>
      this.store.countMessages(sessionIds),
    );
    return this.#messageCount;
  }

  /** A page of a session's messages, ids and records read together (the principal's only). */
  get messagePage(): DataLoader<MessagePageRequest, MessageRecord[], string> {
    this.#messagePage ??= new DataLoader(
      async (pages) => (await this.store.listMessages(pages)).map((page) => this.ownMessages(page)),
      { cacheKeyFn: (page) => `${page.sessionId}:${page.offset}:${page.limit}` },
    );
    return this.#messagePage;
  }

  /**
   * Reads the session and one page of its messages in one round trip and primes the `session`
   * and `messagePage` loaders with them (the principal's only), so both then answer from it.
   */
  async primeSessionWithMessages(page: MessagePageRequest): Promise<void> {
    if (!isSessionId(page.sessionId)) return;
    const { session, messages } = await this.store.getSessionWithMessages(page);
    const owned = this.owned(session);
    this.session.prime(page.sessionId, owned);
    if (owned) this.messagePage.prime(page, this.ownMessages(messages));
  }

  /** The text so far of a message still streaming: its deltas, concatenated. */
  get liveContent(): DataLoader<string, string> {
    this.#liveContent ??= new DataLoader(async (messageIds) =>
      Promise.all(messageIds.map(async (id) => (await readWholeLog(this.streams, id)).text)),
    );
    return this.#liveContent;
  }
}

export function createLoaders(store: Store, streams: StreamLog, principal: Principal): Loaders {
  return new Loaders(store, streams, principal);
}

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
