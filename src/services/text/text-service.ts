import { type AppError, BadInput, isAppError, Unavailable } from '../../errors.js';
import type { LlmMetrics } from '../../infra/metrics.js';
import type {
  TextAnalysisErrorRecord,
  TextAnalysisRecord,
  TextCacheStats,
  TextOperation,
  TokenUsage,
} from '../../model.js';
import type { Caller } from '../chat/answers.js';
import type { InputGuard } from '../chat/input-guard.js';
import type { TokenBudgets, TokenReservation } from '../limits/token-budgets.js';
import {
  type ChatTurn,
  type Completion,
  type CompletionRequest,
  GenerationFailure,
  type LlmChain,
} from '../llm/index.js';
import { countUsage } from '../llm/usage.js';
import { mapBounded } from './bounded.js';
import type { AnalyzeTextInput } from './input.js';
import { taskFrom } from './input.js';
import { OPERATIONS, parseModelJson } from './operations.js';
import { type TextTask, turnsFor } from './prompts.js';
import type { TextResultCache } from './result-cache.js';

export interface TextServiceOptions {
  llm: LlmChain;
  cache: TextResultCache;
  tokenBudgets: TokenBudgets;
  inputGuard: InputGuard;
  /** MAX_MESSAGE_CHARS: a text (and a question) is limited as a message is. */
  maxTextChars: number;
  batchMax: number;
  batchConcurrency: number;
  /** The completion cap asked of the model, and reserved in the token budget, per call. */
  maxCompletionTokens: number;
  /** Every call's usage counts in parley_llm_tokens_total, as answers' do. */
  metrics?: LlmMetrics;
}

/** Model calls one operation may make: the first, and one retry when its answer is invalid. */
const MAX_MODEL_CALLS = 2;

/**
 * The text operations: a text (and for ANSWER a question) checked as a message is, answered by
 * the model chain as JSON in the operation's shape (validated; an invalid answer is asked once
 * more, then UPSTREAM_UNAVAILABLE with reason INVALID_MODEL_OUTPUT), cached, and every model
 * call's real usage charged to the caller's token budget (reserved before, settled after).
 */
export class TextService {
  private accepting = true;

  constructor(private readonly options: TextServiceOptions) {}

  /** New work is refused from here on (shutdown drains). */
  stopAccepting(): void {
    this.accepting = false;
  }

  async analyze(caller: Caller, input: AnalyzeTextInput): Promise<TextAnalysisRecord> {
    this.assertAccepting();
    const task = taskFrom(input, this.options, caller.log);
    const { cache, llm } = this.options;
    const key = cache.keyOf(caller.principal.id, llm.model, task);
    const hit = await cache.read(task.operation, key);
    if (hit) return hit;
    if (llm.unavailable) throw new Unavailable('No model is available right now; retry shortly.');
    const result = await this.run(caller, task);
    await cache.write(key, result);
    caller.log.info(
      { operation: task.operation, model: result.model, characters: task.text.length },
      'text analysed',
    );
    return result;
  }

  /**
   * Every input analysed, at most TEXT_BATCH_CONCURRENCY at once, each to its result or its
   * error, in input order. More than TEXT_BATCH_MAX inputs is refused with nothing run.
   */
  async analyzeBatch(
    caller: Caller,
    inputs: readonly AnalyzeTextInput[],
  ): Promise<(TextAnalysisRecord | TextAnalysisErrorRecord)[]> {
    const { batchMax, batchConcurrency } = this.options;
    if (inputs.length > batchMax) {
      throw new BadInput(
        `A batch holds at most ${batchMax} texts; this one has ${inputs.length}.`,
        {
          field: 'inputs',
          reason: 'BATCH_TOO_LARGE',
          maxItems: batchMax,
        },
      );
    }
    this.assertAccepting();
    return mapBounded(inputs, batchConcurrency, (input, index) =>
      this.analyze(caller, input).catch((error: unknown) => itemError(index, error, caller)),
    );
  }

  cacheStats(): Promise<TextCacheStats> {
    return this.options.cache.stats();
  }

