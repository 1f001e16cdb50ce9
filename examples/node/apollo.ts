/**
 * The chat flow with Apollo Client 4: queries and mutations over HTTP (HttpLink), the
 * subscription over graphql-ws (GraphQLWsLink), one split link choosing between them.
 */
import { ApolloClient, ApolloLink, HttpLink, InMemoryCache } from '@apollo/client';
import { GraphQLWsLink } from '@apollo/client/link/subscriptions';
import { getMainDefinition } from '@apollo/client/utilities';
import { OperationTypeNode } from 'graphql';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import {
  CancelMessageDocument,
  CreateSessionDocument,
  MessageStreamDocument,
  SendMessageDocument,
} from '../generated/graphql.js';
import generatedPossibleTypes from '../generated/possible-types.js';
import {
  type ChatClient,
  collectEvent,
  finishedAnswer,
  type ParleyEndpoints,
  type StreamedAnswer,
  type StreamOptions,
} from './chat-client.js';

/** Production turns introspection off, so Apollo cannot learn the abstract types: codegen names them. */
const { possibleTypes } = generatedPossibleTypes;

export function createApolloChat({ httpUrl, wsUrl, apiKey }: ParleyEndpoints): ChatClient {
  const socket = createClient({
    url: wsUrl,
    webSocketImpl: WebSocket,
    connectionParams: apiKey ? { authorization: `Bearer ${apiKey}` } : {},
  });
  const http = new HttpLink({
    uri: httpUrl,
    headers: apiKey ? { authorization: `Bearer ${apiKey}` } : {},
  });
  const link = ApolloLink.split(
    ({ query }) => {
      const definition = getMainDefinition(query);
      return (
        definition.kind === 'OperationDefinition' &&
        definition.operation === OperationTypeNode.SUBSCRIPTION
      );
    },
    new GraphQLWsLink(socket),
    http,
  );
  const client = new ApolloClient({
    link,
    cache: new InMemoryCache({
      possibleTypes,
      // Each event replaces the last one (they have no id to merge by): without this Apollo
      // warns on every event that cache data may be lost.
      typePolicies: { Subscription: { fields: { messageStream: { merge: false } } } },
    }),
  });

  return {
    async createSession(title) {
      const { data } = await client.mutate({
        mutation: CreateSessionDocument,
        variables: { input: { title } },
      });
      return data!.createSession.id;
    },
    async sendMessage(sessionId, content) {
      const { data } = await client.mutate({
        mutation: SendMessageDocument,
        variables: { input: { sessionId, content } },
      });
      return data!.sendMessage.assistantMessage.id;
    },
    async cancelMessage(id) {
      const { data } = await client.mutate({ mutation: CancelMessageDocument, variables: { id } });
      return data!.cancelMessage.status;
    },
    streamAnswer(messageId, options: StreamOptions = {}) {
      const answer: StreamedAnswer = { deltas: [], ends: [] };
      return new Promise((resolve, reject) => {
        const subscription = client
          .subscribe({
            query: MessageStreamDocument,
            variables: { messageId, after: options.after ?? null },
          })
          .subscribe({
            next: ({ data, error }) => {
              if (error) {
                subscription.unsubscribe();
                reject(error);
              } else if (data) {
                collectEvent(answer, data.messageStream, options.onDelta);
              }
            },
            error: reject,
            complete: () => {
              try {
                resolve(finishedAnswer(answer));
              } catch (error) {
                reject(error);
              }
            },
          });
        const stop = () => {
          subscription.unsubscribe();
          resolve(answer);
        };
        if (options.signal?.aborted) stop();
        options.signal?.addEventListener('abort', stop, { once: true });
      });
    },
    async close() {
      client.stop();
      await socket.dispose();
    },
  };
}
