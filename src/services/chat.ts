import { randomUUID } from 'node:crypto';
import { BadInput, NotFound, Unavailable } from '../errors.js';
import type { Store, StreamLog } from '../infra/backend/types.js';
import type { Logger } from '../infra/logger.js';
import {
  FINAL_STATUSES,
  type MessageRecord,
  type Principal,
  type SessionRecord,
} from '../model.js';
import type { GenerationService } from './generation.js';
import type { Loaders } from './loaders.js';
import type { PersonaService } from './personas.js';
import type { StreamService } from './streams.js';

export const newSessionId = () => `ses_${randomUUID().replaceAll('-', '')}`;
export const newMessageId = () => `msg_${randomUUID().replaceAll('-', '')}`;

export interface ChatOptions {
  maxMessageChars: number;
  maxTitleChars: number;
  /** Lifetime of a session's generation claim (renewed while the answer streams). */
  leaseMs: number;
  /** How long cancelMessage waits for a generation on another instance to end. */
  cancelWaitMs: number;
}

export interface SentMessages {
  userMessage: MessageRecord;
  assistantMessage: MessageRecord;
}

/** Sessions and messages: creation, access, sending and cancelling. */
export class ChatService {
  private accepting = true;

  constructor(
    private readonly store: Store,
    private readonly streams: StreamLog,
    private readonly personas: PersonaService,
    private readonly generation: GenerationService,
    private readonly streamService: StreamService,
    private readonly options: ChatOptions,
    private readonly log: Logger,
  ) {}

  /** New work is refused from here on (shutdown drains). */
  stopAccepting(): void {
    this.accepting = false;
  }

  async ownedSession(loaders: Loaders, id: string): Promise<SessionRecord> {
    const session = await loaders.session.load(id);
    if (!session) throw new NotFound('Session', id);
    return session;
  }

  async ownedMessage(loaders: Loaders, id: string): Promise<MessageRecord> {
    const message = await loaders.message.load(id);
    if (!message) throw new NotFound('Message', id);
    return message;
  }

  listSessionEntries(principal: Principal, page: { beforeKey: number | undefined; limit: number }) {
    return this.store.listSessions(principal.id, page);
  }

  async createSession(
    principal: Principal,
    input: { persona?: string | null; title?: string | null },
  ): Promise<SessionRecord> {
    this.assertAccepting();
    const persona = this.personas.resolve(input.persona);
    const title = input.title?.trim() || null;
    if (title && title.length > this.options.maxTitleChars) {
      throw new BadInput(`The title is longer than ${this.options.maxTitleChars} characters.`, {
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
    await this.store.createSession(session);
    this.log.info({ sessionId: session.id, persona: persona.id }, 'session created');
    return session;
  }

  /** Cancels the session's running answer first, so its subscribers get their MessageEnd. */
  async deleteSession(loaders: Loaders, id: string): Promise<boolean> {
    await this.ownedSession(loaders, id);
    const latest = await this.latestMessage(id);
    if (latest && !FINAL_STATUSES.has(latest.status)) await this.cancelAndWait(latest.id);
    const messageIds = await this.store.deleteSession(id);
    await this.streams.remove(messageIds);
    loaders.session.clear(id);
    this.log.info({ sessionId: id, messages: messageIds.length }, 'session deleted');
    return true;
  }

  /** `log` is the request's logger: the answer's log lines carry the request id. */
  async sendMessage(
    loaders: Loaders,
    principal: Principal,
    input: { sessionId: string; content: string },
    log: Logger = this.log,
  ): Promise<SentMessages> {
    this.assertAccepting();
    if (input.content.trim() === '') {
      throw new BadInput('The message content is empty.', { field: 'content' });
    }
    if (input.content.length > this.options.maxMessageChars) {
      throw new BadInput(
        `The message content is longer than ${this.options.maxMessageChars} characters.`,
        { field: 'content', maxLength: this.options.maxMessageChars },
      );
    }
    const session = await this.ownedSession(loaders, input.sessionId);
    if (this.generation.unavailable) {
      throw new Unavailable('No model is available right now; retry shortly.');
    }
    const userMessage = this.newMessage(session, principal, 'USER', input.content, 'COMPLETED');
    const assistantMessage = this.newMessage(session, principal, 'ASSISTANT', '', 'STREAMING');
    const busyWith = await this.store.claimSession(
      session.id,
      assistantMessage.id,
      this.options.leaseMs,
    );
    if (busyWith) {
      throw new BadInput(
        'The previous answer in this session is still streaming: cancel it or wait for its MessageEnd.',
        { reason: 'SESSION_BUSY', messageId: busyWith },
      );
    }
    try {
      await this.generation.reserve(assistantMessage.id);
      await this.store.addMessage(userMessage);
      await this.store.addMessage(assistantMessage);
    } catch (error) {
      await this.store.releaseSession(session.id, assistantMessage.id).catch(() => {});
      throw error;
    }
    this.generation.begin(session, assistantMessage, log);
    log.info(
      { sessionId: session.id, messageId: assistantMessage.id, characters: input.content.length },
      'message sent',
    );
    return { userMessage, assistantMessage };
  }

  /** Ends a streaming answer as CANCELLED, keeping its partial text; a finished one is returned as is. */
  async cancelMessage(loaders: Loaders, id: string): Promise<MessageRecord> {
    const message = await this.ownedMessage(loaders, id);
    if (message.role !== 'ASSISTANT') {
      throw new BadInput('Only assistant messages can be cancelled.', { field: 'id' });
    }
    if (FINAL_STATUSES.has(message.status)) return message;
    await this.cancelAndWait(id);
    loaders.message.clear(id);
    return this.ownedMessage(loaders, id);
  }

  private async cancelAndWait(messageId: string): Promise<void> {
    const where = await this.generation.cancel(messageId);
    if (where === 'remote')
      await this.streamService.waitForEnd(messageId, this.options.cancelWaitMs);
  }

  /** Only the latest message can be generating: a session runs one answer at a time. */
  private async latestMessage(sessionId: string): Promise<MessageRecord | null> {
    const [count = 0] = await this.store.countMessages([sessionId]);
    if (count === 0) return null;
    const [ids = []] = await this.store.listMessageIds([
      { sessionId, offset: count - 1, limit: 1 },
    ]);
    const [message = null] = await this.store.getMessages(ids);
    return message;
  }

  private newMessage(
    session: SessionRecord,
    principal: Principal,
    role: MessageRecord['role'],
    content: string,
    status: MessageRecord['status'],
  ): MessageRecord {
    return {
      id: newMessageId(),
      sessionId: session.id,
      principal: principal.id,
      role,
      content,
      status,
      error: null,
      model: null,
      usage: null,
      createdAt: new Date().toISOString(),
      completedAt: role === 'USER' ? new Date().toISOString() : null,
    };
  }

  private assertAccepting(): void {
    if (!this.accepting)
      throw new Unavailable('The server is shutting down; retry on another instance.');
  }
}
