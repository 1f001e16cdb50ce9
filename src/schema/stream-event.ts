import { NotFound } from '../errors.js';
import { cursorOf, type DeltaEvent, type EndEvent, type StreamEvent } from '../model.js';
import { builder } from './builder.js';
import { MessageRef } from './refs.js';

const MessageDeltaRef = builder.objectRef<DeltaEvent>('MessageDelta').implement({
  description:
    'A piece of an answer. Concatenated in seq order, the texts equal the final content.',
  fields: (t) => ({
    messageId: t.exposeID('messageId'),
    seq: t.exposeInt('seq'),
    cursor: t.string({ resolve: (event) => cursorOf(event.seq) }),
    text: t.exposeString('text'),
    at: t.field({
      type: 'DateTime',
      description: 'When the server stored the delta.',
      resolve: (event) => new Date(event.at),
    }),
  }),
});

const MessageEndRef = builder.objectRef<EndEvent>('MessageEnd').implement({
  description:
    'The last event of every stream. message.status says how it ended; STREAMING means this ' +
    'server is shutting down while another instance still generates: resume with `after: cursor`.',
  fields: (t) => ({
    messageId: t.exposeID('messageId'),
    cursor: t.string({ resolve: (event) => cursorOf(event.seq) }),
    message: t.field({
      type: MessageRef,
      // Not through the subscription's loader: it lives as long as the subscription, and the
      // final state must be read fresh (and through a brief outage: see endedMessage).
      resolve: async (event, _args, { principal, services }) => {
        if (event.snapshot) return event.snapshot;
        const message = await services.streams.endedMessage(principal, event.messageId);
        if (!message) throw new NotFound('Message', event.messageId);
        return message;
      },
    }),
  }),
});

export const MessageStreamEventRef = builder.unionType('MessageStreamEvent', {
  types: [MessageDeltaRef, MessageEndRef],
  resolveType: (event: StreamEvent) => (event.type === 'delta' ? MessageDeltaRef : MessageEndRef),
});
