import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { assertObjectType, buildSchema, type GraphQLFieldResolver } from 'graphql';
import { createYoga } from 'graphql-yoga';
import { serve } from '../harness/rpc.js';
import { probeMethods } from '../harness/target-probe.js';

/**
 * The query baseline: graphql-yoga with no Pothos and no plugins, a schema from SDL and plain
 * resolvers answering the same shape from memory. The runner loads it with the very sessions it
 * read back from Parley, so both answer with the same bytes.
 */
const typeDefs = /* GraphQL */ `
  type Query { session(id: ID!): Session }
  type Session { id: ID! messages(first: Int): MessageConnection! }
  type MessageConnection { edges: [MessageEdge!]! }
  type MessageEdge { node: Message! }
  enum Role { USER ASSISTANT SYSTEM }
  enum MessageStatus { PENDING STREAMING COMPLETED FAILED CANCELLED INTERRUPTED }
  type Message { id: ID! role: Role! content: String! status: MessageStatus! createdAt: String! }
`;

export interface StoredMessage {
  id: string;
  role: string;
  content: string;
  status: string;
  createdAt: string;
}

export interface StoredSession {
  id: string;
  messages: StoredMessage[];
}

const sessions = new Map<string, StoredSession>();

const schema = buildSchema(typeDefs);
const resolveSession: GraphQLFieldResolver<unknown, unknown, { id: string }> = (_root, { id }) =>
  sessions.get(id) ?? null;
const resolveMessages: GraphQLFieldResolver<StoredSession, unknown, { first?: number | null }> = (
  session,
  { first },
) => ({ edges: session.messages.slice(0, first ?? 50).map((node) => ({ node })) });
schema.getQueryType()!.getFields().session!.resolve = resolveSession;
assertObjectType(schema.getType('Session')).getFields().messages!.resolve =
  resolveMessages as GraphQLFieldResolver<unknown, unknown>;

const yoga = createYoga({
  schema,
  graphqlEndpoint: '/graphql',
  logging: false,
  graphiql: false,
  landingPage: false,
});
const server = createServer(yoga);
server.listen(0, '127.0.0.1');
await once(server, 'listening');
const { port } = server.address() as AddressInfo;

const methods = {
  ...probeMethods(),
  load: (stored: StoredSession[]) => {
    for (const session of stored) sessions.set(session.id, session);
    return sessions.size;
  },
  stop: async () => {
    server.closeAllConnections();
    server.close();
  },
};

export type BareYogaMethods = typeof methods;

serve(methods, { port });
