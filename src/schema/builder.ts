import SchemaBuilder from '@pothos/core';
import DirectivesPlugin from '@pothos/plugin-directives';
import RelayPlugin from '@pothos/plugin-relay';
import ScopeAuthPlugin from '@pothos/plugin-scope-auth';
import { GraphQLScalarType } from 'graphql';
import { DateTimeResolver, JSONResolver } from 'graphql-scalars';
import type { Context } from '../context.js';
import { Forbidden, NotFound } from '../errors.js';

export type { Context };

const ID_PREFIXES: Record<string, string> = { ses: 'Session', msg: 'Message', doc: 'Document' };

export const builder = new SchemaBuilder<{
  Context: Context;
  Directives: {
    /** IBM GraphQL Cost Directive (as Apollo reads it): this field's own weight. */
    cost: { locations: 'FIELD_DEFINITION'; args: { weight: number } };
    /** How many items a list holds: its slicing arguments, or an assumed size. */
    listSize: {
      locations: 'FIELD_DEFINITION';
      args: {
        assumedSize?: number;
        slicingArguments?: string[];
        sizedFields?: string[];
        requireOneSlicingArgument?: boolean;
      };
    };
  };
  AuthScopes: { chat: boolean; rag: boolean; admin: boolean };
  DefaultFieldNullability: false;
  Scalars: {
    ID: { Input: string; Output: string };
    DateTime: { Input: Date; Output: Date | string };
    JSON: { Input: unknown; Output: unknown };
  };
}>({
  plugins: [ScopeAuthPlugin, RelayPlugin, DirectivesPlugin],
  // Keyed by name: the form @graphql-tools prints into schema.graphql.
  directives: { useGraphQLToolsUnorderedDirectives: true },
  defaultFieldNullability: false,
  scopeAuth: {
    authorizeOnSubscribe: true,
    authScopes: (context) => ({
      chat: context.principal.scopes.includes('chat'),
      rag: context.principal.scopes.includes('rag'),
      admin: context.principal.scopes.includes('admin'),
    }),
    unauthorizedError: (_parent, _context, info) =>
      new Forbidden(`Your API key has no scope for "${info.fieldName}".`),
  },
  relay: {
    clientMutationId: 'omit',
    cursorType: 'String',
    nodesQueryOptions: false,
    // Ids are already global ("ses_…", "msg_…"): the prefix names the type.
    encodeGlobalID: (_typename, id) => String(id),
    decodeGlobalID: (globalID) => {
      const typename = ID_PREFIXES[globalID.split('_', 1)[0] ?? ''];
      if (!typename) throw new NotFound('Node', globalID);
      return { typename, id: globalID };
    },
  },
});

// Every DateTime the server emits is its own ISO string (toISOString) or a Date: serialize it
// without graphql-scalars' per-value validation and re-parse; inputs are parsed as it does.
builder.addScalarType(
  'DateTime',
  new GraphQLScalarType({
    ...DateTimeResolver.toConfig(),
    serialize: (value) => (value instanceof Date ? value.toISOString() : String(value)),
  }),
);
builder.addScalarType('JSON', JSONResolver);
