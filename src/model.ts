/** Records shared by every layer: plain data, no behaviour. */

export type Role = 'USER' | 'ASSISTANT' | 'SYSTEM';

export type MessageStatus =
  | 'PENDING'
  | 'STREAMING'
  | 'COMPLETED'
  | 'FAILED'
  | 'CANCELLED'
  | 'INTERRUPTED';

export const FINAL_STATUSES: ReadonlySet<MessageStatus> = new Set([
  'COMPLETED',
  'FAILED',
  'CANCELLED',
  'INTERRUPTED',
]);

export interface Principal {
  id: string;
  scopes: readonly string[];
  anonymous: boolean;
}

export interface SessionRecord {
  id: string;
  principal: string;
  title: string | null;
  persona: string;
  createdAt: string;
  updatedAt: string;
}

/**
 * Why an answer ended FAILED (the model side) or INTERRUPTED (the server side): the only values
 * `Message.error.code` takes.
 */
export const MESSAGE_ERROR_CODES = [
  'UPSTREAM_TIMEOUT',
  'UPSTREAM_RATE_LIMITED',
  'UPSTREAM_ERROR',
  'UPSTREAM_UNAVAILABLE',
  'UPSTREAM_INCOMPLETE',
  'UPSTREAM_BAD_RESPONSE',
  'INTERNAL_ERROR',
  'SERVER_SHUTDOWN',
  'GENERATION_LOST',
  'STORAGE_UNAVAILABLE',
] as const;
export type MessageErrorCode = (typeof MESSAGE_ERROR_CODES)[number];

export interface MessageError {
  code: MessageErrorCode;
  message: string;
}

export interface TokenUsage {
  promptTokens: number;
  completionTokens: number;
}

export interface MessageRecord {
  id: string;
  sessionId: string;
  principal: string;
  role: Role;
  /** For a STREAMING message this is empty: the text so far lives in its event log. */
  content: string;
  status: MessageStatus;
  error: MessageError | null;
  model: string | null;
  usage: TokenUsage | null;
  createdAt: string;
  completedAt: string | null;
  /** Input-guard flags of a user message (absent on records stored before flags existed). */
  flags?: string[];
  /** The chunks that grounded an assistant message (absent without RAG). */
  sources?: RetrievedChunkRecord[];
}

export interface DeltaEvent {
  type: 'delta';
  messageId: string;
  seq: number;
  text: string;
  /** Epoch ms when the event was appended; lets benchmarks measure delivery latency. */
  at: number;
}

export interface EndEvent {
  type: 'end';
  messageId: string;
  seq: number;
  status: MessageStatus;
  at: number;
  /**
   * Set only on an end a server made up because the log could not be read (storage outage):
   * the message as that server knew it, since storage cannot be asked. Never stored.
   */
  snapshot?: MessageRecord;
}

/** One entry of a message's event log. `seq` starts at 1 and has no gaps. */
export type StreamEvent = DeltaEvent | EndEvent;

export type SessionPageKey = number;

export interface SentMessages {
  userMessage: MessageRecord;
  assistantMessage: MessageRecord;
}

export interface Persona {
  id: string;
  name: string;
  description: string;
  systemPrompt: string;
}

export type HealthStatus = 'OK' | 'DEGRADED' | 'DOWN';

export interface HealthCheck {
  name: string;
  status: HealthStatus;
  latencyMs: number | null;
  detail: string | null;
}

export interface HealthReport {
  status: HealthStatus;
  version: string;
  uptimeSeconds: number;
  checks: HealthCheck[];
}

export type BreakerState = 'CLOSED' | 'OPEN' | 'HALF_OPEN';

export interface BreakerSnapshot {
  name: string;
  state: BreakerState;
  /** Counts over the rolling window. */
  fires: number;
  successes: number;
  failures: number;
  rejects: number;
  timeouts: number;
  latencyMeanMs: number;
}

/** A principal's LLM token budget in its current window. */
export interface TokenBudgetView {
  limit: number;
  used: number;
  remaining: number;
  resetAt: Date;
}

