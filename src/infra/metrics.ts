import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { RateLimitReason } from '../errors.js';
import type { MessageErrorCode, TokenUsage } from '../model.js';

/** What the gauges read when Prometheus scrapes (each value read then, nothing kept). */
export interface MetricSources {
  openWebSockets: () => number;
  openSubscriptions: () => number;
  runningGenerations: () => number;
  breakers: () => readonly { name: string; state: 'CLOSED' | 'HALF_OPEN' | 'OPEN' }[];
  /** Sockets refused by a connection cap, and closed for their message rate, since start. */
  webSocketRefusals?: () => { connections: number; messageRate: number };
}

/** How one request to a model ended: "ok", the failure code of the answer, or "cancelled". */
export type ModelCallResult = 'ok' | 'cancelled' | MessageErrorCode;

/**
 * The port model calls report through (services/llm, chat, rag): the services see this
 * interface, never prom-client. Model names outside the configured ones are counted as "other".
 */
export interface LlmMetrics {
  /** One request to a model (each retry and each fallback is one). */
  modelCall(model: string, result: ModelCallResult): void;
  /** From asking for an answer to its first text, retries and fallbacks included. */
  firstToken(model: string, seconds: number): void;
  /** An answer's usage, as its message reports it (upstream's, or counted locally). */
  tokens(model: string, usage: TokenUsage): void;
  /** One request to the embeddings endpoint (one batch; each retry is one). */
  embeddingsCall(model: string, result: ModelCallResult): void;
}

/** The port the Redis connections report each command's round trip through. */
export interface RedisMetrics {
  redisCommand(command: string, seconds: number): void;
}

/** Why a request was refused by a limit: a bounded set, every kind exported from the start. */
export type RefusalKind =
  | 'cost_limit'
  | 'rate_points'
  | 'token_budget'
  | 'concurrent_generations'
  | 'concurrent_subscriptions'
  | 'contact_limit';

const RATE_LIMIT_KINDS: Record<RateLimitReason, RefusalKind> = {
  TOKEN_BUDGET: 'token_budget',
  CONCURRENT_GENERATIONS: 'concurrent_generations',
  CONCURRENT_SUBSCRIPTIONS: 'concurrent_subscriptions',
  CONTACT_LIMIT: 'contact_limit',
};
const REFUSAL_KINDS: readonly RefusalKind[] = [
  'cost_limit',
  'rate_points',
  ...Object.values(RATE_LIMIT_KINDS),
];

/** The refusal an operation's first error code (and its `reason`) stands for, if any. */
export function refusalKindOf(code: string, reason: unknown): RefusalKind | undefined {
  if (code === 'COST_LIMIT_EXCEEDED') return 'cost_limit';
  if (code !== 'RATE_LIMITED') return undefined;
  if (reason === undefined) return 'rate_points';
  return Object.hasOwn(RATE_LIMIT_KINDS, String(reason))
    ? RATE_LIMIT_KINDS[reason as RateLimitReason]
    : 'rate_points';
}

const BREAKER_STATE_VALUE = { CLOSED: 0, HALF_OPEN: 1, OPEN: 2 } as const;

/** At most this many operation names become label values; the rest are counted as "other". */
const MAX_OPERATION_NAMES = 100;
const OPERATION_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;
/** Redis command names come from our code, not from callers; the cap is belt and braces. */
const MAX_REDIS_COMMANDS = 64;
const REDIS_COMMAND = /^[a-z][a-z.]{0,31}$/;

const SECONDS_TO_FIRST_TOKEN = [0.05, 0.1, 0.25, 0.5, 1, 2, 3, 5, 10, 20, 30, 60];
const REDIS_SECONDS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1, 0.5, 1, 5];

type RedisTimer = ReturnType<Histogram<'command'>['labels']>;

/**
 * The Prometheus registry of one app: GraphQL operations by type, bounded name and result with
 * their durations, limit refusals, open WebSockets and subscriptions, running answers, model
 * calls, tokens and time to first token, embeddings calls, Redis command latency, breaker states,
 * and the process defaults. Label values are bounded: no ids, no free text.
 */
export class Metrics implements LlmMetrics, RedisMetrics {
  readonly registry = new Registry();
  private readonly operations: Counter<'type' | 'name' | 'result'>;
  private readonly operationSeconds: Histogram<'type' | 'result'>;
  private readonly names = new Set<string>();
  private readonly refusals = new Map<RefusalKind, number>(REFUSAL_KINDS.map((kind) => [kind, 0]));
  private readonly modelCalls: Counter<'model' | 'result'>;
  private readonly firstTokenSeconds: Histogram<'model'>;
  private readonly tokenCount: Counter<'model' | 'type'>;
  private readonly embeddingsCalls: Counter<'model' | 'result'>;
  private readonly redisSeconds: Histogram<'command'>;
  /** One child per command name: observing through it allocates no label object per command. */
  private readonly redisTimers = new Map<string, RedisTimer>();
  private readonly models: ReadonlySet<string>;

