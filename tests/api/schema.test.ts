import { readFileSync } from 'node:fs';
import {
  buildClientSchema,
  buildSchema,
  type GraphQLField,
  type GraphQLSchema,
  getIntrospectionQuery,
  type IntrospectionQuery,
  isEnumType,
  isInputObjectType,
  isInterfaceType,
  isObjectType,
  isUnionType,
  lexicographicSortSchema,
  printSchema,
} from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { printedSchema } from '../../scripts/print-schema.js';
import { gqlData } from '../support/client.js';
import { startServer, type TestServer } from '../support/server.js';

const SCHEMA_FILE = new URL('../../schema.graphql', import.meta.url);
const checkedIn = () => readFileSync(SCHEMA_FILE, 'utf8');

/** `name(arg: Type, …): Type` with arguments sorted, so declaration order does not matter. */
function signature(field: GraphQLField<unknown, unknown>): string {
  const args = [...field.args]
    .sort((a, b) => a.name.localeCompare(b.name))
    .map((arg) => `${arg.name}: ${String(arg.type)}`);
  return `${field.name}${args.length > 0 ? `(${args.join(', ')})` : ''}: ${String(field.type)}`;
}

function fieldSignatures(schema: GraphQLSchema, typeName: string): string[] {
  const type = schema.getType(typeName);
  if (!isObjectType(type) && !isInterfaceType(type)) {
    throw new Error(`${typeName} is not an object or interface type`);
  }
  return Object.values(type.getFields()).map(signature);
}

function inputFieldSignatures(schema: GraphQLSchema, typeName: string): string[] {
  const type = schema.getType(typeName);
  if (!isInputObjectType(type)) throw new Error(`${typeName} is not an input type`);
  return Object.values(type.getFields()).map((field) => `${field.name}: ${String(field.type)}`);
}

/** The required part of the public contract (../shared/api-contract.md) that exists today. */
const CONTRACT_FIELDS: Record<string, string[]> = {
  Node: ['id: ID!'],
  Query: [
    'node(id: ID!): Node',
    'health: Health!',
    'personas: [Persona!]!',
    'session(id: ID!): Session',
    'sessions(after: String, first: Int): SessionConnection!',
    'viewer: Viewer!',
  ],
  Mutation: [
    'createSession(input: CreateSessionInput!): Session!',
    'deleteSession(id: ID!): Boolean!',
    'sendMessage(input: SendMessageInput!): SendMessagePayload!',
    'cancelMessage(id: ID!): Message!',
  ],
  Subscription: ['messageStream(after: String, messageId: ID!): MessageStreamEvent!'],
  Session: [
    'id: ID!',
    'title: String',
    'persona: Persona!',
    'createdAt: DateTime!',
    'updatedAt: DateTime!',
    'messages(after: String, before: String, first: Int, last: Int): MessageConnection!',
  ],
  Message: [
    'id: ID!',
    'session: Session!',
    'role: Role!',
    'content: String!',
    'status: MessageStatus!',
    'error: MessageError',
    'model: String',
    'usage: TokenUsage',
    'sources: [RetrievedChunk!]!',
    'createdAt: DateTime!',
    'completedAt: DateTime',
  ],
  MessageError: ['code: String!', 'message: String!'],
  TokenUsage: ['promptTokens: Int!', 'completionTokens: Int!'],
  SendMessagePayload: ['userMessage: Message!', 'assistantMessage: Message!'],
  MessageDelta: ['messageId: ID!', 'seq: Int!', 'cursor: String!', 'text: String!'],
  MessageEnd: ['messageId: ID!', 'cursor: String!', 'message: Message!'],
  Persona: ['id: ID!', 'name: String!', 'description: String!'],
  RetrievedChunk: ['id: ID!', 'document: Document!', 'text: String!', 'score: Float!'],
  Document: [
    'id: ID!',
    'collection: String!',
    'title: String!',
    'chunkCount: Int!',
    'createdAt: DateTime!',
  ],
  Health: [
    'status: HealthStatus!',
    'version: String!',
    'uptimeSeconds: Float!',
    'checks: [HealthCheck!]!',
  ],
  HealthCheck: ['name: String!', 'status: HealthStatus!', 'latencyMs: Float', 'detail: String'],
  Viewer: ['principal: String!', 'scopes: [String!]!'],
};

