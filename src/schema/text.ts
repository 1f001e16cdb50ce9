import {
  SENTIMENT_LABELS,
  TEXT_OPERATIONS,
  type TextAnalysisErrorRecord,
  type TextAnalysisRecord,
  type TextCacheOperationStats,
  type TextCacheStats,
} from '../model.js';
import { AdminRef } from './admin.js';
import { builder } from './builder.js';
import { TokenUsageRef } from './message.js';

export const TextOperationEnum = builder.enumType('TextOperation', {
  values: TEXT_OPERATIONS,
});

const SentimentLabelEnum = builder.enumType('SentimentLabel', { values: SENTIMENT_LABELS });

export const AnalyzeTextInput = builder.inputType('AnalyzeTextInput', {
  fields: (t) => ({
    text: t.string({ required: true, description: 'At most MAX_MESSAGE_CHARS characters.' }),
    operation: t.field({ type: TextOperationEnum, required: true }),
    question: t.string({ description: 'Required by ANSWER, refused by the other operations.' }),
    options: t.field({
      type: 'JSON',
      description:
        'Per operation, nothing else: `maxWords` (SUMMARIZE, ANSWER; 10–500, default 100), ' +
        '`maxPoints` (KEY_POINTS; 1–20, default 5), `maxQuestions` (QUESTIONS; 1–20, default 5), ' +
        '`language` (a language tag such as `en`; all but SENTIMENT).',
    }),
  }),
});

const SentimentRef = builder
  .objectRef<NonNullable<TextAnalysisRecord['sentiment']>>('Sentiment')
  .implement({
    fields: (t) => ({
      label: t.expose('label', { type: SentimentLabelEnum }),
      confidence: t.exposeFloat('confidence', { description: 'Between 0 and 1.' }),
    }),
  });

export const TextAnalysisRef = builder.objectRef<TextAnalysisRecord>('TextAnalysis').implement({
  description: "One text operation's result: only the field of its operation is set.",
  fields: (t) => ({
    operation: t.expose('operation', { type: TextOperationEnum }),
    summary: t.exposeString('summary', { nullable: true, description: 'SUMMARIZE' }),
    sentiment: t.expose('sentiment', {
      type: SentimentRef,
      nullable: true,
      description: 'SENTIMENT',
    }),
    points: t.exposeStringList('points', { nullable: true, description: 'KEY_POINTS' }),
    questions: t.exposeStringList('questions', { nullable: true, description: 'QUESTIONS' }),
    answer: t.exposeString('answer', { nullable: true, description: 'ANSWER' }),
    model: t.exposeString('model', { nullable: true, description: 'Which model answered.' }),
    usage: t.expose('usage', {
      type: TokenUsageRef,
      nullable: true,
      description:
        'The tokens making the result took (every model call, a retry included); a cached result repeats them and charges nothing.',
    }),
    notice: t.exposeString('notice', {
      nullable: true,
      description: 'Set when no language model made the result (the offline responder).',
    }),
    cached: t.exposeBoolean('cached', {
      description: 'True when the result came from the cache, with no model call.',
    }),
  }),
});

export const TextAnalysisErrorRef = builder
  .objectRef<TextAnalysisErrorRecord>('TextAnalysisError')
  .implement({
    description: 'Why one input of a batch has no result.',
    fields: (t) => ({
      index: t.exposeInt('index', { description: 'The position of the input in the batch.' }),
      code: t.exposeString('code', { description: 'A contract error code.' }),
      message: t.exposeString('message'),
      reason: t.exposeString('reason', {
        nullable: true,
        description: 'What `extensions.reason` would say, e.g. INVALID_MODEL_OUTPUT.',
      }),
    }),
  });

export const TextAnalysisResultRef = builder.unionType('TextAnalysisResult', {
  types: [TextAnalysisRef, TextAnalysisErrorRef],
  resolveType: (value) => ('code' in value ? TextAnalysisErrorRef : TextAnalysisRef),
});

const TextCacheOperationRef = builder
  .objectRef<TextCacheOperationStats>('TextCacheOperation')
  .implement({
    fields: (t) => ({
      operation: t.expose('operation', { type: TextOperationEnum }),
      hits: t.exposeInt('hits'),
      misses: t.exposeInt('misses'),
      entries: t.exposeInt('entries'),
    }),
  });

const TextCacheRef = builder.objectRef<TextCacheStats>('TextCache').implement({
  description:
    'The text-operation result cache: lookups since it was created (per instance in memory, shared in Redis) and live entries.',
  fields: (t) => ({
    hits: t.exposeInt('hits'),
    misses: t.exposeInt('misses'),
    entries: t.exposeInt('entries'),
    operations: t.expose('operations', { type: [TextCacheOperationRef] }),
  }),
});

builder.objectFields(AdminRef, (t) => ({
  textCache: t.field({
    type: TextCacheRef,
    resolve: (_admin, _args, context) => context.services.text.cacheStats(),
  }),
}));
