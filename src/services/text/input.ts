import { BadInput } from '../../errors.js';
import type { Logger } from '../../infra/logger.js';
import type { TextOperation } from '../../model.js';
import type { InputGuard } from '../chat/input-guard.js';
import { parseOptions } from './options.js';
import type { TextTask } from './prompts.js';

export interface AnalyzeTextInput {
  text: string;
  operation: TextOperation;
  question?: string | null;
  options?: unknown;
}

/**
 * The input checked as a message is (empty, MAX_MESSAGE_CHARS, control characters, the input
 * guard, which only logs what it flags: nothing is stored), the question required by ANSWER and
 * refused elsewhere, and the options parsed. BAD_USER_INPUT otherwise.
 */
export function taskFrom(
  input: AnalyzeTextInput,
  limits: { maxTextChars: number; inputGuard: InputGuard },
  log: Logger,
): TextTask {
  const { maxTextChars, inputGuard } = limits;
  const question = input.question ?? null;
  checkSize(input.text, 'text', maxTextChars);
  if (input.operation === 'ANSWER') {
    if (question === null || question.trim() === '') {
      throw new BadInput('ANSWER needs a question.', {
        field: 'question',
        reason: 'QUESTION_REQUIRED',
      });
    }
    checkSize(question, 'question', maxTextChars);
  } else if (question !== null) {
    throw new BadInput(`A question is only taken by ANSWER, not by ${input.operation}.`, {
      field: 'question',
    });
  }
  const options = parseOptions(input.operation, input.options);
  const flags = [
    ...inputGuard.check(input.text, 'text'),
    ...(question === null ? [] : inputGuard.check(question, 'question')),
  ];
  if (flags.length > 0)
    log.warn({ operation: input.operation, flags }, 'input guard flagged a text');
  return { operation: input.operation, text: input.text, question, options };
}

function checkSize(value: string, field: string, maxChars: number): void {
  if (value.trim() === '') throw new BadInput(`The ${field} is empty.`, { field });
  if (value.length > maxChars) {
    throw new BadInput(`The ${field} is longer than ${maxChars} characters.`, {
      field,
      maxLength: maxChars,
    });
  }
}
