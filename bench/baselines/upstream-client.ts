import OpenAI from 'openai';

/** The same openai SDK call Parley makes, against the bench's fake upstream. */
export function createUpstreamClient(baseURL: string) {
  const client = new OpenAI({ baseURL, apiKey: 'bench', maxRetries: 0 });
  return (prompt: string) =>
    client.chat.completions.create({
      model: 'bench-model',
      messages: [{ role: 'user', content: prompt }],
      stream: true,
    });
}

export type UpstreamClient = ReturnType<typeof createUpstreamClient>;
