import { builder } from './builder.js';
import { pagedConnection } from './cost-directives.js';
import { loadOwned } from './loading.js';
import { assertPageSize, asUserInput, resolveOffsetPage } from './pagination.js';
import { PersonaRef } from './persona.js';
import { MessageRef, SessionRef } from './refs.js';

export const DEFAULT_MESSAGE_PAGE = 50;

builder.node(SessionRef, {
  description: 'A conversation with one persona; owned by the principal that created it.',
  id: { resolve: (session) => session.id },
  loadOne: (id, { loaders }) => loadOwned(loaders.session, 'Session', id),
  fields: (t) => ({
    title: t.exposeString('title', { nullable: true }),
    persona: t.field({
      type: PersonaRef,
      resolve: (session, _args, context) =>
        context.services.personas.find(session.persona) ??
        context.services.personas.resolve(undefined),
    }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    updatedAt: t.expose('updatedAt', { type: 'DateTime' }),
    messages: t.connection(
      {
        type: MessageRef,
        directives: pagedConnection(DEFAULT_MESSAGE_PAGE),
        description: `Oldest first; ${DEFAULT_MESSAGE_PAGE} per page unless first/last say otherwise (at most 100).`,
        resolve: (session, args, { loaders }) =>
          asUserInput(async () => {
            assertPageSize(args);
            // Only a page counted from the end needs the total; `first` pages fetch one extra row.
            const totalCount =
              args.last === null || args.last === undefined
                ? undefined
                : await loaders.messageCount.load(session.id);
            return resolveOffsetPage(
              { args, defaultSize: DEFAULT_MESSAGE_PAGE, maxSize: 100, totalCount },
              ({ offset, limit }) =>
                loaders.messagePage.load({ sessionId: session.id, offset, limit }),
            );
          }),
      },
      { name: 'MessageConnection' },
      { name: 'MessageEdge' },
    ),
  }),
});

export const SessionConnectionRef = builder.connectionObject(
  { type: SessionRef, name: 'SessionConnection' },
  { name: 'SessionEdge' },
);
