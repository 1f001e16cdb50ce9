import { callerOf } from '../context.js';
import { builder } from '../schema/builder.js';
import {
  CreateSessionInput,
  SendMessageInput,
  SendMessagePayloadRef,
} from '../schema/chat-inputs.js';
import { pagedConnection } from '../schema/cost-directives.js';
import { loadOwned } from '../schema/loading.js';
import { assertPageSize, decodeKeyCursor, encodeKeyCursor } from '../schema/pagination.js';
import { MessageRef, SessionRef } from '../schema/refs.js';
import { messagePageAhead, SessionConnectionRef } from '../schema/session.js';

export const DEFAULT_SESSION_PAGE = 20;
/** An answer is a model call: it costs as much as 50 objects read (on top of a mutation's 10). */
export const SEND_MESSAGE_WEIGHT = 50;

builder.queryFields((t) => ({
  session: t.field({
    type: SessionRef,
    nullable: true,
    authScopes: { chat: true },
    args: { id: t.arg.id({ required: true }) },
    resolve: async (_root, { id }, { loaders }, info) => {
      // A session asked for with its messages is read with its page, in one round trip.
      const page = messagePageAhead(id, info);
      if (page) await loaders.primeSessionWithMessages(page);
      return loadOwned(loaders.session, 'Session', id);
    },
  }),
  sessions: t.field({
    type: SessionConnectionRef,
    description: `The caller's sessions, newest first; ${DEFAULT_SESSION_PAGE} per page unless \`first\` says otherwise (at most 100).`,
    authScopes: { chat: true },
    directives: pagedConnection(DEFAULT_SESSION_PAGE, ['first']),
    args: { first: t.arg.int(), after: t.arg.string() },
    resolve: async (_root, args, { services, principal, loaders }) => {
      assertPageSize(args);
      const first = args.first ?? DEFAULT_SESSION_PAGE;
      const entries = await services.chat.listSessionEntries(principal, {
        beforeKey: args.after ? decodeKeyCursor(args.after) : undefined,
        limit: first + 1,
      });
      const page = entries.slice(0, first);
      const sessions = await loaders.session.loadMany(page.map((entry) => entry.id));
      const edges = page.flatMap((entry, index) => {
        const session = sessions[index];
        return session && !(session instanceof Error)
          ? [{ cursor: encodeKeyCursor(entry.key), node: session }]
          : [];
      });
      return {
        edges,
        pageInfo: {
          hasNextPage: entries.length > first,
          hasPreviousPage: Boolean(args.after),
          startCursor: edges[0]?.cursor ?? null,
          endCursor: edges.at(-1)?.cursor ?? null,
        },
      };
    },
  }),
}));

builder.mutationFields((t) => ({
  createSession: t.field({
    type: SessionRef,
    authScopes: { chat: true },
    args: { input: t.arg({ type: CreateSessionInput, required: true }) },
    resolve: (_root, { input }, context) =>
      context.services.chat.createSession(context.principal, input),
  }),
  deleteSession: t.boolean({
    description: 'Deletes the session and its messages; a streaming answer is cancelled first.',
    authScopes: { chat: true },
    args: { id: t.arg.id({ required: true }) },
    resolve: async (_root, { id }, { services, principal, loaders }) => {
      const deleted = await services.chat.deleteSession(principal, id);
      loaders.session.clear(id);
      return deleted;
    },
  }),
  sendMessage: t.field({
    type: SendMessagePayloadRef,
    description:
      'Stores the user message and starts the answer. While the previous answer in the session ' +
      'still streams, this fails with BAD_USER_INPUT (extensions.reason SESSION_BUSY).',
    authScopes: { chat: true },
    directives: { cost: { weight: SEND_MESSAGE_WEIGHT } },
    args: { input: t.arg({ type: SendMessageInput, required: true }) },
    resolve: (_root, { input }, context) =>
      context.services.chat.sendMessage(callerOf(context), input),
  }),
  cancelMessage: t.field({
    type: MessageRef,
    description: 'Ends a streaming answer as CANCELLED, keeping its partial text.',
    authScopes: { chat: true },
    args: { id: t.arg.id({ required: true }) },
    resolve: async (_root, { id }, { services, principal, loaders }) => {
      const cancelled = await services.chat.cancelMessage(principal, id);
      loaders.message.clear(id).prime(id, cancelled);
      return cancelled;
    },
  }),
}));
