import { ApolloClient, ApolloLink, HttpLink, InMemoryCache } from '@apollo/client';
import { OperationTypeNode, print } from 'graphql';
import { type ClientOptions, createClient } from 'graphql-sse';
import { Observable } from 'rxjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getFragmentData } from '../../examples/generated/fragment-masking.js';
import {
  MessageStreamDocument,
  StreamDeltaFragmentDoc,
  StreamEndFragmentDoc,
} from '../../examples/generated/graphql.js';
import possibleTypesResult from '../../examples/generated/possible-types.js';
import { startConversation } from '../support/client.js';
import { startServer, type TestServer } from '../support/server.js';

// The README's Apollo Client 4 SSE link, verbatim: if it stops working, this test says so.
class SSELink extends ApolloLink {
  private readonly client;
  constructor(options: ClientOptions) {
    super();
    this.client = createClient(options);
  }
  override request(operation: ApolloLink.Operation): Observable<ApolloLink.Result> {
    const { query, variables, operationName, extensions } = operation;
    return new Observable((sink) =>
      this.client.subscribe(
        { query: print(query), variables, operationName, extensions },
        {
          next: (result) => sink.next(result as ApolloLink.Result),
          complete: () => sink.complete(),
          error: (error) => sink.error(error),
        },
      ),
    );
  }
}

describe('Apollo Client 4 with the README SSE link', () => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startServer({ env: { API_KEYS: 'alice:key-alice' } });
  });
  afterAll(async () => server?.close());

  it('a split link (SSE for subscriptions, HttpLink otherwise) streams the whole answer', async () => {
    const headers = { authorization: 'Bearer key-alice' };
    const client = new ApolloClient({
      link: ApolloLink.split(
        (operation) => operation.operationType === OperationTypeNode.SUBSCRIPTION,
        new SSELink({ url: server.httpUrl, headers }),
        new HttpLink({ uri: server.httpUrl, headers }),
      ),
      cache: new InMemoryCache({
        possibleTypes: possibleTypesResult.possibleTypes,
        typePolicies: { Subscription: { fields: { messageStream: { merge: false } } } },
      }),
    });
    const { assistantMessageId } = await startConversation(server, 'Over SSE?', {
      apiKey: 'key-alice',
    });
    const deltas: string[] = [];
    const ends: { status: string; content: string }[] = [];
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('the stream did not complete')), 15_000);
      client
        .subscribe({ query: MessageStreamDocument, variables: { messageId: assistantMessageId } })
        .subscribe({
          next: ({ data, error }) => {
            if (error) reject(error);
            const event = data?.messageStream;
            if (event?.__typename === 'MessageDelta') {
              deltas.push(getFragmentData(StreamDeltaFragmentDoc, event).text);
            }
            if (event?.__typename === 'MessageEnd') {
              ends.push(getFragmentData(StreamEndFragmentDoc, event).message);
            }
          },
          error: reject,
          complete: () => {
            clearTimeout(timer);
            resolve();
          },
        });
    });
    expect(ends).toHaveLength(1);
    expect(ends[0]!.status).toBe('COMPLETED');
    expect(deltas.join('')).toBe(ends[0]!.content);
    expect(deltas.length).toBeGreaterThan(1);
    client.stop();
  });
});
