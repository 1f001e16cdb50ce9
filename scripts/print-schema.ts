import { writeFileSync } from 'node:fs';
import { printSchemaWithDirectives } from '@graphql-tools/utils';
import { buildSchema } from '../src/resolvers/index.js';

/**
 * Prints the Pothos schema to schema.graphql (checked in; a test keeps them in step), with the
 * applied cost directives, so a gateway or a client can compute the same cost.
 */
export const printedSchema = () => `${printSchemaWithDirectives(buildSchema())}\n`;

if (import.meta.url === `file://${process.argv[1]}`) {
  writeFileSync(new URL('../schema.graphql', import.meta.url), printedSchema());
}
