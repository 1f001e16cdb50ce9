import type { MessageRecord, SessionRecord, StreamEvent } from '../../model.js';
import { MemoryResultCache } from './memory-cache.js';
import { MemoryContactStore } from './memory-contacts.js';
import { MemoryDocumentStore } from './memory-documents.js';
import { MemoryLedger } from './memory-ledger.js';
import type {
  Backend,
  ControlBus,
  MessagePageRequest,
  SessionListEntry,
  Store,
  StreamLog,
  Unwatch,
} from './types.js';

/**
 * The embedded backend: one process, no dependencies. Records are deep-copied in, so a caller
 * can never change a stored one, and copied one level out: callers replace records (spread),
 * they never edit the nested `error`/`usage` objects, and reads are the hot path.
 */

const copy = <T>(record: T): T => structuredClone(record);
/**
 * A delta holds only primitives, so a spread is a full copy, and a cheap one: the log copies
 * every token, where structuredClone was 3 % of an embedded server's CPU streaming answers.
 */
const copyEvent = (event: StreamEvent): StreamEvent =>
  event.type === 'delta' ? { ...event } : copy(event);
const copyOut = <T extends object>(record: T): T => ({ ...record });

class MemoryStore implements Store {
  private readonly sessions = new Map<string, SessionRecord>();
  private readonly sessionKeys = new Map<string, number>();
  private readonly sessionsByPrincipal = new Map<string, SessionListEntry[]>();
  private readonly messages = new Map<string, MessageRecord>();
  private readonly messageIdsBySession = new Map<string, string[]>();
  private readonly claims = new Map<string, { holder: string; expiresAt: number }>();
  private readonly generationLeases = new Map<string, number>();
  private nextSessionKey = 1;

  async createSession(session: SessionRecord): Promise<void> {
    const key = this.nextSessionKey++;
    this.sessions.set(session.id, copy(session));
    this.sessionKeys.set(session.id, key);
    this.messageIdsBySession.set(session.id, []);
    const list = this.sessionsByPrincipal.get(session.principal) ?? [];
    list.push({ id: session.id, key });
    this.sessionsByPrincipal.set(session.principal, list);
  }

  async saveSession(session: SessionRecord): Promise<void> {
    if (this.sessions.has(session.id)) this.sessions.set(session.id, copy(session));
  }

  async getSessions(ids: readonly string[]): Promise<(SessionRecord | null)[]> {
    return ids.map((id) => {
      const session = this.sessions.get(id);
      return session ? copyOut(session) : null;
    });
  }

  async listSessions(
    principal: string,
    page: { beforeKey: number | undefined; limit: number },
  ): Promise<SessionListEntry[]> {
    const list = this.sessionsByPrincipal.get(principal) ?? [];
    const result: SessionListEntry[] = [];
    for (let index = list.length - 1; index >= 0 && result.length < page.limit; index--) {
      const entry = list[index]!;
      if (page.beforeKey === undefined || entry.key < page.beforeKey) result.push({ ...entry });
    }
    return result;
  }

  async deleteSession(sessionId: string): Promise<string[]> {
    const session = this.sessions.get(sessionId);
    if (!session) return [];
    const messageIds = this.messageIdsBySession.get(sessionId) ?? [];
    for (const id of messageIds) this.messages.delete(id);
    this.messageIdsBySession.delete(sessionId);
    this.sessions.delete(sessionId);
    this.sessionKeys.delete(sessionId);
    this.claims.delete(sessionId);
    const list = this.sessionsByPrincipal.get(session.principal) ?? [];
    this.sessionsByPrincipal.set(
      session.principal,
      list.filter((entry) => entry.id !== sessionId),
    );
    return [...messageIds];
  }

  async addMessage(message: MessageRecord): Promise<void> {
    this.messages.set(message.id, copy(message));
    const ids = this.messageIdsBySession.get(message.sessionId);
    if (ids) ids.push(message.id);
    else this.messageIdsBySession.set(message.sessionId, [message.id]);
  }

