import type { Config } from '../../config.js';
import { LocalProvider } from './local.js';
import { OpenAiProvider } from './openai.js';
import type { LlmProvider } from './types.js';

export type { ChatTurn, LlmChunk, LlmProvider } from './types.js';
export { GenerationFailure } from './types.js';

export function createLlmProvider(llm: Config['llm']): LlmProvider {
  if (llm.provider === 'local') return new LocalProvider(llm.localTokenDelayMs);
  return new OpenAiProvider({
    baseURL: llm.baseURL,
    apiKey: llm.apiKey,
    model: llm.models[0]!,
    firstTokenTimeoutMs: llm.firstTokenTimeoutMs,
    idleTimeoutMs: llm.idleTimeoutMs,
  });
}
