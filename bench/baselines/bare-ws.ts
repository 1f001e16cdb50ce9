import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { buildSchema } from 'graphql';
import { useServer } from 'graphql-ws/use/ws';
import { WebSocketServer } from 'ws';
import { serve } from '../harness/rpc.js';
import { probeMethods } from '../harness/target-probe.js';
import { type PublishPlan, publishStreams } from './publisher.js';
import { createBasePubSub } from './pubsub.js';
import { createRelay } from './relay.js';
import { createUpstreamClient } from './upstream-client.js';

/**
 * The streaming baseline: graphql-ws's `useServer` over ws with a schema from SDL, whose
 * subscription is fed by graphql-redis-subscriptions (REDIS_URL set) or an in-process PubSub.
 * Its publisher runs in this process, as Parley's generations run in Parley's, and reads the same
 * upstream (publisher.ts).
 */
const typeDefs = /* GraphQL */ `
  type Query { ok: Boolean }
  type StreamEvent { messageId: ID! seq: Int! cursor: String! text: String! at: String! end: Boolean! }
  type Subscription {
    delta(streamId: ID!): StreamEvent!
    relay(id: ID!, prompt: String!): StreamEvent!
  }
`;

const pubsub = createBasePubSub(process.env.REDIS_URL, process.env.REDIS_KEY_PREFIX ?? 'bench:');
const upstream = createUpstreamClient(process.env.OPENAI_BASE_URL ?? 'http://127.0.0.1:1/v1');
const relay = createRelay(upstream);

const schema = buildSchema(typeDefs);
const fields = schema.getSubscriptionType()!.getFields();
fields.delta!.subscribe = (_root, args: { streamId: string }) =>
  pubsub.engine.asyncIterableIterator(pubsub.topic(args.streamId));
fields.relay!.subscribe = (_root, args: { id: string; prompt: string }) =>
  relay(args.id, args.prompt);
// Each source event is the field's value as it is.
fields.delta!.resolve = (payload) => payload;
fields.relay!.resolve = (payload) => payload;

let operations = 0;
const httpServer = createServer((_request, response) => response.writeHead(404).end());
const wsServer = new WebSocketServer({ server: httpServer, path: '/graphql' });
const disposable = useServer(
  {
    schema,
    onSubscribe: () => {
      operations++;
    },
    onComplete: () => {
      operations--;
    },
  },
  wsServer,
);
httpServer.listen(0, '127.0.0.1');
await once(httpServer, 'listening');
const { port } = httpServer.address() as AddressInfo;

const methods = {
  ...probeMethods({
    counters: () => ({ openSubscriptions: operations, sockets: wsServer.clients.size }),
  }),
  publish: (plan: PublishPlan) => publishStreams(pubsub, upstream, plan),
  stop: async () => {
    await disposable.dispose();
    httpServer.closeAllConnections();
    httpServer.close();
    await pubsub.close();
  },
};

export type BareWsMethods = typeof methods;

serve(methods, { port });
