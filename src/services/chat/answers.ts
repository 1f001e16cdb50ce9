import { setMaxListeners } from 'node:events';
import {
  context,
  ROOT_CONTEXT,
  type Span,
  type SpanContext,
  SpanStatusCode,
  type Tracer,
  trace,
} from '@opentelemetry/api';
import { BadInput, RateLimited, Unavailable } from '../../errors.js';
import type { Ledger } from '../../infra/backend/ledger.js';
import type { ControlBus, Store, StreamLog, Unwatch } from '../../infra/backend/types.js';
import type { Logger } from '../../infra/logger.js';
import { NO_TRACING } from '../../infra/tracing.js';
import {
  FINAL_STATUSES,
  type MessageRecord,
  type Principal,
  type RetrievedChunkRecord,
  type SentMessages,
  type SessionRecord,
} from '../../model.js';
import type { TokenBudgets, TokenReservation } from '../limits/token-budgets.js';
import type { ChatTurn } from '../llm/index.js';
import { countUsage } from '../llm/usage.js';
import { EventWriter, type EventWriterOptions, StreamLost } from '../streams/event-writer.js';
import { readWholeLog } from '../streams/log-text.js';
import { retryUntilStored } from '../streams/storage-retry.js';
import { type AnswerGenerator, CancelRequested, ShutdownRequested } from './generator.js';
import { newMessageRecord } from './records.js';

/** Who asks for an answer: the principal, the ledger it is counted in, its request's logger. */
export interface Caller {
  principal: Principal;
  ledgerKey: string;
  log: Logger;
}

/** What grounds an answer in documents (`sendMessage(input: { rag })`). */
export interface Retriever {
  retrieve(
    principal: Principal,
    input: { query: string; collection?: string | null; k?: number | null },
  ): Promise<{ chunks: RetrievedChunkRecord[] }>;
}

export interface RagOptions {
  collection?: string | null;
  k?: number | null;
}

export interface AnswerLifecycleOptions {
  store: Store;
  retriever: Retriever;
  streams: StreamLog;
  control: ControlBus;
  ledger: Ledger;
  generator: AnswerGenerator;
  tokenBudgets: TokenBudgets;
  /** How long this instance's claims on an answer last unless renewed (renewed at a third). */
  leaseMs: number;
  /** How long a finished answer keeps retrying to reach storage once shutdown has begun. */
  shutdownGraceMs: number;
  maxConcurrentGenerations: number;
  /** The completion cap an answer reserves in the token budget (and asks the model for). */
  maxCompletionTokens: number;
  writer: EventWriterOptions;
  log: Logger;
  /** An answer is a trace of its own, linked to the operation that asked for it. */
  tracer?: Tracer;
  /** The model an answer asks for first (the chain's first), for its span. */
  requestModel?: string;
}

interface RunningAnswer {
  session: SessionRecord;
  assistant: MessageRecord;
  caller: Caller;
  turns: ChatTurn[];
  tokens: TokenReservation | null;
  controller: AbortController;
  done: Promise<void>;
  /** The span of the operation that admitted it (sendMessage), when that was traced. */
  origin: SpanContext | undefined;
  span: Span;
}

/**
 * The one owner of a running answer, from admission to its end: it claims the session (one
 * answer at a time), takes a place among the principal's running answers and the answer's token
 * reservation, leases the generation (so recovery can tell a dead instance's answers), stores
 * both messages, streams the model into the event log, renews what it holds, and at the end
 * stores the final message, frees the session, writes the MessageEnd, settles the tokens and
 * gives everything back. Recovery ends the answers of instances that died (`recover`).
 */
export class AnswerLifecycle {
  private readonly running = new Map<string, RunningAnswer>();
  private readonly stopping = new AbortController();
  private stopCancelListener: Unwatch | undefined;

  constructor(private readonly options: AnswerLifecycleOptions) {
    // Every answer waiting out a storage outage listens to it while it waits (and stops after):
    // many at once in an outage, not a leak.
    setMaxListeners(0, this.stopping.signal);
  }

  /** Listens for cancel requests from every instance. */
  async start(): Promise<void> {
    this.stopCancelListener = await this.options.control.onCancel((messageId) => {
      this.running.get(messageId)?.controller.abort(new CancelRequested());
    });
  }

  /** Answers streaming on this instance (for metrics). */
  get runningCount(): number {
    return this.running.size;
  }

  isRunningHere(messageId: string): boolean {
    return this.running.has(messageId);
  }