  /** `models`: the configured model names (chat and embeddings), the only model label values. */
  constructor(sources: MetricSources, models: readonly string[] = []) {
    this.models = new Set(models);
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });
    this.operations = new Counter({
      name: 'parley_graphql_operations_total',
      help: 'GraphQL operations executed, by type, operation name (bounded) and result (ok or the error code).',
      labelNames: ['type', 'name', 'result'],
      registers,
    });
    this.operationSeconds = new Histogram({
      name: 'parley_graphql_operation_duration_seconds',
      help: 'Time to execute a GraphQL operation (subscriptions: to subscribe).',
      labelNames: ['type', 'result'],
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    });
    const refusals = this.refusals;
    new Counter({
      name: 'parley_limit_refusals_total',
      help: 'Requests refused by a limit, by kind (cost, point bucket, token budget, concurrency, WebSocket caps).',
      labelNames: ['kind'],
      registers,
      collect() {
        this.reset();
        for (const [kind, count] of refusals) this.inc({ kind }, count);
        const sockets = sources.webSocketRefusals?.();
        if (sockets) {
          this.inc({ kind: 'websocket_connections' }, sockets.connections);
          this.inc({ kind: 'websocket_message_rate' }, sockets.messageRate);
        }
      },
    });
    this.modelCalls = new Counter({
      name: 'parley_llm_model_calls_total',
      help: 'Requests to a chat model, by model and result (ok, cancelled or the failure code); each retry and fallback is one.',
      labelNames: ['model', 'result'],
      registers,
    });
    this.firstTokenSeconds = new Histogram({
      name: 'parley_llm_first_token_seconds',
      help: 'Time from asking for an answer to its first text, retries and fallbacks included, by the model that answered.',
      labelNames: ['model'],
      buckets: SECONDS_TO_FIRST_TOKEN,
      registers,
    });
    this.tokenCount = new Counter({
      name: 'parley_llm_tokens_total',
      help: 'Tokens of answers (as their messages report them) and of text operations, by model and type (prompt or completion).',
      labelNames: ['model', 'type'],
      registers,
    });
    this.embeddingsCalls = new Counter({
      name: 'parley_embeddings_calls_total',
      help: 'Requests to the embeddings endpoint (one batch each), by model and result.',
      labelNames: ['model', 'result'],
      registers,
    });
    this.redisSeconds = new Histogram({
      name: 'parley_redis_command_duration_seconds',
      help: 'Round trip of one Redis command as the server sees it (queueing included), by command.',
      labelNames: ['command'],
      buckets: REDIS_SECONDS,
      registers,
    });
    const gauge = (name: string, help: string, read: () => number) =>
      new Gauge({
        name,
        help,
        registers,
        collect() {
          this.set(read());
        },
      });
    gauge('parley_websockets_open', 'Open WebSocket connections.', sources.openWebSockets);
    gauge(
      'parley_subscriptions_open',
      'Open messageStream subscriptions.',
      sources.openSubscriptions,
    );
    gauge(
      'parley_generations_running',
      'Answers streaming on this instance.',
      sources.runningGenerations,
    );
    new Gauge({
      name: 'parley_breaker_state',
      help: 'Circuit breaker state: 0 closed, 1 half-open, 2 open.',
      labelNames: ['breaker'],
      registers,
      collect() {
        for (const breaker of sources.breakers()) {
          this.set({ breaker: breaker.name }, BREAKER_STATE_VALUE[breaker.state]);
        }
      },
    });
  }

  /** One operation: its type, name as the client gave it, result and duration. */
  recordOperation(type: string, name: string | undefined, result: string, seconds: number): void {
    this.operations.inc({ type, name: this.boundedName(name), result });
    this.operationSeconds.observe({ type, result }, seconds);
  }

  recordRefusal(kind: RefusalKind): void {
    this.refusals.set(kind, (this.refusals.get(kind) ?? 0) + 1);
  }

  modelCall(model: string, result: ModelCallResult): void {
    this.modelCalls.inc({ model: this.boundedModel(model), result });
  }

  firstToken(model: string, seconds: number): void {
    this.firstTokenSeconds.observe({ model: this.boundedModel(model) }, seconds);
  }

  tokens(model: string, usage: TokenUsage): void {
    const bounded = this.boundedModel(model);
    this.tokenCount.inc({ model: bounded, type: 'prompt' }, usage.promptTokens);
    this.tokenCount.inc({ model: bounded, type: 'completion' }, usage.completionTokens);
  }

  embeddingsCall(model: string, result: ModelCallResult): void {
    this.embeddingsCalls.inc({ model: this.boundedModel(model), result });
  }

  redisCommand(command: string, seconds: number): void {
    let timer = this.redisTimers.get(command);
    if (!timer) {
      const known = REDIS_COMMAND.test(command) && this.redisTimers.size < MAX_REDIS_COMMANDS;
      timer = known ? this.redisSeconds.labels(command) : this.redisSeconds.labels('other');
      if (known) this.redisTimers.set(command, timer);
    }
    timer.observe(seconds);
  }

  private boundedModel(model: string): string {
    return this.models.has(model) ? model : 'other';
  }

  private boundedName(name: string | undefined): string {
    if (!name) return 'anonymous';
    if (!OPERATION_NAME.test(name)) return 'other';
    if (this.names.has(name)) return name;
    if (this.names.size >= MAX_OPERATION_NAMES) return 'other';
    this.names.add(name);
    return name;
  }
}
