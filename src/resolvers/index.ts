import { type GraphQLSchema, specifiedDirectives } from 'graphql';
import { builder } from '../schema/builder.js';
import { costDirective, listSizeDirective } from '../schema/cost-directives.js';
import { resolveNodeIdsInStep } from '../schema/node-ids.js';
import '../schema/message.js';
import '../schema/session.js';
import './admin.js';
import './chat.js';
import './contact.js';
import './rag.js';
import './streams.js';
import './system.js';
import './text.js';

builder.queryType({});
builder.mutationType({});
builder.subscriptionType({});

let schema: GraphQLSchema | undefined;

/**
 * The executable schema; built once, since the builder holds types, not state. Naming directives
 * replaces graphql's own, so @include, @skip, @deprecated and the rest are named too.
 */
export function buildSchema(): GraphQLSchema {
  schema ??= resolveNodeIdsInStep(
    builder.toSchema({
      sortSchema: true,
      directives: [...specifiedDirectives, costDirective, listSizeDirective],
    }),
  );
  return schema;
}
