import { RequestCache } from '@pothos/plugin-scope-auth';
import type { StreamEvent } from '../model.js';
import { builder } from '../schema/builder.js';
import { MessageStreamEventRef } from '../schema/stream-event.js';

builder.subscriptionFields((t) => ({
  messageStream: t.field({
    type: MessageStreamEventRef,
    description:
      'Every event of one assistant message, from the start or from after `after`, then live, ' +
      'ending with exactly one MessageEnd.',
    authScopes: { chat: true },
    args: {
      messageId: t.arg.id({ required: true }),
      after: t.arg.string({ description: 'A cursor from an earlier event: resume after it.' }),
    },
    subscribe: (_root, { messageId, after }, context) => {
      // Authorized by now (authorizeOnSubscribe). Pothos keeps the scopes it worked out per
      // context, and a subscription holds its context for as long as it runs: ~0.6 KB of maps
      // per idle subscription. A later check would work them out again.
      RequestCache.clearForContext(context);
      return context.services.streams.open(context, messageId, after);
    },
    resolve: (event: StreamEvent) => event,
  }),
}));
