import { setTimeout as sleep } from 'node:timers/promises';
import { OFFLINE_NOTICE, offlineAnswer } from './local-text.js';
import type { ChatTurn, Completion, CompletionRequest, LlmChunk, LlmProvider } from './types.js';

export const LOCAL_MODEL = 'parley-local-responder';

const PREAMBLE =
  "This is Parley's offline development responder, not a language model: set OPENAI_API_KEY " +
  '(and OPENAI_BASE_URL for other OpenAI-compatible endpoints) for real answers.';

/**
 * The built-in responder for development and demos: deterministic (the same conversation gets
 * the same answer), streamed word by word at a realistic, configurable pace. It reports no usage,
 * so usage is counted the way it is for any upstream that reports none.
 */
export class LocalProvider implements LlmProvider {
  readonly model = LOCAL_MODEL;
  readonly describe = 'offline development responder (no model configured)';

  constructor(private readonly tokenDelayMs: number) {}

  async *stream(turns: readonly ChatTurn[], signal: AbortSignal): AsyncGenerator<LlmChunk> {
    const answer = composeAnswer(turns);
    const words = answer.match(/\S+\s*/g) ?? [];
    for (const word of words) {
      if (this.tokenDelayMs > 0) await sleep(this.tokenDelayMs, undefined, { signal });
      signal.throwIfAborted();
      yield { kind: 'text', text: word };
    }
  }

  /** Text operations answered offline, from the task itself (the prompt is for real models). */
  async complete(
    _turns: readonly ChatTurn[],
    request: CompletionRequest,
    signal: AbortSignal,
  ): Promise<Completion> {
    signal.throwIfAborted();
    return {
      text: JSON.stringify(offlineAnswer(request.offline)),
      model: this.model,
      usage: null,
      notice: OFFLINE_NOTICE,
    };
  }
}

function composeAnswer(turns: readonly ChatTurn[]): string {
  const question = [...turns].reverse().find((turn) => turn.role === 'user')?.content ?? '';
  const systemPrompt = turns.find((turn) => turn.role === 'system')?.content ?? '';
  const persona =
    systemPrompt
      .split(/(?<=[.!?])\s/, 1)[0]
      ?.replace(/\s+/g, ' ')
      .trim() ?? '';
  const history = turns.filter((turn) => turn.role !== 'system').length;
  const excerpt = question.length > 200 ? `${question.slice(0, 200)}…` : question;
  return [
    PREAMBLE,
    `You asked: "${excerpt.trim()}".`,
    persona ? `Persona in use: "${persona}"` : '',
    `This conversation has ${history} message${history === 1 ? '' : 's'} in context;`,
    'a configured model would answer from all of them, streamed token by token like this one.',
  ]
    .filter((part) => part.length > 0)
    .join(' ');
}
