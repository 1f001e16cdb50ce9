import { writeFileSync } from 'node:fs';
import { printSchema } from 'graphql';
import { buildSchema } from '../src/resolvers/index.js';

/** Prints the Pothos schema to schema.graphql (checked in; a test keeps them in step). */
export const printedSchema = () => `${printSchema(buildSchema())}\n`;

if (import.meta.url === `file://${process.argv[1]}`) {
  writeFileSync(new URL('../schema.graphql', import.meta.url), printedSchema());
}