const CONTRACT_INPUTS: Record<string, string[]> = {
  CreateSessionInput: ['persona: String', 'title: String'],
  SendMessageInput: ['sessionId: ID!', 'content: String!', 'rag: RagOptions'],
  RagOptions: ['collection: String', 'k: Int'],
};

const CONTRACT_ENUMS: Record<string, string[]> = {
  MessageStatus: ['PENDING', 'STREAMING', 'COMPLETED', 'FAILED', 'CANCELLED', 'INTERRUPTED'],
  Role: ['USER', 'ASSISTANT', 'SYSTEM'],
  HealthStatus: ['OK', 'DEGRADED', 'DOWN'],
};

describe('schema.graphql', () => {
  it('is what `npm run schema:print` prints from the code', () => {
    const fromCode = printedSchema();

    expect(
      checkedIn() === fromCode,
      'schema.graphql is out of date with the Pothos schema: run `npm run schema:print` and commit the result',
    ).toBe(true);
  });

  describe('holds the required part of the public contract', () => {
    const schema = buildSchema(checkedIn());

    it.each(Object.entries(CONTRACT_FIELDS))('%s has the contract fields', (typeName, fields) => {
      expect(fieldSignatures(schema, typeName)).toEqual(expect.arrayContaining(fields));
    });

    it.each(Object.entries(CONTRACT_INPUTS))(
      'input %s has the contract fields',
      (typeName, fields) => {
        expect(inputFieldSignatures(schema, typeName)).toEqual(expect.arrayContaining(fields));
      },
    );

    it.each(Object.entries(CONTRACT_ENUMS))(
      'enum %s has exactly the contract values',
      (typeName, values) => {
        const type = schema.getType(typeName);
        expect(isEnumType(type)).toBe(true);
        if (!isEnumType(type)) return;

        expect(
          type
            .getValues()
            .map((value) => value.name)
            .sort(),
        ).toEqual([...values].sort());
      },
    );

    it('MessageStreamEvent is the union of MessageDelta and MessageEnd', () => {
      const type = schema.getType('MessageStreamEvent');
      expect(isUnionType(type)).toBe(true);
      if (!isUnionType(type)) return;

      expect(
        type
          .getTypes()
          .map((member) => member.name)
          .sort(),
      ).toEqual(['MessageDelta', 'MessageEnd']);
    });

    it.each(['Session', 'Message', 'Document'])('%s implements Node', (typeName) => {
      const type = schema.getType(typeName);
      expect(isObjectType(type)).toBe(true);
      if (!isObjectType(type)) return;

      expect(type.getInterfaces().map((node) => node.name)).toContain('Node');
    });

    it.each(['SessionConnection', 'MessageConnection'])('%s is a Relay connection', (typeName) => {
      const edgeName = typeName.replace('Connection', 'Edge');
      const node = typeName.replace('Connection', '');

      expect(fieldSignatures(schema, typeName)).toEqual(
        expect.arrayContaining([`edges: [${edgeName}!]!`, 'pageInfo: PageInfo!']),
      );
      expect(fieldSignatures(schema, edgeName)).toEqual(
        expect.arrayContaining(['cursor: String!', `node: ${node}!`]),
      );
      expect(fieldSignatures(schema, 'PageInfo')).toEqual(
        expect.arrayContaining([
          'hasNextPage: Boolean!',
          'hasPreviousPage: Boolean!',
          'startCursor: String',
          'endCursor: String',
        ]),
      );
    });
  });
});

describe('the running server', () => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startServer();
  });

  afterAll(async () => {
    await server?.close();
  });

  it('serves the schema in schema.graphql (introspection outside production)', async () => {
    const introspection = await gqlData<IntrospectionQuery>(
      server,
      getIntrospectionQuery({ specifiedByUrl: true }),
    );

    const served = printSchema(lexicographicSortSchema(buildClientSchema(introspection)));
    const file = printSchema(lexicographicSortSchema(buildSchema(checkedIn())));
    expect(served).toBe(file);
  });
});
