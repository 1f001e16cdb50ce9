import type { MessageRecord, SessionRecord } from '../model.js';
import { builder } from './builder.js';

/** Refs of types that point at each other, declared apart so their files need not import each other. */
export const SessionRef = builder.objectRef<SessionRecord>('Session');
export const MessageRef = builder.objectRef<MessageRecord>('Message');
