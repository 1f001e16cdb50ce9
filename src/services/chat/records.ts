import { randomUUID } from 'node:crypto';
import type { MessageRecord, Principal, SessionRecord } from '../../model.js';

/** Ids have the shapes model.ts checks every incoming id against. */
export const newSessionId = () => `ses_${randomUUID().replaceAll('-', '')}`;
export const newMessageId = () => `msg_${randomUUID().replaceAll('-', '')}`;

export function newMessageRecord(
  session: SessionRecord,
  principal: Principal,
  role: MessageRecord['role'],
  content: string,
  status: MessageRecord['status'],
): MessageRecord {
  const now = new Date().toISOString();
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
    createdAt: now,
    completedAt: role === 'USER' ? now : null,
  };
}