  async saveMessage(message: MessageRecord): Promise<void> {
    if (this.messages.has(message.id)) this.messages.set(message.id, copy(message));
  }

  async getMessages(ids: readonly string[]): Promise<(MessageRecord | null)[]> {
    return ids.map((id) => {
      const message = this.messages.get(id);
      return message ? copyOut(message) : null;
    });
  }

  async countMessages(sessionIds: readonly string[]): Promise<number[]> {
    return sessionIds.map((id) => this.messageIdsBySession.get(id)?.length ?? 0);
  }

  async listMessageIds(pages: readonly MessagePageRequest[]): Promise<string[][]> {
    return pages.map(({ sessionId, offset, limit }) =>
      (this.messageIdsBySession.get(sessionId) ?? []).slice(offset, offset + limit),
    );
  }

  async getSessionWithMessages(
    page: MessagePageRequest,
  ): Promise<{ session: SessionRecord | null; messages: MessageRecord[] }> {
    const [session = null] = await this.getSessions([page.sessionId]);
    if (!session) return { session, messages: [] };
    const [messages = []] = await this.listMessages([page]);
    return { session, messages };
  }

  async listMessages(pages: readonly MessagePageRequest[]): Promise<MessageRecord[][]> {
    return pages.map(({ sessionId, offset, limit }) => {
      const page: MessageRecord[] = [];
      for (const id of (this.messageIdsBySession.get(sessionId) ?? []).slice(
        offset,
        offset + limit,
      )) {
        const message = this.messages.get(id);
        if (message) page.push(copyOut(message));
      }
      return page;
    });
  }

  async claimSession(sessionId: string, holder: string, ttlMs: number): Promise<string | null> {
    const current = this.claims.get(sessionId);
    if (current && current.holder !== holder && current.expiresAt > Date.now()) {
      return current.holder;
    }
    this.claims.set(sessionId, { holder, expiresAt: Date.now() + ttlMs });
    return null;
  }

  async renewSessionClaim(sessionId: string, holder: string, ttlMs: number): Promise<boolean> {
    const current = this.claims.get(sessionId);
    if (!current || current.holder !== holder || current.expiresAt <= Date.now()) return false;
    current.expiresAt = Date.now() + ttlMs;
    return true;
  }

  async releaseSession(sessionId: string, holder: string): Promise<void> {
    if (this.claims.get(sessionId)?.holder === holder) this.claims.delete(sessionId);
  }

  async leaseGeneration(messageId: string, expiresAt: number): Promise<void> {
    this.generationLeases.set(messageId, expiresAt);
  }

  async renewGenerationLease(messageId: string, expiresAt: number): Promise<void> {
    if (this.generationLeases.has(messageId)) this.generationLeases.set(messageId, expiresAt);
  }

  async endGenerationLease(messageId: string): Promise<void> {
    this.generationLeases.delete(messageId);
  }

  async expiredGenerations(now: number, limit: number): Promise<string[]> {
    return [...this.generationLeases]
      .filter(([, expiresAt]) => expiresAt < now)
      .sort(([, a], [, b]) => a - b)
      .slice(0, limit)
      .map(([messageId]) => messageId);
  }

  async takeExpiredGeneration(messageId: string, now: number): Promise<boolean> {
    const expiresAt = this.generationLeases.get(messageId);
    if (expiresAt === undefined || expiresAt >= now) return false;
    this.generationLeases.delete(messageId);
    return true;
  }
}

class MemoryStreamLog implements StreamLog {
  private readonly logs = new Map<string, StreamEvent[]>();
  private readonly watchers = new Map<string, Set<(event: StreamEvent) => void>>();
  private readonly expiryTimers = new Map<string, NodeJS.Timeout>();

  constructor(private readonly ttlSeconds: number) {}

