import { randomUUID } from 'node:crypto';
import type { MessageRecord, SessionRecord, StreamEvent } from '../../src/model.js';
import type { TestServer } from './server.js';

const hexId = () => randomUUID().replaceAll('-', '');

/** A finished answer of `deltas` deltas of `text` and its end, stored directly (nothing generated). */
export async function storeAnswer(
  server: TestServer,
  deltas: number,
  text = 'token ',
): Promise<string> {
  const { store, streams } = server.app.backend;
  const now = new Date().toISOString();
  const session: SessionRecord = {
    id: `ses_${hexId()}`,
    principal: 'anonymous',
    title: null,
    persona: 'default',
    createdAt: now,
    updatedAt: now,
  };
  const messageId = `msg_${hexId()}`;
  const events: StreamEvent[] = Array.from({ length: deltas }, (_, index) => ({
    type: 'delta',
    messageId,
    seq: index + 1,
    text,
    at: Date.now(),
  }));
  events.push({ type: 'end', messageId, seq: deltas + 1, status: 'COMPLETED', at: Date.now() });
  const message: MessageRecord = {
    id: messageId,
    sessionId: session.id,
    principal: 'anonymous',
    role: 'ASSISTANT',
    content: text.repeat(deltas),
    status: 'COMPLETED',
    error: null,
    model: 'parley-local-responder',
    usage: null,
    createdAt: now,
    completedAt: now,
  };
  await store.createSession(session);
  await store.addMessage(message);
  await streams.append(messageId, events);
  return messageId;
}