  /**
   * Admits an answer to `content` in `session`, or refuses with nothing stored: the session is
   * busy (BAD_USER_INPUT, reason SESSION_BUSY), no model can answer (UPSTREAM_UNAVAILABLE), the
   * principal runs too many answers or its token budget has no room (RATE_LIMITED).
   */
  async admit(
    session: SessionRecord,
    caller: Caller,
    content: string,
    flags: string[] = [],
    rag?: RagOptions | null,
  ): Promise<SentMessages> {
    const { store, generator, ledger, leaseMs } = this.options;
    if (generator.unavailable)
      throw new Unavailable('No model is available right now; retry shortly.');
    // Retrieved with the user's message before anything is stored or claimed.
    const sources = rag
      ? (await this.options.retriever.retrieve(caller.principal, { query: content, ...rag })).chunks
      : [];
    const userMessage = {
      ...newMessageRecord(session, caller.principal, 'USER', content, 'COMPLETED'),
      ...(flags.length > 0 ? { flags } : {}),
    };
    const assistant: MessageRecord = {
      ...newMessageRecord(session, caller.principal, 'ASSISTANT', '', 'STREAMING'),
      ...(rag ? { sources } : {}),
    };
    const undo: (() => Promise<unknown>)[] = [];
    try {
      const busyWith = await store.claimSession(session.id, assistant.id, leaseMs);
      if (busyWith) {
        throw new BadInput(
          'The previous answer in this session is still streaming: cancel it or wait for its MessageEnd.',
          { reason: 'SESSION_BUSY', messageId: busyWith },
        );
      }
      undo.push(() => store.releaseSession(session.id, assistant.id));
      const limits = { max: this.options.maxConcurrentGenerations, leaseMs };
      if (!(await ledger.acquireGeneration(caller.ledgerKey, assistant.id, limits, Date.now()))) {
        throw new RateLimited(
          `At most ${limits.max} answers may stream at once for one principal; wait for one to end.`,
          { retryAfterMs: 1_000, reason: 'CONCURRENT_GENERATIONS' },
        );
      }
      undo.push(() => ledger.releaseGeneration(caller.ledgerKey, assistant.id));
      const turns = await generator.contextFor(session, content, sources);
      const tokens = await this.reserveTokens(caller, turns);
      if (tokens) undo.push(() => this.options.tokenBudgets.settle(tokens, 0));
      await store.leaseGeneration(assistant.id, Date.now() + leaseMs);
      undo.push(() => store.endGenerationLease(assistant.id));
      await store.addMessage(userMessage);
      await store.addMessage(assistant);
      const active = trace.getActiveSpan();
      const origin = active?.isRecording() ? active.spanContext() : undefined;
      this.begin({ session, assistant, caller, turns, tokens, origin });
    } catch (error) {
      for (const step of undo.reverse()) await step().catch(() => {});
      throw error;
    }
    return { userMessage, assistantMessage: assistant };
  }

  /**
   * Stops an answer wherever it runs. Resolves once it has ended when it runs here; for one on
   * another instance the caller waits for its end event.
   */
  async cancel(messageId: string): Promise<'local' | 'remote'> {
    const local = this.running.get(messageId);
    if (local) {
      local.controller.abort(new CancelRequested());
      await local.done;
      return 'local';
    }
    await this.options.control.publishCancel(messageId);
    return 'remote';
  }

  /** Interrupts every local answer and waits until each has written its end. */
  async shutdown(): Promise<void> {
    await this.stopCancelListener?.().catch(() => {});
    const all = [...this.running.values()];
    for (const answer of all) answer.controller.abort(new ShutdownRequested());
    setTimeout(() => this.stopping.abort(), this.options.shutdownGraceMs).unref();
    await Promise.allSettled(all.map((answer) => answer.done));
  }

  /**
   * Ends an answer whose instance died (its lease lapsed and recovery took it): INTERRUPTED with
   * the text it had streamed, or only the end event its instance left unwritten. False when
   * there was nothing to end.
   */
  async recover(messageId: string): Promise<boolean> {
    const { store, streams } = this.options;
    const [message] = await store.getMessages([messageId]);
    if (!message) return false;
    const log = await readWholeLog(streams, messageId);
    if (log.ended) return false;
    let status = message.status;
    if (!FINAL_STATUSES.has(status)) {
      status = 'INTERRUPTED';
      await store.saveMessage({
        ...message,
        content: log.text,
        status,
        error: {
          code: 'GENERATION_LOST',
          message: 'The server generating this answer stopped before it finished.',
        },
        completedAt: new Date().toISOString(),
      });
      await store.releaseSession(message.sessionId, messageId);
    }
    await streams.append(messageId, [
      { type: 'end', messageId, seq: log.lastSeq + 1, status, at: Date.now() },
    ]);
    this.options.log.warn(
      { messageId, status, characters: log.text.length },
      'ended an orphaned answer',
    );
    return true;
  }

  /** Prompt tokens plus the completion cap, counted only when the principal has a budget. */
  private async reserveTokens(caller: Caller, turns: ChatTurn[]): Promise<TokenReservation | null> {
    const budgets = this.options.tokenBudgets;
    if (!budgets.policyFor(caller.principal)) return null;
    const { promptTokens } = await countUsage(turns, '');
    return budgets.reserve(
      caller.principal,
      caller.ledgerKey,
      promptTokens + this.options.maxCompletionTokens,
    );
  }