/** The caller's point bucket as this operation left it, and what the operation cost. */
export interface RateLimitView {
  limit: number;
  remaining: number;
  restoreRate: number;
  resetAt: Date;
  cost: number;
}

/** Who asks, and their token budget, read only when selected. */
export interface ViewerRecord {
  principal: Principal;
  tokenBudget: () => Promise<TokenBudgetView | null>;
}

/** Stream cursors are the event's seq in decimal; clients treat them as opaque strings. */
export const cursorOf = (seq: number) => String(seq);

/**
 * The shapes of the ids this server makes. Every id from outside is checked against them before
 * it reaches a backend key: anything else is simply not found.
 */
const SESSION_ID = /^ses_[0-9a-f]{32}$/;
const MESSAGE_ID = /^msg_[0-9a-f]{32}$/;

export const isSessionId = (id: string) => SESSION_ID.test(id);
export const isMessageId = (id: string) => MESSAGE_ID.test(id);

/* Retrieval (RAG): documents, their chunks, and the chunks that grounded an answer. */

/** A document as clients see it; its chunks and their embeddings are stored beside it. */
export interface DocumentRecord {
  id: string;
  principal: string;
  collection: string;
  title: string;
  chunkCount: number;
  createdAt: string;
  /** The caller's id for the source; re-ingesting it in the same collection replaces this one. */
  sourceId: string | null;
  metadata: unknown;
  /** Changes with every ingest of this id, so an index can tell a version it already holds. */
  revision: string;
  /** The model its chunks were embedded with. */
  embeddingModel: string;
}

/** One retrieved chunk: its text, its document, and its fused score (0–1, higher is better). */
export interface RetrievedChunkRecord {
  id: string;
  document: DocumentRecord;
  text: string;
  score: number;
}

export const DEFAULT_COLLECTION = 'default';

const DOCUMENT_ID = /^doc_[0-9a-f]{32}$/;
export const isDocumentId = (id: string) => DOCUMENT_ID.test(id);

/* Text operations (analyzeText, analyzeTexts). */

export const TEXT_OPERATIONS = [
  'SUMMARIZE',
  'SENTIMENT',
  'KEY_POINTS',
  'QUESTIONS',
  'ANSWER',
] as const;
export type TextOperation = (typeof TEXT_OPERATIONS)[number];

export const SENTIMENT_LABELS = ['POSITIVE', 'NEGATIVE', 'NEUTRAL', 'MIXED'] as const;
export type SentimentLabel = (typeof SENTIMENT_LABELS)[number];

/** One text operation's result; only the field of its operation is set. */
export interface TextAnalysisRecord {
  operation: TextOperation;
  summary: string | null;
  sentiment: { label: SentimentLabel; confidence: number } | null;
  points: string[] | null;
  questions: string[] | null;
  answer: string | null;
  model: string | null;
  /** What making the result cost; a cached result repeats it and charges nothing. */
  usage: TokenUsage | null;
  /** Set when no language model made the result (the offline responder). */
  notice: string | null;
  cached: boolean;
}

/** Why one item of a batch has no result: the contract code and a client-safe message. */
export interface TextAnalysisErrorRecord {
  index: number;
  code: string;
  message: string;
  reason: string | null;
}

export interface TextCacheOperationStats {
  operation: TextOperation;
  hits: number;
  misses: number;
  entries: number;
}

export interface TextCacheStats {
  hits: number;
  misses: number;
  entries: number;
  operations: TextCacheOperationStats[];
}

/* Contact: submissions of the public contact form. */

/** One submission as stored (its fields trimmed and checked); listed by `admin { contacts }`. */
export interface ContactRecord {
  id: string;
  name: string;
  email: string;
  message: string;
  createdAt: string;
}

const CONTACT_LIST_KEY = /^\d{1,15}-\d{1,15}$/;

/** A contact list position (a stream entry id) from outside, checked before it reaches a key. */
export const isContactListKey = (key: string) => CONTACT_LIST_KEY.test(key);
