/**
 * A typed Parley client over graphql-ws: creates a session, sends one message and prints the
 * answer as it streams. The documents and their types come from `npm run codegen`.
 *
 *   npx tsx examples/client.ts "What is a vector clock?"
 *
 * PARLEY_URL (default ws://localhost:4000/graphql) and PARLEY_API_KEY (only when the server has
 * API_KEYS) say where and who.
 */
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { print } from 'graphql';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { getFragmentData } from './generated/fragment-masking.js';
import {
  CreateSessionDocument,
  MessageStreamDocument,
  type MessageStreamSubscription,
  type MessageStreamSubscriptionVariables,
  SendMessageDocument,
  StreamDeltaFragmentDoc,
  StreamEndFragmentDoc,
} from './generated/graphql.js';

const url = process.env.PARLEY_URL ?? 'ws://localhost:4000/graphql';
const apiKey = process.env.PARLEY_API_KEY;
const question = process.argv.slice(2).join(' ') || 'Hello! What can you do?';

const client = createClient({
  url,
  webSocketImpl: WebSocket,
  connectionParams: apiKey ? { authorization: `Bearer ${apiKey}` } : {},
});

/** Runs a query or mutation over the socket and returns its data, or throws its errors. */
async function execute<Result, Variables extends Record<string, unknown>>(
  document: TypedDocumentNode<Result, Variables>,
  variables: Variables,
): Promise<Result> {
  for await (const result of client.iterate<Result>({ query: print(document), variables })) {
    if (result.errors?.length) {
      throw new Error(result.errors.map((error) => error.message).join('; '));
    }
    if (result.data) return result.data;
  }
  throw new Error('The server completed the operation without a result.');
}

/**
 * Prints the answer's deltas; returns the MessageEnd. A MessageEnd whose message is still
 * STREAMING means that server is shutting down while another instance generates: the caller
 * resumes from its cursor.
 */
async function followStream(variables: MessageStreamSubscriptionVariables) {
  const events = client.iterate<MessageStreamSubscription>({
    query: print(MessageStreamDocument),
    variables,
  });
  for await (const result of events) {
    if (result.errors?.length) {
      throw new Error(result.errors.map((error) => error.message).join('; '));
    }
    const event = result.data?.messageStream;
    if (event?.__typename === 'MessageDelta') {
      process.stdout.write(getFragmentData(StreamDeltaFragmentDoc, event).text);
    } else if (event?.__typename === 'MessageEnd') {
      return getFragmentData(StreamEndFragmentDoc, event);
    }
  }
  throw new Error('The stream completed without a MessageEnd.');
}

try {
  const { createSession: session } = await execute(CreateSessionDocument, {
    input: { title: question.slice(0, 60) },
  });
  console.log(`session ${session.id} (persona ${session.persona.name})`);

  const { sendMessage } = await execute(SendMessageDocument, {
    input: { sessionId: session.id, content: question },
  });
  const messageId = sendMessage.assistantMessage.id;
  console.log(`answer ${messageId}:\n`);

  let end = await followStream({ messageId });
  while (end.message.status === 'STREAMING') {
    end = await followStream({ messageId, after: end.cursor });
  }
  const { status, error, usage, model } = end.message;
  console.log(`\n\n${status}${error ? ` (${error.code}: ${error.message})` : ''}`);
  if (model) console.log(`model: ${model}`);
  if (usage)
    console.log(`tokens: ${usage.promptTokens} prompt, ${usage.completionTokens} completion`);
} finally {
  await client.dispose();
}
