/**
 * The chat flow with urql 6 (@urql/core) from Node: mutations over HTTP (fetchExchange), the
 * subscription over graphql-ws (subscriptionExchange).
 */
import { Client, cacheExchange, fetchExchange, subscriptionExchange } from '@urql/core';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import {
  CancelMessageDocument,
  CreateSessionDocument,
  MessageStreamDocument,
  SendMessageDocument,
} from '../generated/graphql.js';
import {
  type ChatClient,
  collectEvent,
  finishedAnswer,
  type ParleyEndpoints,
  type StreamedAnswer,
  type StreamOptions,
} from './chat-client.js';

export function createUrqlChat({ httpUrl, wsUrl, apiKey }: ParleyEndpoints): ChatClient {
  const socket = createClient({
    url: wsUrl,
    webSocketImpl: WebSocket,
    connectionParams: apiKey ? { authorization: `Bearer ${apiKey}` } : {},
  });
  const client = new Client({
    url: httpUrl,
    fetchOptions: apiKey ? { headers: { authorization: `Bearer ${apiKey}` } } : {},
    exchanges: [
      cacheExchange,
      fetchExchange,
      subscriptionExchange({
        forwardSubscription(request) {
          const operation = { ...request, query: request.query ?? '' };
          return {
            subscribe: (sink) => ({ unsubscribe: socket.subscribe(operation, sink) }),
          };
        },
      }),
    ],
  });

  /** urql resolves with an error instead of throwing: turn it back into one. */
  async function mutate<Data>(result: Promise<{ data?: Data; error?: Error }>): Promise<Data> {
    const { data, error } = await result;
    if (error) throw error;
    if (!data) throw new Error('The server answered without data.');
    return data;
  }

  return {
    async createSession(title) {
      const data = await mutate(
        client.mutation(CreateSessionDocument, { input: { title } }).toPromise(),
      );
      return data.createSession.id;
    },
    async sendMessage(sessionId, content) {
      const data = await mutate(
        client.mutation(SendMessageDocument, { input: { sessionId, content } }).toPromise(),
      );
      return data.sendMessage.assistantMessage.id;
    },
    async cancelMessage(id) {
      const data = await mutate(client.mutation(CancelMessageDocument, { id }).toPromise());
      return data.cancelMessage.status;
    },
    streamAnswer(messageId, options: StreamOptions = {}) {
      const answer: StreamedAnswer = { deltas: [], ends: [] };
      return new Promise((resolve, reject) => {
        const subscription = client
          .subscription(MessageStreamDocument, { messageId, after: options.after ?? null })
          .subscribe((result) => {
            if (result.error) {
              subscription.unsubscribe();
              reject(result.error);
            } else if (!result.hasNext) {
              // urql marks the stream's completion by repeating its last result with
              // hasNext false: that is not a second MessageEnd.
              try {
                resolve(finishedAnswer(answer));
              } catch (error) {
                reject(error);
              }
            } else if (result.data) {
              collectEvent(answer, result.data.messageStream, options.onDelta);
            }
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
      await socket.dispose();
    },
  };
}