  invalidateCache(operation: TextOperation | null): Promise<number> {
    return this.options.cache.invalidate(operation);
  }

  private async run(caller: Caller, task: TextTask): Promise<TextAnalysisRecord> {
    const spec = OPERATIONS[task.operation];
    const turns = turnsFor(task);
    const request: CompletionRequest = {
      output: spec.output,
      offline: {
        operation: task.operation,
        text: task.text,
        ...(task.question === null ? {} : { question: task.question }),
        maxItems: task.options.maxItems,
        maxWords: task.options.maxWords,
      },
      maxTokens: this.options.maxCompletionTokens,
    };
    const usage: TokenUsage = { promptTokens: 0, completionTokens: 0 };
    for (let call = 1; call <= MAX_MODEL_CALLS; call++) {
      const completion = await this.call(caller, turns, request);
      usage.promptTokens += completion.usage?.promptTokens ?? 0;
      usage.completionTokens += completion.usage?.completionTokens ?? 0;
      const fields = spec.read(parseModelJson(completion.text), task.options);
      if (fields) {
        return {
          operation: task.operation,
          summary: null,
          sentiment: null,
          points: null,
          questions: null,
          answer: null,
          ...fields,
          model: completion.model,
          usage,
          notice: completion.notice ?? null,
          cached: false,
        };
      }
      // Neither the answer nor a piece of it is logged: it may repeat the caller's text.
      caller.log.warn(
        {
          operation: task.operation,
          model: completion.model,
          call,
          characters: completion.text.length,
        },
        'model answer did not match the operation schema',
      );
    }
    throw new Unavailable('The model did not return a valid result; retry later.', {
      reason: 'INVALID_MODEL_OUTPUT',
    });
  }

  /** One model call, its tokens reserved first and its real usage charged after. */
  private async call(
    caller: Caller,
    turns: ChatTurn[],
    request: CompletionRequest,
  ): Promise<Completion> {
    const reservation = await this.reserve(caller, turns);
    let used = 0;
    try {
      // Nothing cancels a text operation from outside: the chain's deadline and the provider's
      // timeout bound it, and shutdown waits for it as for any request.
      const completion = await this.options.llm
        .complete(turns, request, new AbortController().signal)
        .catch((error: unknown) => {
          throw error instanceof GenerationFailure
            ? new Unavailable(`The model could not answer: ${error.message}`, {
                reason: error.code,
              })
            : error;
        });
      // Counted locally when the upstream reports none, as answers are.
      const usage =
        completion.usage ?? (await countUsage(turns, completion.text).catch(() => null));
      used = (usage?.promptTokens ?? 0) + (usage?.completionTokens ?? 0);
      if (usage) this.options.metrics?.tokens(completion.model, usage);
      return { ...completion, usage };
    } finally {
      if (reservation) {
        await this.options.tokenBudgets.settle(reservation, used).catch(() => {});
      }
    }
  }

  private async reserve(caller: Caller, turns: ChatTurn[]): Promise<TokenReservation | null> {
    const budgets = this.options.tokenBudgets;
    if (!budgets.policyFor(caller.principal)) return null;
    const { promptTokens } = await countUsage(turns, '');
    return budgets.reserve(
      caller.principal,
      caller.ledgerKey,
      promptTokens + this.options.maxCompletionTokens,
    );
  }

  private assertAccepting(): void {
    if (!this.accepting) {
      throw new Unavailable('The server is shutting down; retry on another instance.');
    }
  }
}

/** A batch item's failure as its client sees it; anything unexpected is logged and masked. */
function itemError(index: number, error: unknown, caller: Caller): TextAnalysisErrorRecord {
  if (isAppError(error)) {
    const reason = (error as AppError).details.reason;
    return {
      index,
      code: error.code,
      message: error.message,
      reason: typeof reason === 'string' ? reason : null,
    };
  }
  caller.log.error({ err: error, index }, 'text analysis failed unexpectedly');
  return { index, code: 'INTERNAL_SERVER_ERROR', message: 'Unexpected error.', reason: null };
}
