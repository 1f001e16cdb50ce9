import { getOperationAST, Kind, parse } from 'graphql';
import type { Principal } from '../model.js';

/** Root mutation fields a caller without an API key may run: the public contact form. */
const PUBLIC_MUTATION_FIELDS: ReadonlySet<string> = new Set(['submitContact', '__typename']);

/**
 * Who a caller without a key is while running a public operation: no scopes, counted by address
 * (anonymous), so nothing else in the schema becomes reachable through it.
 */
export const PUBLIC_PRINCIPAL: Principal = { id: 'public', scopes: [], anonymous: true };

/**
 * True only for a document whose operation to run is a mutation selecting nothing but public
 * root fields, directly (no fragments, which could add others). The document has already passed
 * parsing and validation with every limit when the context is built, so parsing it again is cheap
 * and cannot fail in a new way.
 */
export function isPublicOperation(
  query: string | undefined,
  operationName: string | null | undefined,
): boolean {
  if (!query) return false;
  let operation: ReturnType<typeof getOperationAST>;
  try {
    operation = getOperationAST(parse(query, { noLocation: true }), operationName);
  } catch {
    return false;
  }
  return (
    operation?.operation === 'mutation' &&
    operation.selectionSet.selections.every(
      (selection) =>
        selection.kind === Kind.FIELD && PUBLIC_MUTATION_FIELDS.has(selection.name.value),
    )
  );
}