  async append(messageId: string, events: readonly StreamEvent[]): Promise<void> {
    const log = this.logs.get(messageId) ?? [];
    const lastSeq = log.at(-1)?.seq ?? 0;
    // The Redis script's rules: an identical event already logged is skipped, anything else
    // must continue the log exactly.
    const fresh = events.filter((event) => {
      if (event.seq > lastSeq) return true;
      if (!sameEvent(log[event.seq - 1], event)) {
        throw new Error(`SEQ_CONFLICT ${event.seq} holds other content`);
      }
      return false;
    });
    fresh.forEach((event, index) => {
      if (event.seq !== lastSeq + index + 1) {
        throw new Error(`SEQ_CONFLICT expected ${lastSeq + index + 1} got ${event.seq}`);
      }
    });
    if (fresh.length === 0) return;
    // Events never change once written: one frozen copy serves the log, watchers and readers.
    const stored = fresh.map((event) => Object.freeze(copyEvent(event)));
    log.push(...stored);
    this.logs.set(messageId, log);
    this.scheduleExpiry(messageId);
    for (const event of stored) {
      for (const watcher of this.watchers.get(messageId) ?? []) watcher(event);
    }
  }

  async read(messageId: string, afterSeq: number, limit: number): Promise<StreamEvent[]> {
    const log = this.logs.get(messageId) ?? [];
    // seq n sits at index n - 1, so the slice starts right after `afterSeq`.
    return log.slice(afterSeq, afterSeq + limit);
  }

  async newestSeq(messageId: string): Promise<number> {
    return this.logs.get(messageId)?.at(-1)?.seq ?? 0;
  }

  async watch(messageId: string, onEvent: (event: StreamEvent) => void): Promise<Unwatch> {
    const set = this.watchers.get(messageId) ?? new Set();
    set.add(onEvent);
    this.watchers.set(messageId, set);
    return async () => {
      set.delete(onEvent);
      if (set.size === 0) this.watchers.delete(messageId);
    };
  }

  async remove(messageIds: readonly string[]): Promise<void> {
    for (const id of messageIds) {
      this.logs.delete(id);
      clearTimeout(this.expiryTimers.get(id));
      this.expiryTimers.delete(id);
    }
  }

  close(): void {
    for (const timer of this.expiryTimers.values()) clearTimeout(timer);
    this.expiryTimers.clear();
  }

  /** Same lifetime rule as the Redis log: the TTL restarts at every append. */
  private scheduleExpiry(messageId: string): void {
    // Restarting the timer it has costs less than a new one for every token.
    const running = this.expiryTimers.get(messageId);
    if (running) {
      running.refresh();
      return;
    }
    const timer = setTimeout(() => {
      this.logs.delete(messageId);
      this.expiryTimers.delete(messageId);
    }, this.ttlSeconds * 1000);
    timer.unref();
    this.expiryTimers.set(messageId, timer);
  }
}

function sameEvent(stored: StreamEvent | undefined, event: StreamEvent): boolean {
  return stored !== undefined && JSON.stringify(stored) === JSON.stringify(event);
}

class MemoryControlBus implements ControlBus {
  private readonly handlers = new Set<(messageId: string) => void>();

  async publishCancel(messageId: string): Promise<void> {
    for (const handler of this.handlers) handler(messageId);
  }

  async onCancel(handler: (messageId: string) => void): Promise<Unwatch> {
    this.handlers.add(handler);
    return async () => {
      this.handlers.delete(handler);
    };
  }
}

/** Entries the embedded result cache holds unless told otherwise. */
export const DEFAULT_CACHE_MAX_ENTRIES = 1_000;

export function createMemoryBackend(options: {
  streamLogTtlSeconds: number;
  cacheMaxEntries?: number;
}): Backend {
  const streams = new MemoryStreamLog(options.streamLogTtlSeconds);
  return {
    kind: 'memory',
    store: new MemoryStore(),
    streams,
    control: new MemoryControlBus(),
    ledger: new MemoryLedger(),
    documents: new MemoryDocumentStore(),
    cache: new MemoryResultCache(options.cacheMaxEntries ?? DEFAULT_CACHE_MAX_ENTRIES),
    contacts: new MemoryContactStore(),
    ping: async () => {},
    close: async () => streams.close(),
  };
}
