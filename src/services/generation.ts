import type { Logger } from '../infra/logger.js';
import type { ControlBus, Store, StreamLog, Unwatch } from '../infra/backend/types.js';
import type { MessageError, MessageRecord, MessageStatus, SessionRecord, TokenUsage } from '../model.js';
import { EventWriter } from './event-writer.js';
import { type ChatTurn, GenerationFailure, type LlmProvider } from './llm/index.js';
import type { PersonaService } from './personas.js';

/** Why a generation was stopped from outside; the reason decides the final status. */
export class CancelRequested extends Error {
  override name = 'CancelRequested';
}
export class ShutdownRequested extends Error {
  override name = 'ShutdownRequested';
}

export interface GenerationOptions {
  historyMessages: number;
  /** Lifetime of the session's generation claim; refreshed while the generation runs. */
  claimTtlMs: number;
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
 * context, streams the model into the message's event log, then stores the final message before
 * writing the end event (so a MessageEnd always sees the final state).
 */
export class GenerationService {
  private readonly running = new Map<string, RunningGeneration>();
  private stopCancelListener: Unwatch | undefined;

  constructor(
    private readonly store: Store,
    private readonly streams: StreamLog,
    private readonly control: ControlBus,
    private readonly llm: LlmProvider,
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

  get model(): string {
    return this.llm.model;
  }

  /** Starts generating `assistant` in the background; the session claim is already held. */
  begin(session: SessionRecord, assistant: MessageRecord): void {
    const controller = new AbortController();
    const done = this.run(session, assistant, controller.signal)
      .catch((error: unknown) => {
        this.log.error({ err: error, messageId: assistant.id }, 'generation could not finish');
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
    await Promise.allSettled(all.map((generation) => generation.done));
  }

  private async run(session: SessionRecord, assistant: MessageRecord, signal: AbortSignal) {
    const writer = new EventWriter(this.streams, assistant.id);
    const refreshClaim = setInterval(() => {
      this.store.claimSession(session.id, assistant.id, this.options.claimTtlMs).catch(() => {});
    }, this.options.claimTtlMs / 3);
    let usage: TokenUsage | null = null;
    let outcome: Outcome;
    try {
      const turns = await this.contextFor(session, assistant);
      for await (const chunk of this.llm.stream(turns, signal)) {
        if (chunk.kind === 'text') writer.push(chunk.text);
        else usage = chunk.usage;
        if (writer.failure !== undefined) {
          throw new GenerationFailure('STORAGE_UNAVAILABLE', 'The answer could not be stored.');
        }
      }
      signal.throwIfAborted();
      outcome = { status: 'COMPLETED', error: null };
    } catch (error) {
      outcome = this.outcomeOf(signal.aborted ? signal.reason : error, assistant.id);
    } finally {
      clearInterval(refreshClaim);
    }
    await this.finish(session, assistant, writer, usage, outcome);
  }

  private async finish(
    session: SessionRecord,
    assistant: MessageRecord,
    writer: EventWriter,
    usage: TokenUsage | null,
    outcome: Outcome,
  ): Promise<void> {
    const now = new Date().toISOString();
    await this.store.saveMessage({
      ...assistant,
      content: writer.text,
      status: outcome.status,
      error: outcome.error,
      model: this.llm.model,
      usage,
      completedAt: now,
    });
    await writer.end(outcome.status);
    await this.store.saveSession({ ...session, updatedAt: now });
    await this.store.releaseSession(session.id, assistant.id);
    this.log.info(
      {
        messageId: assistant.id,
        status: outcome.status,
        errorCode: outcome.error?.code,
        characters: writer.text.length,
      },
      'generation ended',
    );
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
      ...history.map((message): ChatTurn => ({
        role: message.role === 'USER' ? 'user' : 'assistant',
        content: message.content,
      })),
    ];
  }

  private outcomeOf(reason: unknown, messageId: string): Outcome {
    if (reason instanceof CancelRequested) return { status: 'CANCELLED', error: null };
    if (reason instanceof ShutdownRequested) {
      return {
        status: 'INTERRUPTED',
        error: { code: 'SERVER_SHUTDOWN', message: 'The server shut down during the answer.' },
      };
    }
    if (reason instanceof GenerationFailure) {
      this.log.warn({ messageId, code: reason.code, err: reason.cause }, 'generation failed');
      return { status: 'FAILED', error: { code: reason.code, message: reason.message } };
    }
    this.log.error({ messageId, err: reason }, 'generation failed unexpectedly');
    return { status: 'FAILED', error: { code: 'INTERNAL_ERROR', message: 'The answer failed.' } };
  }
}

/** Failed or empty answers would only confuse the model. */
function usableInContext(message: MessageRecord): boolean {
  if (message.role === 'USER') return true;
  return message.role === 'ASSISTANT' && message.status === 'COMPLETED' && message.content !== '';
}
