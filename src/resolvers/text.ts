import { callerOf } from '../context.js';
import { builder } from '../schema/builder.js';
import {
  AnalyzeTextInput,
  TextAnalysisRef,
  TextAnalysisResultRef,
  TextOperationEnum,
} from '../schema/text.js';

/**
 * A text operation is one bounded model call without a stream: weighed below an answer (50), so
 * a batch of the default TEXT_BATCH_MAX (20) fits the default MAX_OPERATION_COST (1000).
 */
export const TEXT_OPERATION_WEIGHT = 40;

builder.queryFields((t) => ({
  analyzeText: t.field({
    type: TextAnalysisRef,
    description:
      'Summarizes, classifies the sentiment of, lists the key points of, asks questions about, or answers a question from a text.',
    authScopes: { chat: true },
    directives: { cost: { weight: TEXT_OPERATION_WEIGHT } },
    args: { input: t.arg({ type: AnalyzeTextInput, required: true }) },
    resolve: (_root, { input }, context) => context.services.text.analyze(callerOf(context), input),
  }),
}));

builder.mutationFields((t) => ({
  analyzeTexts: t.field({
    type: [TextAnalysisResultRef],
    description:
      'Runs every input (at most TEXT_BATCH_MAX) and answers, in input order, a TextAnalysis or a TextAnalysisError for each. Costs as many text operations as it has inputs.',
    authScopes: { chat: true },
    directives: {
      cost: { weight: TEXT_OPERATION_WEIGHT },
      listSize: { slicingArguments: ['inputs'], requireOneSlicingArgument: false },
    },
    args: { inputs: t.arg({ type: [AnalyzeTextInput], required: true }) },
    resolve: (_root, { inputs }, context) =>
      context.services.text.analyzeBatch(callerOf(context), inputs),
  }),
  invalidateTextCache: t.int({
    description:
      'Removes every cached text-operation result of `operation`, or of all operations; returns how many were removed.',
    authScopes: { admin: true },
    args: { operation: t.arg({ type: TextOperationEnum }) },
    resolve: (_root, { operation }, context) =>
      context.services.text.invalidateCache(operation ?? null),
  }),
}));
