import type { SentMessages } from '../model.js';
import { builder } from './builder.js';
import { MessageRef } from './refs.js';

export const CreateSessionInput = builder.inputType('CreateSessionInput', {
  fields: (t) => ({
    persona: t.string({ description: 'A persona id from `personas`; `default` when omitted.' }),
    title: t.string(),
  }),
});

export const RagOptions = builder.inputType('RagOptions', {
  fields: (t) => ({
    collection: t.string(),
    k: t.int(),
  }),
});

export const SendMessageInput = builder.inputType('SendMessageInput', {
  fields: (t) => ({
    sessionId: t.id({ required: true }),
    content: t.string({ required: true }),
    rag: t.field({ type: RagOptions }),
  }),
});

export const SendMessagePayloadRef = builder
  .objectRef<SentMessages>('SendMessagePayload')
  .implement({
    fields: (t) => ({
      userMessage: t.expose('userMessage', { type: MessageRef }),
      assistantMessage: t.expose('assistantMessage', {
        type: MessageRef,
        description: 'STREAMING; follow it with `messageStream(messageId: assistantMessage.id)`.',
      }),
    }),
  });
