import type { MessageError, MessageRecord, TokenUsage } from '../model.js';
import { builder } from './builder.js';
import { loadOwned } from './loading.js';
import { RetrievedChunkRef } from './rag.js';
import { MessageRef, SessionRef } from './refs.js';

export const RoleEnum = builder.enumType('Role', {
  values: ['USER', 'ASSISTANT', 'SYSTEM'] as const,
});

export const MessageStatusEnum = builder.enumType('MessageStatus', {
  values: ['PENDING', 'STREAMING', 'COMPLETED', 'FAILED', 'CANCELLED', 'INTERRUPTED'] as const,
});

const MessageErrorRef = builder.objectRef<MessageError>('MessageError').implement({
  description: 'Why an answer ended FAILED or INTERRUPTED.',
  fields: (t) => ({
    code: t.exposeString('code'),
    message: t.exposeString('message'),
  }),
});

export const TokenUsageRef = builder.objectRef<TokenUsage>('TokenUsage').implement({
  fields: (t) => ({
    promptTokens: t.exposeInt('promptTokens'),
    completionTokens: t.exposeInt('completionTokens'),
  }),
});

const isLive = (message: MessageRecord) =>
  message.status === 'STREAMING' || message.status === 'PENDING';

builder.node(MessageRef, {
  id: { resolve: (message) => message.id },
  loadOne: (id, { loaders }) => loadOwned(loaders.message, 'Message', id),
  fields: (t) => ({
    session: t.field({
      type: SessionRef,
      resolve: (message, _args, { loaders }) =>
        loadOwned(loaders.session, 'Session', message.sessionId),
    }),
    role: t.expose('role', { type: RoleEnum }),
    content: t.string({
      description: 'For a STREAMING message: the text so far.',
      resolve: (message, _args, { loaders }) =>
        isLive(message) ? loaders.liveContent.load(message.id) : message.content,
    }),
    status: t.expose('status', { type: MessageStatusEnum }),
    error: t.expose('error', { type: MessageErrorRef, nullable: true }),
    model: t.exposeString('model', { nullable: true, description: 'Which model answered.' }),
    usage: t.expose('usage', { type: TokenUsageRef, nullable: true }),
    sources: t.field({
      type: [RetrievedChunkRef],
      description:
        'Chunks that grounded the answer, numbered [1], [2]… in this order (empty without RAG).',
      resolve: (message) => message.sources ?? [],
    }),
    flags: t.stringList({
      description:
        'Input-guard flags of a user message: PROMPT_INJECTION_SUSPECTED when it looks like an attempt to override the instructions (a heuristic; see INPUT_GUARD).',
      resolve: (message) => message.flags ?? [],
    }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    completedAt: t.expose('completedAt', { type: 'DateTime', nullable: true }),
  }),
});
