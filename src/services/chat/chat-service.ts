import { BadInput, NotFound, Unavailable } from '../../errors.js';
import type { SessionListEntry, Store, StreamLog } from '../../infra/backend/types.js';
import type { Logger } from '../../infra/logger.js';
import {
  FINAL_STATUSES,
  isMessageId,
  isSessionId,
  type MessageRecord,
  type Principal,
  type SentMessages,
  type SessionRecord,
} from '../../model.js';
import type { PersonaService } from '../personas.js';
import type { StreamService } from '../streams/stream-service.js';
import type { AnswerLifecycle, Caller, RagOptions } from './answers.js';
import type { InputGuard } from './input-guard.js';
import { newSessionId } from './records.js';

export interface ChatOptions {
  maxMessageChars: number;
  maxTitleChars: number;
  /** How long cancelMessage waits for a generation on another instance to end. */
  cancelWaitMs: number;
}

export interface ChatServiceParts {
  store: Store;
  streams: StreamLog;
  personas: PersonaService;
  answers: AnswerLifecycle;
  streamService: StreamService;
  inputGuard: InputGuard;
  options: ChatOptions;
  log: Logger;
}

/**
 * Sessions and messages: creation, access, sending and cancelling. Every method checks that
 * the principal owns what it names (anyone else gets NOT_FOUND, never its content).
 */
export class ChatService {
  private accepting = true;

  constructor(private readonly parts: ChatServiceParts) {}

  /** New work is refused from here on (shutdown drains). */
  stopAccepting(): void {
    this.accepting = false;
  }

  listSessionEntries(
    principal: Principal,
    page: { beforeKey: number | undefined; limit: number },
  ): Promise<SessionListEntry[]> {
    return this.parts.store.listSessions(principal.id, page);
  }

  async createSession(
    principal: Principal,
    input: { persona?: string | null; title?: string | null },
  ): Promise<SessionRecord> {
    this.assertAccepting();
    const { personas, store, options } = this.parts;
    const persona = personas.resolve(input.persona);
    const title = input.title?.trim() || null;
    if (title && title.length > options.maxTitleChars) {
      throw new BadInput(`The title is longer than ${options.maxTitleChars} characters.`, {
        field: 'title',
      });
    }
    const now = new Date().toISOString();
    const session: SessionRecord = {
      id: newSessionId(),
      principal: principal.id,
      title,
      persona: persona.id,
      createdAt: now,
      updatedAt: now,
    };
    await store.createSession(session);
    this.parts.log.info({ sessionId: session.id, persona: persona.id }, 'session created');
    return session;
  }

  /** Cancels the session's running answer first, so its subscribers get their MessageEnd. */
  async deleteSession(principal: Principal, id: string): Promise<boolean> {
    await this.ownedSession(principal, id);
    const latest = await this.latestMessage(id);
    if (latest && !FINAL_STATUSES.has(latest.status)) await this.cancelAndWait(latest.id);
    const messageIds = await this.parts.store.deleteSession(id);
    await this.parts.streams.remove(messageIds);
    this.parts.log.info({ sessionId: id, messages: messageIds.length }, 'session deleted');
    return true;
  }

  async sendMessage(
    caller: Caller,
    input: { sessionId: string; content: string; rag?: RagOptions | null },
  ): Promise<SentMessages> {
    this.assertAccepting();
    const { maxMessageChars } = this.parts.options;
    if (input.content.trim() === '') {
      throw new BadInput('The message content is empty.', { field: 'content' });
    }
    if (input.content.length > maxMessageChars) {
      throw new BadInput(`The message content is longer than ${maxMessageChars} characters.`, {
        field: 'content',
        maxLength: maxMessageChars,
      });
    }
    const flags = this.parts.inputGuard.check(input.content);
    const session = await this.ownedSession(caller.principal, input.sessionId);
    const sent = await this.parts.answers.admit(session, caller, input.content, flags, input.rag);
    if (flags.length > 0) {
      caller.log.warn({ messageId: sent.userMessage.id, flags }, 'input guard flagged a message');
    }
    caller.log.info(
      {
        sessionId: session.id,
        messageId: sent.assistantMessage.id,
        characters: input.content.length,
      },
      'message sent',
    );
    return sent;
  }

  /** Ends a streaming answer as CANCELLED, keeping its partial text; a finished one is returned as is. */
  async cancelMessage(principal: Principal, id: string): Promise<MessageRecord> {
    const message = await this.ownedMessage(principal, id);
    if (message.role !== 'ASSISTANT') {
      throw new BadInput('Only assistant messages can be cancelled.', { field: 'id' });
    }
    if (FINAL_STATUSES.has(message.status)) return message;
    await this.cancelAndWait(id);
    return this.ownedMessage(principal, id);
  }

  private async ownedSession(principal: Principal, id: string): Promise<SessionRecord> {
    const [session] = isSessionId(id) ? await this.parts.store.getSessions([id]) : [null];
    if (!session || session.principal !== principal.id) throw new NotFound('Session', id);
    return session;
  }

  private async ownedMessage(principal: Principal, id: string): Promise<MessageRecord> {
    const [message] = isMessageId(id) ? await this.parts.store.getMessages([id]) : [null];
    if (!message || message.principal !== principal.id) throw new NotFound('Message', id);
    return message;
  }

  private async cancelAndWait(messageId: string): Promise<void> {
    const where = await this.parts.answers.cancel(messageId);
    if (where === 'remote') {
      await this.parts.streamService.waitForEnd(messageId, this.parts.options.cancelWaitMs);
    }
  }

  /** Only the latest message can be generating: a session runs one answer at a time. */
  private async latestMessage(sessionId: string): Promise<MessageRecord | null> {
    const { store } = this.parts;
    const [count = 0] = await store.countMessages([sessionId]);
    if (count === 0) return null;
    const [ids = []] = await store.listMessageIds([{ sessionId, offset: count - 1, limit: 1 }]);
    const [message = null] = await store.getMessages(ids);
    return message;
  }

  private assertAccepting(): void {
    if (!this.accepting) {
      throw new Unavailable('The server is shutting down; retry on another instance.');
    }
  }
}
