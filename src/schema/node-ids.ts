import { type GraphQLSchema, isObjectType } from 'graphql';

/**
 * Every node's `id` resolved in step with its object. Pothos's relay plugin resolves a node's
 * `id` with an async function, so each Session, Message and Document on a page became a promise
 * the executor had to wait on (20 promises and an object-wide await per page of messages). Ids
 * here are already global ("msg_…"; `encodeGlobalID` is `String(id)`) and every node's `id`
 * option reads its record's `id`, so the same value is returned at once. Node ids carry no
 * auth scope, so no wrapper is lost by setting the resolver.
 */
export function resolveNodeIdsInStep(schema: GraphQLSchema): GraphQLSchema {
  for (const type of Object.values(schema.getTypeMap())) {
    if (!isObjectType(type) || !type.getInterfaces().some((face) => face.name === 'Node')) continue;
    const field = type.getFields().id;
    if (field) field.resolve = nodeId;
  }
  return schema;
}

function nodeId(record: { id: unknown }): string {
  return String(record.id);
}
