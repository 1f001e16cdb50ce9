/**
 * The chat flow from Node with Apollo Client or urql: creates a session, sends one question,
 * prints the answer as it streams, resumes from the last cursor if the stream ends early, and
 * cancels the answer on Ctrl+C.
 *
 *   npx tsx examples/node/main.ts apollo "What is a vector clock?"
 *   npx tsx examples/node/main.ts urql "What is a vector clock?"
 *
 * PARLEY_URL (default http://localhost:4000) and PARLEY_API_KEY (only when the server has
 * API_KEYS) say where and who.
 */
import { createApolloChat } from './apollo.js';
import { type ChatClient, type ParleyEndpoints, parleyEndpoints } from './chat-client.js';
import { createUrqlChat } from './urql.js';

const clients: Record<string, (endpoints: ParleyEndpoints) => ChatClient> = {
  apollo: createApolloChat,
  urql: createUrqlChat,
};
const [clientName = 'apollo', ...words] = process.argv.slice(2);
const createChat = clients[clientName];
if (!createChat) throw new Error(`Unknown client "${clientName}": use apollo or urql.`);
const question = words.join(' ') || 'Hello! What can you do?';

const chat = createChat(
  parleyEndpoints(process.env.PARLEY_URL ?? 'http://localhost:4000', process.env.PARLEY_API_KEY),
);

try {
  const sessionId = await chat.createSession(question.slice(0, 60));
  const messageId = await chat.sendMessage(sessionId, question);
  process.once('SIGINT', () => void chat.cancelMessage(messageId));
  const onDelta = (delta: { text: string }) => process.stdout.write(delta.text);

  let answer = await chat.streamAnswer(messageId, { onDelta });
  let end = answer.ends[0]!;
  // A MessageEnd still STREAMING: that server is shutting down while another one generates.
  while (end.message.status === 'STREAMING') {
    answer = await chat.streamAnswer(messageId, { after: end.cursor, onDelta });
    end = answer.ends[0]!;
  }
  const { status, error, model } = end.message;
  console.log(`\n\n${status}${error ? ` (${error.code}: ${error.message})` : ''}`);
  if (model) console.log(`model: ${model}`);
} finally {
  await chat.close();
}
