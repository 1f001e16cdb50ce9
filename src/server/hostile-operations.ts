import {
  handleStreamOrSingleExecutionResult,
  type OnExecuteHookResult,
  type OnSubscribeHookResult,
} from '@envelop/core';
import { maxAliasesRule } from '@escape.tech/graphql-armor-max-aliases';
import { maxDepthRule } from '@escape.tech/graphql-armor-max-depth';
import { maxDirectivesRule } from '@escape.tech/graphql-armor-max-directives';
import { maxTokensPlugin } from '@escape.tech/graphql-armor-max-tokens';
import { type ExecutionResult, GraphQLError, type ValidationRule } from 'graphql';
import type { Plugin, YogaInitialContext } from 'graphql-yoga';
import { refusal } from './errors.js';

export interface OperationLimits {
  maxDepth: number;
  maxAliases: number;
  maxTokens: number;
  maxDirectives: number;
  maxVariableDepth: number;
  /** 0: batching off (a JSON array body is refused). */
  batchLimit: number;
  /** No "Did you mean ...?" in validation and execution errors (production). */
  hideSuggestions: boolean;
}

/**
 * Documents longer than this many characters per allowed token are refused before parsing: yoga
 * caches parsed (and failed) documents by their text, so the text's length is what a cache entry
 * costs. 2,000 tokens allow 64,000 characters, far more than any real operation needs.
 */
const DOCUMENT_CHARS_PER_TOKEN = 32;

/** graphql-armor's options: its refusal becomes ours, thrown at once (validation goes no further). */
function armored(n: number) {
  return {
    n,
    propagateOnRejection: false,
    onReject: [
      (_context: unknown, error: GraphQLError) => {
        throw refusal(error.message.replace(/^Syntax Error: /, ''));
      },
    ],
  };
}

/**
 * The limits on what one operation may ask for, on every transport: yoga's HTTP and SSE path and
 * the graphql-ws path run the same envelop parse, validate, execute and subscribe, so every limit
 * lives in those hooks (the batch limit is HTTP's alone). Register it right after the error
 * mapping: its parse hook must run before yoga's document cache.
 *
 * - parse: the document's length, then graphql-armor's token count (the lexer stops at the limit);
 * - validate: graphql-armor's depth (through fragments, each counted once), aliases and
 *   directives, checked when the operation is entered, before graphql's own rules walk it;
 * - execute and subscribe: the nesting of the variables, before they are coerced;
 * - suggestions ("Did you mean ...?") left out of validation and execution errors when asked.
 */
export function useHostileOperations(limits: OperationLimits): Plugin {
  const maxDocumentChars = limits.maxTokens * DOCUMENT_CHARS_PER_TOKEN;
  const rules: ValidationRule[] = [
    maxDepthRule({ ...armored(limits.maxDepth), flattenFragments: true }) as ValidationRule,
    maxAliasesRule(armored(limits.maxAliases)) as ValidationRule,
    maxDirectivesRule(armored(limits.maxDirectives)) as ValidationRule,
  ];
  /** Refuses deep variables; returns whether it did. */
  const variablesRefused = (
    variables: unknown,
    stop: (result: { errors: GraphQLError[] }) => void,
  ): boolean => {
    if (!nestingExceeds(variables, limits.maxVariableDepth)) return false;
    stop({
      errors: [refusal(`Variables may be nested at most ${limits.maxVariableDepth} levels deep.`)],
    });
    return true;
  };
  return {
    onPluginInit({ addPlugin }) {
      addPlugin(maxTokensPlugin(armored(limits.maxTokens)));
    },
    onRequestParse() {
      return {
        onRequestParseDone({ requestParserResult }) {
          if (!Array.isArray(requestParserResult)) return;
          if (limits.batchLimit === 0) throw refusal('Batching is not supported.');
          if (requestParserResult.length > limits.batchLimit) {
            throw refusal(`At most ${limits.batchLimit} operations may be batched in one request.`);
          }
        },
      };
    },
    onParse({ params }) {
      const length =
        typeof params.source === 'string' ? params.source.length : params.source.body.length;
      if (length > maxDocumentChars) {
        throw refusal(`Documents are limited to ${maxDocumentChars} characters.`);
      }
    },
    onValidate({ addValidationRule, validateFn, setValidationFn }) {
      for (const rule of rules) addValidationRule(rule);
      if (limits.hideSuggestions) {
        // envelop passes graphql 15's (typeInfo, options) tail; yoga and graphql-ws pass neither.
        setValidationFn((schema, document, validationRules) =>
          validateFn(schema, document, validationRules, { hideSuggestions: true } as never),
        );
      }
    },
    onExecute({ args, setResultAndStopExecution }) {
      if (variablesRefused(args.variableValues, setResultAndStopExecution)) return;
      if (!limits.hideSuggestions) return;
      return SCRUB_EXECUTE;
    },
    onSubscribe({ args, setResultAndStopExecution }) {
      if (variablesRefused(args.variableValues, setResultAndStopExecution)) return;
      if (!limits.hideSuggestions) return;
      return SCRUB_SUBSCRIBE;
    },
  };
}

const SUGGESTION = /\s*Did you mean [^?]*\?/g;

/**
 * The scrubbing hooks, made once: a subscription keeps its hooks for as long as it runs, and
 * nothing in them is the operation's own.
 */
const SCRUB_EXECUTE: OnExecuteHookResult<YogaInitialContext> = {
  onExecuteDone: (payload) => handleStreamOrSingleExecutionResult(payload, scrubSuggestions),
};
const SCRUB_SUBSCRIBE: OnSubscribeHookResult<YogaInitialContext> = {
  onSubscribeResult: (payload) => handleStreamOrSingleExecutionResult(payload, scrubSuggestions),
};

/**
 * Execution errors without their "Did you mean ...?": yoga's executor coerces variables with
 * graphql's `coerceInputValue`, which suggests input field names whatever `hideSuggestions` says.
 */
function scrubSuggestions({
  result,
  setResult,
}: {
  result: ExecutionResult;
  setResult: (result: ExecutionResult) => void;
}): void {
  if (!result.errors?.some((error) => error.message.includes('Did you mean'))) return;
  setResult({
    ...result,
    errors: result.errors.map((error) =>
      error.message.includes('Did you mean')
        ? new GraphQLError(error.message.replace(SUGGESTION, ''), {
            nodes: error.nodes,
            source: error.source,
            positions: error.positions,
            path: error.path,
            originalError: error.originalError,
            extensions: error.extensions,
          })
        : error,
    ),
  });
}

/** Whether any value sits deeper than `maxDepth` levels (iterative: no stack to overflow). */
function nestingExceeds(variables: unknown, maxDepth: number): boolean {
  const pending: [unknown, number][] = [[variables, 0]];
  while (pending.length > 0) {
    const [value, depth] = pending.pop()!;
    if (typeof value !== 'object' || value === null) continue;
    if (depth > maxDepth) return true;
    for (const child of Array.isArray(value) ? value : Object.values(value)) {
      if (typeof child === 'object' && child !== null) pending.push([child, depth + 1]);
    }
  }
  return false;
}
