import type { ControlBus, Store, StreamLog, Unwatch } from '../infra/backend/types.js';
import type { Logger } from '../infra/logger.js';
import type {
  MessageError,
  MessageRecord,
  MessageStatus,
  SessionRecord,
  TokenUsage,
} from '../model.js';
import {
  EventWriter,
  type EventWriterOptions,
  StorageOutageTooLong,
  StreamLost,
} from './event-writer.js';
import { type ChatTurn, GenerationFailure, type LlmChain } from './llm/index.js';
import { countUsage } from './llm/usage.js';
import type { PersonaService } from './personas.js';
import { retryUntilStored } from './storage-retry.js';

/** Why a generation was stopped from outside; the reason decides the final status. */
export class CancelRequested extends Error {
  override name = 'CancelRequested';
}
export class ShutdownRequested extends Error {
  override name = 'ShutdownRequested';
}

export interface GenerationOptions {
  historyMessages: number;
  /** How long this instance's claim on a generation lasts unless renewed (renewed at a third). */
  leaseMs: number;
  /** How long a finished answer keeps retrying to reach storage once shutdown has begun. */
  shutdownGraceMs: number;
  /** How much of an answer, and for how long, is held while storage is away. */
  writer: EventWriterOptions;
}

interface RunningGeneration {
  controller: AbortController;
  done: Promise<void>;
}

interface Outcome {
  status: MessageStatus;
  error: MessageError | null;
}

/**
 * Runs assistant answers in the background of the instance that accepted them: builds the
 * context, streams the model chain into the message's event log, then stores the final message
 * before writing the end event (so a MessageEnd always sees the final state). While it runs it
 * renews a lease; if the instance dies the lease lapses and recovery interrupts the message.
 */
export class GenerationService {
  private readonly running = new Map<string, RunningGeneration>();
  private readonly stopping = new AbortController();
  private stopCancelListener: Unwatch | undefined;

  constructor(
    private readonly store: Store,
    private readonly streams: StreamLog,
    private readonly control: ControlBus,
    private readonly llm: LlmChain,
    private readonly personas: PersonaService,
    private readonly options: GenerationOptions,
    private readonly log: Logger,
  ) {}

  /** Listens for cancel requests from every instance. */
  async start(): Promise<void> {
    this.stopCancelListener = await this.control.onCancel((messageId) => {
      this.running.get(messageId)?.controller.abort(new CancelRequested());
    });
  }

  /** True when no model can answer now (every breaker open): refuse before storing anything. */
  get unavailable(): boolean {
    return this.llm.unavailable;
  }

  isRunningHere(messageId: string): boolean {
    return this.running.has(messageId);
  }

  /** Takes the lease on a generation about to begin (before its messages are stored). */
  async reserve(messageId: string): Promise<void> {
    await this.store.leaseGeneration(messageId, Date.now() + this.options.leaseMs);
  }

  /**
   * Starts generating `assistant` in the background; `reserve` came first. `log` is the request's
   * logger, so the answer's log lines carry the id of the request that asked for it.
   */
  begin(session: SessionRecord, assistant: MessageRecord, log: Logger = this.log): void {
    const controller = new AbortController();
    const done = this.run(session, assistant, controller.signal, log)
      .catch((error: unknown) => {
        log.error({ err: error, messageId: assistant.id }, 'generation could not be stored');
      })
      .finally(() => this.running.delete(assistant.id));
    this.running.set(assistant.id, { controller, done });
  }

  /**
   * Stops a generation wherever it runs. Resolves once it has ended when it runs here; for one
   * on another instance the caller waits for its end event.
   */
  async cancel(messageId: string): Promise<'local' | 'remote'> {
    const local = this.running.get(messageId);
    if (local) {
      local.controller.abort(new CancelRequested());
      await local.done;
      return 'local';
    }
    await this.control.publishCancel(messageId);
    return 'remote';
  }

  /** Interrupts every local generation and waits until each has written its end. */
  async shutdown(): Promise<void> {
    await this.stopCancelListener?.().catch(() => {});
    const all = [...this.running.values()];
    for (const generation of all) generation.controller.abort(new ShutdownRequested());
    setTimeout(() => this.stopping.abort(), this.options.shutdownGraceMs).unref();
    await Promise.allSettled(all.map((generation) => generation.done));
  }

