import type { DocumentRecord, MessageRecord, SessionRecord, StreamEvent } from '../../model.js';
import type { ResultCache } from './cache.js';
import type { ContactStore } from './contacts.js';
import type { Ledger } from './ledger.js';

/**
 * The ports every backend implements. `memory` serves one process; `redis` lets any number of
 * instances share sessions, messages and streams. Both pass the same contract tests.
 */

export interface SessionListEntry {
  id: string;
  /** Position in the principal's list, newest first; a page continues strictly below it. */
  key: number;
}

export interface MessagePageRequest {
  sessionId: string;
  offset: number;
  limit: number;
}

export interface Store {
  createSession(session: SessionRecord): Promise<void>;
  saveSession(session: SessionRecord): Promise<void>;
  getSessions(ids: readonly string[]): Promise<(SessionRecord | null)[]>;
  listSessions(
    principal: string,
    page: { beforeKey: number | undefined; limit: number },
  ): Promise<SessionListEntry[]>;
  /** Removes the session and its messages; returns the removed message ids. */
  deleteSession(sessionId: string): Promise<string[]>;

  /** Stores a new message at the end of its session. */
  addMessage(message: MessageRecord): Promise<void>;
  saveMessage(message: MessageRecord): Promise<void>;
  getMessages(ids: readonly string[]): Promise<(MessageRecord | null)[]>;
  countMessages(sessionIds: readonly string[]): Promise<number[]>;
  /** One page of message ids per request, oldest first; all requests in one round trip. */
  listMessageIds(pages: readonly MessagePageRequest[]): Promise<string[][]>;
  /**
   * One page of messages per request, oldest first, as `listMessageIds` then `getMessages` would
   * give them (an id whose record is gone is left out); ids and records in one round trip.
   */
  listMessages(pages: readonly MessagePageRequest[]): Promise<MessageRecord[][]>;
  /**
   * A session with one page of its messages, as `getSessions` and `listMessages` would give them
   * (no messages when there is no such session), in one round trip: a client opening a
   * conversation asks for both at once.
   */
  getSessionWithMessages(
    page: MessagePageRequest,
  ): Promise<{ session: SessionRecord | null; messages: MessageRecord[] }>;

  /**
   * Marks `holder` as the one generation running in a session, for `ttlMs`. Returns null when
   * claimed, or the id of the generation that already holds it.
   */
  claimSession(sessionId: string, holder: string, ttlMs: number): Promise<string | null>;
  /**
   * Extends a claim `holder` still has; never claims a free session (a renewal that lands after
   * the answer ended must not make the session busy again). False when the claim is gone.
   */
  renewSessionClaim(sessionId: string, holder: string, ttlMs: number): Promise<boolean>;
  releaseSession(sessionId: string, holder: string): Promise<void>;

  /**
   * Records that an instance is generating `messageId` until `expiresAt` (epoch ms); calling it
   * again extends the lease. An instance that dies stops extending it.
   */
  leaseGeneration(messageId: string, expiresAt: number): Promise<void>;
  /** Extends a lease that still exists; an ended lease stays ended. */
  renewGenerationLease(messageId: string, expiresAt: number): Promise<void>;
  endGenerationLease(messageId: string): Promise<void>;
  /** Generations whose lease ended before `now`, oldest first, at most `limit`. */
  expiredGenerations(now: number, limit: number): Promise<string[]>;
  /** Takes an expired lease for recovery: true for exactly one caller, false once extended. */
  takeExpiredGeneration(messageId: string, now: number): Promise<boolean>;
}

export interface StreamLog {
  /** Appends events to a message's log, then announces them to watchers (in that order). */
  append(messageId: string, events: readonly StreamEvent[]): Promise<void>;
  /** Events with seq > afterSeq, in order, at most `limit`. */
  read(messageId: string, afterSeq: number, limit: number): Promise<StreamEvent[]>;
  /** The seq of the newest event in the log; 0 for an empty or absent log. */
  newestSeq(messageId: string): Promise<number>;
  /** Live announcements; at most once, so readers treat them as a hint and the log as truth. */
  watch(messageId: string, onEvent: (event: StreamEvent) => void): Promise<Unwatch>;
  remove(messageIds: readonly string[]): Promise<void>;
}

export type Unwatch = () => Promise<void>;

/** Instance-to-instance signals: a cancel reaches whichever instance runs the generation. */
export interface ControlBus {
  publishCancel(messageId: string): Promise<void>;
  onCancel(handler: (messageId: string) => void): Promise<Unwatch>;
}

export interface Backend {
  readonly kind: 'memory' | 'redis';
  readonly store: Store;
  readonly streams: StreamLog;
  readonly control: ControlBus;
  readonly ledger: Ledger;
  readonly documents: DocumentStore;
  /** Cached results (text operations). */
  readonly cache: ResultCache;
  readonly contacts: ContactStore;
  /** Resolves when the backend answers; rejects otherwise. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

/* Retrieval documents: records, their chunks with embeddings, and a feed of their changes. */

export interface StoredChunk {
  id: string;
  text: string;
  /** The embedding of `text`, of the collection's dimension. */
  embedding: number[];
}

/** Which embedding model a collection's vectors come from; one per collection. */
export interface CollectionEmbedding {
  model: string;
  dimensions: number;
}

export interface DocumentCommit {
  document: DocumentRecord;
  chunks: StoredChunk[];
  embedding: CollectionEmbedding;
  /** The id the source's key held when the commit was prepared (null: none). */
  replaces: string | null;
  maxDocumentsPerPrincipal: number;
}

export type CommitOutcome =
  | { status: 'committed' }
  /** The source key changed meanwhile (a concurrent ingest): prepare again. */
  | { status: 'conflict' }
  | { status: 'too-many-documents' }
  | { status: 'embedding-mismatch'; existing: CollectionEmbedding };

/** One entry of the change feed: a document to read again (it may since be gone). */
export interface DocumentChange {
  documentId: string;
}

export interface DocumentListEntry {
  id: string;
  /** Position in the principal's list, newest first; a page continues strictly below it. */
  key: number;
}

/**
 * Documents and chunks as stored. A commit or a delete changes every record of one document and
 * appends to the change feed in one atomic step, so no reader ever sees half of one.
 */
export interface DocumentStore {
  /** The id of the document `sourceId` names in the principal's collection, if any. */
  findBySource(principal: string, collection: string, sourceId: string): Promise<string | null>;
  getDocuments(ids: readonly string[]): Promise<(DocumentRecord | null)[]>;
  /** A document's chunks, in order; null when it is gone. */
  getChunks(documentId: string): Promise<StoredChunk[] | null>;
  commit(commit: DocumentCommit): Promise<CommitOutcome>;
  /** Removes the document and its chunks; false when it was already gone. */
  delete(document: DocumentRecord): Promise<boolean>;
  countDocuments(principal: string): Promise<number>;
  collectionEmbedding(principal: string, collection: string): Promise<CollectionEmbedding | null>;
  listDocuments(
    principal: string,
    page: { collection: string | undefined; beforeKey: number | undefined; limit: number },
  ): Promise<DocumentListEntry[]>;
  /** Every stored document id, in pages (to build an index at start). */
  allDocumentIds(): AsyncIterable<string[]>;
  /**
   * Changes from now on, at least once and in order per document (a feed that skipped some calls
   * `onGap`, and the caller reads everything again).
   */
  watchChanges(onChange: (change: DocumentChange) => void, onGap: () => void): Promise<Unwatch>;
}
