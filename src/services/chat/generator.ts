import type { Store } from '../../infra/backend/types.js';
import type { Logger } from '../../infra/logger.js';
import type { LlmMetrics } from '../../infra/metrics.js';
import type {
  MessageError,
  MessageErrorCode,
  MessageRecord,
  MessageStatus,
  RetrievedChunkRecord,
  SessionRecord,
  TokenUsage,
} from '../../model.js';
import { type ChatTurn, GenerationFailure, type LlmChain } from '../llm/index.js';
import { countUsage } from '../llm/usage.js';
import type { PersonaService } from '../personas.js';
import { groundingTurn } from '../rag/prompt.js';
import { type EventWriter, StorageOutageTooLong, StreamLost } from '../streams/event-writer.js';

/** Why a generation was stopped from outside; the reason decides the final status. */
export class CancelRequested extends Error {
  override name = 'CancelRequested';
}
export class ShutdownRequested extends Error {
  override name = 'ShutdownRequested';
}

export interface Outcome {
  status: MessageStatus;
  error: MessageError | null;
  model: string | null;
  usage: TokenUsage | null;
}

export interface AnswerGeneratorOptions {
  store: Store;
  llm: LlmChain;
  personas: PersonaService;
  historyMessages: number;
  /** Where each answer's usage is counted, by the model that gave it. */
  metrics?: LlmMetrics;
}

/**
 * The model's part of an answer: what the model sees (the persona's prompt and the session's
 * last usable messages), and streaming its text into the answer's writer until it ends, fails or
 * is stopped. Storing and ending the answer is the lifecycle's (answers.ts).
 */
export class AnswerGenerator {
  constructor(private readonly options: AnswerGeneratorOptions) {}

  get unavailable(): boolean {
    return this.options.llm.unavailable;
  }

  /**
   * The persona's system prompt, the session's last messages a model can use, the retrieved
   * sources (numbered, with the instruction to cite them) when there are any, then `question`.
   */
  async contextFor(
    session: SessionRecord,
    question: string,
    sources: readonly RetrievedChunkRecord[] = [],
  ): Promise<ChatTurn[]> {
    const { store, personas, historyMessages: limit } = this.options;
    const persona = personas.find(session.persona) ?? personas.resolve(undefined);
    const [count = 0] = await store.countMessages([session.id]);
    const [ids = []] = await store.listMessageIds([
      { sessionId: session.id, offset: Math.max(0, count - limit), limit },
    ]);
    const history = (await store.getMessages(ids))
      .filter((message): message is MessageRecord => message !== null)
      .filter(usableInContext)
      .slice(-(limit - 1));
    const grounding = groundingTurn(sources);
    return [
      { role: 'system', content: persona.systemPrompt },
      ...history.map(
        (message): ChatTurn => ({
          role: message.role === 'USER' ? 'user' : 'assistant',
          content: message.content,
        }),
      ),
      ...(grounding ? [grounding] : []),
      { role: 'user', content: question },
    ];
  }

  /** Streams the answer into `writer`; never throws: every ending is an outcome. */
  async generate(
    turns: readonly ChatTurn[],
    writer: EventWriter,
    signal: AbortSignal,
    log: Logger,
    messageId: string,
  ): Promise<Outcome> {
    let usage: TokenUsage | null = null;
    let model: string | null = null;
    let ending: Pick<Outcome, 'status' | 'error'>;
    try {
      for await (const chunk of this.options.llm.stream(turns, signal)) {
        if (chunk.kind === 'text') writer.push(chunk.text);
        else if (chunk.kind === 'usage') usage = chunk.usage;
        else model = chunk.model;
        if (writer.failure !== undefined) throw storageFailure(writer.failure);
      }
      signal.throwIfAborted();
      ending = { status: 'COMPLETED', error: null };
    } catch (error) {
      ending = endingOf(signal.aborted ? signal.reason : error, messageId, log);
    }
    // A count that fails must not leave the answer unended: it is then simply unknown.
    usage ??= await countUsage(turns, writer.text).catch(() => null);
    if (model !== null && usage !== null) this.options.metrics?.tokens(model, usage);
    return { ...ending, model, usage };
  }
}

const STORAGE_CODES: ReadonlySet<MessageErrorCode> = new Set([
  'STORAGE_UNAVAILABLE',
  'GENERATION_LOST',
]);

function endingOf(
  reason: unknown,
  messageId: string,
  log: Logger,
): Pick<Outcome, 'status' | 'error'> {
  if (reason instanceof CancelRequested) return { status: 'CANCELLED', error: null };
  if (reason instanceof ShutdownRequested) {
    return {
      status: 'INTERRUPTED',
      error: { code: 'SERVER_SHUTDOWN', message: 'The server shut down during the answer.' },
    };
  }
  if (reason instanceof GenerationFailure) {
    log.warn({ messageId, code: reason.code, err: reason.cause }, 'generation failed');
    const status = STORAGE_CODES.has(reason.code) ? 'INTERRUPTED' : 'FAILED';
    return { status, error: { code: reason.code, message: reason.message } };
  }
  log.error({ messageId, err: reason }, 'generation failed unexpectedly');
  return { status: 'FAILED', error: { code: 'INTERNAL_ERROR', message: 'The answer failed.' } };
}

function storageFailure(failure: unknown): GenerationFailure {
  if (failure instanceof StreamLost) {
    return new GenerationFailure('GENERATION_LOST', 'Storage lost this answer.', {
      cause: failure,
    });
  }
  const message =
    failure instanceof StorageOutageTooLong
      ? 'Storage was unavailable for longer than an answer can wait.'
      : 'The answer could not be stored.';
  return new GenerationFailure('STORAGE_UNAVAILABLE', message, { cause: failure });
}

/** Failed or empty answers would only confuse the model. */
function usableInContext(message: MessageRecord): boolean {
  if (message.role === 'USER') return true;
  return message.role === 'ASSISTANT' && message.status === 'COMPLETED' && message.content !== '';
}