  private async run(
    session: SessionRecord,
    assistant: MessageRecord,
    signal: AbortSignal,
    log: Logger,
  ) {
    const writer = new EventWriter(this.streams, assistant.id, this.options.writer);
    const renewLease = setInterval(
      () => this.renewLease(session, assistant),
      this.options.leaseMs / 3,
    );
    let usage: TokenUsage | null = null;
    let model: string | null = null;
    let turns: ChatTurn[] = [];
    let outcome: Outcome;
    try {
      turns = await this.contextFor(session, assistant);
      for await (const chunk of this.llm.stream(turns, signal)) {
        if (chunk.kind === 'text') writer.push(chunk.text);
        else if (chunk.kind === 'usage') usage = chunk.usage;
        else model = chunk.model;
        if (writer.failure !== undefined) throw storageFailure(writer.failure);
      }
      signal.throwIfAborted();
      outcome = { status: 'COMPLETED', error: null };
    } catch (error) {
      outcome = this.outcomeOf(signal.aborted ? signal.reason : error, assistant.id, log);
    }
    if (usage === null && turns.length > 0) usage = await countUsage(turns, writer.text);
    const final: MessageRecord = {
      ...assistant,
      content: writer.text,
      status: outcome.status,
      error: outcome.error,
      model,
      usage,
      completedAt: new Date().toISOString(),
    };
    // Renewal stops before the claim is released: a late tick must not outlive the answer.
    clearInterval(renewLease);
    await retryUntilStored(
      () => this.finish(session, final, writer, log),
      this.stopping.signal,
      log,
    );
  }

  /**
   * Stores the final message, frees the session (a client may send the next message the moment
   * it sees MessageEnd), writes the end event, then drops the lease. Dying in between leaves a
   * lease that recovery finds, and it writes the missing end.
   */
  private async finish(
    session: SessionRecord,
    final: MessageRecord,
    writer: EventWriter,
    log: Logger,
  ) {
    await this.store.saveMessage(final);
    await this.store.saveSession({ ...session, updatedAt: final.completedAt ?? session.updatedAt });
    await this.store.releaseSession(session.id, final.id);
    try {
      await writer.end(final.status);
    } catch (error) {
      if (!(error instanceof StreamLost)) throw error;
      // Storage came back without this message (restarted empty): nothing is left to end, and
      // its subscribers notice the message is gone on their next check.
      log.warn({ messageId: final.id }, 'the answer lost its stored log; it is dropped');
    }
    await this.store.endGenerationLease(final.id);
    log.info(
      {
        messageId: final.id,
        status: final.status,
        model: final.model,
        errorCode: final.error?.code,
        characters: final.content.length,
      },
      'generation ended',
    );
  }

  private renewLease(session: SessionRecord, assistant: MessageRecord): void {
    const expiresAt = Date.now() + this.options.leaseMs;
    this.store.renewGenerationLease(assistant.id, expiresAt).catch(() => {});
    this.store.renewSessionClaim(session.id, assistant.id, this.options.leaseMs).catch(() => {});
  }

  /** The persona's system prompt, then the session's last messages that a model can use. */
  private async contextFor(session: SessionRecord, assistant: MessageRecord): Promise<ChatTurn[]> {
    const persona = this.personas.find(session.persona) ?? this.personas.resolve(undefined);
    const limit = this.options.historyMessages;
    const [count = 0] = await this.store.countMessages([session.id]);
    const [ids = []] = await this.store.listMessageIds([
      { sessionId: session.id, offset: Math.max(0, count - limit - 1), limit: limit + 1 },
    ]);
    const history = (await this.store.getMessages(ids))
      .filter((message): message is MessageRecord => message !== null)
      .filter((message) => message.id !== assistant.id && usableInContext(message))
      .slice(-limit);
    return [
      { role: 'system', content: persona.systemPrompt },
      ...history.map(
        (message): ChatTurn => ({
          role: message.role === 'USER' ? 'user' : 'assistant',
          content: message.content,
        }),
      ),
    ];
  }

  private outcomeOf(reason: unknown, messageId: string, log: Logger): Outcome {
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
}

const STORAGE_CODES: ReadonlySet<string> = new Set(['STORAGE_UNAVAILABLE', 'GENERATION_LOST']);

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
