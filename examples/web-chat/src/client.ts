import { createClient } from 'graphql-ws';
import { Client, cacheExchange, fetchExchange, subscriptionExchange } from 'urql';

/**
 * Mutations and queries over HTTP, the answer stream over graphql-ws, both on this page's own
 * origin (the dev server proxies /graphql to Parley).
 */
const socket = createClient({
  url: `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/graphql`,
});

export const client = new Client({
  url: '/graphql',
  exchanges: [
    cacheExchange,
    fetchExchange,
    subscriptionExchange({
      forwardSubscription(request) {
        const operation = { ...request, query: request.query ?? '' };
        return { subscribe: (sink) => ({ unsubscribe: socket.subscribe(operation, sink) }) };
      },
    }),
  ],
});
