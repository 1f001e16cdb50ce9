import { randomUUID } from 'node:crypto';
import { createAgent } from './graphql-http.js';
import { createSession, sendMessage, waitForAnswer } from './parley-api.js';
import { encodePrompt } from './prompt.js';

/**
 * Sessions with history, made through the API as users would: each turn waits for its answer.
 * Returns the session ids.
 */
export async function seedSessions(
  httpUrl: string,
  sessions: number,
  turns: number,
  answerTokens = 40,
): Promise<string[]> {
  const agent = createAgent(sessions);
  try {
    return await Promise.all(
      Array.from({ length: sessions }, async (_unused, index) => {
        const sessionId = await createSession(agent, httpUrl, `bench session ${index}`);
        for (let turn = 0; turn < turns; turn++) {
          const prompt = encodePrompt({
            id: randomUUID(),
            tokens: answerTokens,
            intervalMs: 0,
            thinkMs: 0,
            hold: false,
          });
          const answerId = await sendMessage(agent, httpUrl, sessionId, prompt);
          const status = await waitForAnswer(agent, httpUrl, answerId);
          if (status !== 'COMPLETED') throw new Error(`seed answer ended ${status}`);
        }
        return sessionId;
      }),
    );
  } finally {
    agent.destroy();
  }
}