  private begin(answer: Omit<RunningAnswer, 'controller' | 'done' | 'span'>): void {
    const controller = new AbortController();
    const span = this.startSpan(answer);
    const running: RunningAnswer = { ...answer, controller, span, done: Promise.resolve() };
    // The answer outlives the mutation that started it: its own trace, linked back to it.
    const run = () => this.run(running);
    running.done = (
      span.isRecording() ? context.with(trace.setSpan(ROOT_CONTEXT, span), run) : run()
    )
      .catch((error: unknown) => {
        span.setStatus({ code: SpanStatusCode.ERROR, message: 'answer could not be stored' });
        answer.caller.log.error(
          { err: error, messageId: answer.assistant.id },
          'answer could not be stored',
        );
      })
      .finally(() => {
        span.end();
        this.running.delete(answer.assistant.id);
      });
    this.running.set(answer.assistant.id, running);
  }

  private startSpan(answer: Pick<RunningAnswer, 'assistant' | 'origin'>): Span {
    const tracer = this.options.tracer ?? NO_TRACING.tracer;
    return tracer.startSpan('answer generation', {
      root: true,
      links: answer.origin ? [{ context: answer.origin }] : [],
      attributes: {
        'parley.message.id': answer.assistant.id,
        'parley.session.id': answer.assistant.sessionId,
        ...(this.options.requestModel ? { 'gen_ai.request.model': this.options.requestModel } : {}),
      },
    });
  }

  /** The message's model, usage and status on the answer's span. */
  private recordOutcome(span: Span, final: MessageRecord): void {
    if (!span.isRecording()) return;
    span.setAttributes({
      'parley.message.status': final.status,
      ...(final.model ? { 'gen_ai.response.model': final.model } : {}),
      ...(final.usage
        ? {
            'gen_ai.usage.input_tokens': final.usage.promptTokens,
            'gen_ai.usage.output_tokens': final.usage.completionTokens,
          }
        : {}),
    });
    if (final.error) {
      span.setAttribute('error.type', final.error.code);
      span.setStatus({ code: SpanStatusCode.ERROR, message: final.error.code });
    }
  }

  private async run(answer: RunningAnswer): Promise<void> {
    const { assistant, caller } = answer;
    const writer = new EventWriter(this.options.streams, assistant.id, this.options.writer);
    const renewal = setInterval(() => this.renew(answer), this.options.leaseMs / 3);
    const outcome = await this.options.generator.generate(
      answer.turns,
      writer,
      answer.controller.signal,
      caller.log,
      assistant.id,
    );
    const final: MessageRecord = {
      ...assistant,
      ...outcome,
      content: writer.text,
      completedAt: new Date().toISOString(),
    };
    // Renewal stops before the claim is released: a late tick must not outlive the answer.
    clearInterval(renewal);
    this.recordOutcome(answer.span, final);
    await retryUntilStored(
      () => this.finish(answer, final, writer),
      this.stopping.signal,
      caller.log,
    );
  }

  /**
   * Stores the final message, frees the session (a client may send the next message the moment
   * it sees MessageEnd), writes the end event, then gives back what the answer held. Dying in
   * between leaves a lease that recovery finds, and it writes the missing end.
   */
  private async finish(answer: RunningAnswer, final: MessageRecord, writer: EventWriter) {
    const { store, ledger } = this.options;
    const { session, caller } = answer;
    await store.saveMessage(final);
    await store.saveSession({ ...session, updatedAt: final.completedAt ?? session.updatedAt });
    await store.releaseSession(session.id, final.id);
    try {
      await writer.end(final.status);
    } catch (error) {
      if (!(error instanceof StreamLost)) throw error;
      // Storage came back without this message (restarted empty): nothing is left to end, and
      // its subscribers notice the message is gone on their next check.
      caller.log.warn({ messageId: final.id }, 'the answer lost its stored log; it is dropped');
    }
    await store.endGenerationLease(final.id);
    await ledger.releaseGeneration(caller.ledgerKey, final.id).catch(() => {});
    if (answer.tokens) {
      const used = (final.usage?.promptTokens ?? 0) + (final.usage?.completionTokens ?? 0);
      await this.options.tokenBudgets.settle(answer.tokens, used).catch(() => {});
    }
    caller.log.info(
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

  /** Extends only what the answer still holds: a renewal never claims anything anew. */
  private renew(answer: RunningAnswer): void {
    const { store, ledger, leaseMs } = this.options;
    const now = Date.now();
    const id = answer.assistant.id;
    store.renewGenerationLease(id, now + leaseMs).catch(() => {});
    store.renewSessionClaim(answer.session.id, id, leaseMs).catch(() => {});
    ledger.renewGeneration(answer.caller.ledgerKey, id, leaseMs, now).catch(() => {});
  }
}
