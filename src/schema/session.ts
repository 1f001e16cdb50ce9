import { offsetForArgs } from '@pothos/plugin-relay';
import {
  type FieldNode,
  type GraphQLResolveInfo,
  getArgumentValues,
  getNamedType,
  isObjectType,
  Kind,
  type SelectionSetNode,
} from 'graphql';
import type { MessagePageRequest } from '../loaders.js';
import { builder } from './builder.js';
import { pagedConnection } from './cost-directives.js';
import { loadOwned } from './loading.js';
import { assertPageSize, asUserInput, MAX_PAGE_SIZE, resolveOffsetPage } from './pagination.js';
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
            return resolveOffsetPage(messagePageOptions(args, totalCount), ({ offset, limit }) =>
              loaders.messagePage.load({ sessionId: session.id, offset, limit }),
            );
          }),
      },
      { name: 'MessageConnection' },
      { name: 'MessageEdge' },
    ),
  }),
});

type MessagePageArgs = Parameters<typeof offsetForArgs>[0]['args'];

function messagePageOptions(args: MessagePageArgs, totalCount: number | undefined) {
  return { args, defaultSize: DEFAULT_MESSAGE_PAGE, maxSize: MAX_PAGE_SIZE, totalCount };
}

/**
 * The page of messages the operation will ask of the session this field resolves, when it is
 * known before the session is read: a `messages` field selected on it (directly or in a
 * fragment, without directives) whose arguments need no count (`last` does). Undefined
 * otherwise, and for arguments the field will refuse: it raises the error itself.
 */
export function messagePageAhead(
  sessionId: string,
  info: GraphQLResolveInfo,
): MessagePageRequest | undefined {
  const sessionType = getNamedType(info.returnType);
  const field = isObjectType(sessionType) ? sessionType.getFields().messages : undefined;
  const node = field && messagesSelection(info.fieldNodes, info);
  if (!field || !node) return undefined;
  try {
    const args = getArgumentValues(field, node, info.variableValues) as MessagePageArgs;
    if (args.last !== null && args.last !== undefined) return undefined;
    assertPageSize(args);
    const { offset, limit } = offsetForArgs(messagePageOptions(args, undefined));
    return { sessionId, offset, limit };
  } catch {
    return undefined;
  }
}

/** The first `messages` field under `nodes`, looking into fragments (at most 3 deep). */
function messagesSelection(
  nodes: readonly { selectionSet?: SelectionSetNode }[],
  info: GraphQLResolveInfo,
  depth = 0,
): FieldNode | undefined {
  for (const node of nodes) {
    for (const selection of node.selectionSet?.selections ?? []) {
      if (selection.directives?.length) continue;
      if (selection.kind === Kind.FIELD) {
        if (selection.name.value === 'messages') return selection;
        continue;
      }
      if (depth >= 3) continue;
      const fragment =
        selection.kind === Kind.INLINE_FRAGMENT ? selection : info.fragments[selection.name.value];
      const found = fragment && messagesSelection([fragment], info, depth + 1);
      if (found) return found;
    }
  }
  return undefined;
}

export const SessionConnectionRef = builder.connectionObject(
  { type: SessionRef, name: 'SessionConnection' },
  { name: 'SessionEdge' },
);
