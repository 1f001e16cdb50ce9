import { z } from 'zod';
import { SENTIMENT_LABELS, type TextAnalysisRecord, type TextOperation } from '../../model.js';
import type { StructuredOutput } from '../llm/index.js';
import type { TextOptions } from './options.js';

/** The fields of a result that one operation fills. */
export type OperationFields = Partial<
  Pick<TextAnalysisRecord, 'summary' | 'sentiment' | 'points' | 'questions' | 'answer'>
>;

export interface OperationSpec {
  /**
   * What the upstream is asked for (`response_format.json_schema`): plain types only, every
   * property required and no others, as OpenAI's strict mode wants; bounds are zod's job.
   */
  output: StructuredOutput;
  /** What the model is told to do, given the options. */
  instruction(options: TextOptions): string;
  /** Validates the model's JSON (zod) and maps it to the result's fields; null when invalid. */
  read(answer: unknown, options: TextOptions): OperationFields | null;
}

const prose = z.string().trim().min(1).max(20_000);
const items = z.array(z.string().trim().min(1).max(2_000)).min(1).max(100);

const objectSchema = (properties: Record<string, unknown>) => ({
  type: 'object',
  properties,
  required: Object.keys(properties),
  additionalProperties: false,
});
const STRING = { type: 'string' };
const STRINGS = { type: 'array', items: STRING };

const summaryAnswer = z.object({ summary: prose });
const sentimentAnswer = z.object({
  label: z.enum(SENTIMENT_LABELS),
  confidence: z.number().min(0).max(1),
});
const pointsAnswer = z.object({ points: items });
const questionsAnswer = z.object({ questions: items });
const answerAnswer = z.object({ answer: prose });

export const OPERATIONS: Record<TextOperation, OperationSpec> = {
  SUMMARIZE: {
    output: { name: 'text_summary', schema: objectSchema({ summary: STRING }) },
    instruction: ({ maxWords }) =>
      `Summarize the text in at most ${maxWords} words, keeping its main facts and conclusions.`,
    read: (answer) => {
      const parsed = summaryAnswer.safeParse(answer);
      return parsed.success ? { summary: parsed.data.summary } : null;
    },
  },
  SENTIMENT: {
    output: {
      name: 'text_sentiment',
      schema: objectSchema({
        label: { type: 'string', enum: [...SENTIMENT_LABELS] },
        confidence: { type: 'number' },
      }),
    },
    instruction: () =>
      'Classify the overall sentiment of the text as POSITIVE, NEGATIVE, NEUTRAL or MIXED, ' +
      'with your confidence as a number between 0 and 1.',
    read: (answer) => {
      const parsed = sentimentAnswer.safeParse(answer);
      return parsed.success ? { sentiment: parsed.data } : null;
    },
  },
  KEY_POINTS: {
    output: { name: 'text_key_points', schema: objectSchema({ points: STRINGS }) },
    instruction: ({ maxItems }) =>
      `List the key points of the text, at most ${maxItems}, each one short sentence, most important first.`,
    // A model that gives more than asked is cut to the limit rather than failed.
    read: (answer, { maxItems }) => {
      const parsed = pointsAnswer.safeParse(answer);
      return parsed.success ? { points: parsed.data.points.slice(0, maxItems) } : null;
    },
  },
  QUESTIONS: {
    output: { name: 'text_questions', schema: objectSchema({ questions: STRINGS }) },
    instruction: ({ maxItems }) =>
      `Write at most ${maxItems} questions that a reader of the text might ask and that the text helps answer.`,
    read: (answer, { maxItems }) => {
      const parsed = questionsAnswer.safeParse(answer);
      return parsed.success ? { questions: parsed.data.questions.slice(0, maxItems) } : null;
    },
  },
  ANSWER: {
    output: { name: 'text_answer', schema: objectSchema({ answer: STRING }) },
    instruction: ({ maxWords }) =>
      `Answer the question from the text alone, in at most ${maxWords} words. ` +
      'If the text does not answer it, say that it does not.',
    read: (answer) => {
      const parsed = answerAnswer.safeParse(answer);
      return parsed.success ? { answer: parsed.data.answer } : null;
    },
  },
};

/**
 * The model's text as JSON: whole, or inside a Markdown code fence (what models without JSON
 * mode often send). Undefined when it is not JSON at all.
 */
export function parseModelJson(text: string): unknown {
  const fenced = /^\s*```(?:json)?\s*([\s\S]*?)\s*```\s*$/i.exec(text);
  try {
    return JSON.parse(fenced ? fenced[1]! : text) as unknown;
  } catch {
    return undefined;
  }
}
