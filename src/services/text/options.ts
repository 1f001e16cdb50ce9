import { z } from 'zod';
import { BadInput, echo } from '../../errors.js';
import type { TextOperation } from '../../model.js';

/**
 * `AnalyzeTextInput.options`, per operation (anything else is refused, so a typo is an error,
 * not a silent default):
 *
 * | option | operations | range | default |
 * | --- | --- | --- | --- |
 * | `maxWords` | SUMMARIZE, ANSWER | 10–500 | 100 |
 * | `maxPoints` | KEY_POINTS | 1–20 | 5 |
 * | `maxQuestions` | QUESTIONS | 1–20 | 5 |
 * | `language` | all but SENTIMENT | a language tag (`en`, `de`, `pt-BR`) | the text's own |
 */
export interface TextOptions {
  maxWords: number;
  maxItems: number;
  language: string | null;
}

/** The JSON of `options` is refused above this many bytes before it is even looked at. */
export const MAX_OPTIONS_BYTES = 1_024;

const language = z
  .string()
  .regex(/^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})?$/, 'must be a language tag such as en or pt-BR')
  .optional();
const maxWords = z.number().int().min(10).max(500).default(100);
const count = z.number().int().min(1).max(20).default(5);

const SCHEMAS = {
  SUMMARIZE: z.strictObject({ maxWords, language }),
  SENTIMENT: z.strictObject({}),
  KEY_POINTS: z.strictObject({ maxPoints: count, language }),
  QUESTIONS: z.strictObject({ maxQuestions: count, language }),
  ANSWER: z.strictObject({ maxWords, language }),
} satisfies Record<TextOperation, z.ZodType>;

/** The options with their defaults, or BAD_USER_INPUT (reason INVALID_OPTIONS). */
export function parseOptions(operation: TextOperation, options: unknown): TextOptions {
  const given = options ?? {};
  if (Buffer.byteLength(JSON.stringify(given) ?? '') > MAX_OPTIONS_BYTES) {
    throw new BadInput(`The options are larger than ${MAX_OPTIONS_BYTES} bytes.`, {
      field: 'options',
      reason: 'INVALID_OPTIONS',
    });
  }
  const parsed = SCHEMAS[operation].safeParse(given);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const path = issue?.path.length ? `options.${issue.path.join('.')}` : 'options';
    // Zod names unknown keys in its message: each is cut short, as every echo of input is.
    const detail =
      issue?.code === 'unrecognized_keys'
        ? `unknown option "${echo(String(issue.keys[0]))}"`
        : (issue?.message ?? 'invalid');
    throw new BadInput(`Invalid ${echo(path)} for ${operation}: ${detail}.`, {
      field: 'options',
      reason: 'INVALID_OPTIONS',
    });
  }
  const values: Record<string, unknown> = parsed.data;
  return {
    maxWords: typeof values.maxWords === 'number' ? values.maxWords : 100,
    maxItems:
      typeof values.maxPoints === 'number'
        ? values.maxPoints
        : typeof values.maxQuestions === 'number'
          ? values.maxQuestions
          : 5,
    language: typeof values.language === 'string' ? values.language : null,
  };
}
