import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { z } from 'zod';

/** The only reader of `process.env`: everything below receives a typed Config. */

export const SCOPES = ['chat', 'rag', 'admin'] as const;
export type Scope = (typeof SCOPES)[number];

/** A key listed without scopes gets these; `admin` must always be granted explicitly. */
export const DEFAULT_KEY_SCOPES: readonly Scope[] = ['chat', 'rag'];

export interface ApiKey {
  name: string;
  key: string;
  scopes: Scope[];
}

const integer = (min: number, max: number) =>
  z
    .string()
    .regex(/^\s*-?\d+\s*$/, 'must be a whole number')
    .transform(Number)
    .pipe(z.number().int().min(min).max(max));

const booleanFlag = z
  .enum(['true', 'false', '1', '0'])
  .transform((value) => value === 'true' || value === '1');

const commaList = z.string().transform((value) =>
  value
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item.length > 0),
);

const apiKeyList = commaList.transform((entries, ctx): ApiKey[] => {
  const keys: ApiKey[] = [];
  for (const entry of entries) {
    const [name, key, scopeList, ...rest] = entry.split(':');
    if (!name || !key || rest.length > 0) {
      ctx.addIssue({
        code: 'custom',
        message: 'each entry must be name:key or name:key:scope+scope',
      });
      return z.NEVER;
    }
    const scopes = scopeList === undefined ? [...DEFAULT_KEY_SCOPES] : scopeList.split('+');
    const unknown = scopes.filter((scope) => !(SCOPES as readonly string[]).includes(scope));
    if (unknown.length > 0) {
      ctx.addIssue({ code: 'custom', message: `unknown scope "${unknown[0]}" for key "${name}"` });
      return z.NEVER;
    }
    if (keys.some((existing) => existing.name === name || existing.key === key)) {
      ctx.addIssue({ code: 'custom', message: `duplicate key name or value for "${name}"` });
      return z.NEVER;
    }
    keys.push({ name, key, scopes: scopes as Scope[] });
  }
  return keys;
});

/** `name:number,name:number`: per-key values, such as token budgets. */
const namedNumbers = commaList.transform((entries, ctx): Record<string, number> => {
  const values: Record<string, number> = {};
  for (const entry of entries) {
    const [name, value, ...rest] = entry.split(':');
    const parsed = Number(value);
    if (!name || rest.length > 0 || !Number.isInteger(parsed) || parsed < 0) {
      ctx.addIssue({ code: 'custom', message: 'each entry must be name:whole-number' });
      return z.NEVER;
    }
    values[name] = parsed;
  }
  return values;
});

const cidrList = commaList.transform((entries, ctx): string[] => {
  for (const entry of entries) {
    const [address, bits, ...rest] = entry.split('/');
    const version = address ? isIP(address) : 0;
    const prefix = bits === undefined ? (version === 6 ? 128 : 32) : Number(bits);
    const maxPrefix = version === 6 ? 128 : 32;
    if (
      version === 0 ||
      rest.length > 0 ||
      !Number.isInteger(prefix) ||
      prefix < 0 ||
      prefix > maxPrefix
    ) {
      ctx.addIssue({
        code: 'custom',
        message: `"${entry.slice(0, 60)}" is not an IP address or CIDR`,
      });
      return z.NEVER;
    }
  }
  return entries;
});

const originList = commaList.transform((entries, ctx): string[] => {
  for (const entry of entries) {
    if (entry === '*') continue;
    try {
      const url = new URL(entry);
      if (url.origin !== entry.replace(/\/$/, '')) throw new Error('not an origin');
    } catch {
      ctx.addIssue({
        code: 'custom',
        message: `"${entry.slice(0, 60)}" is not an origin (scheme://host[:port])`,
      });
      return z.NEVER;
    }
  }
  return entries.map((entry) => entry.replace(/\/$/, ''));
});

/** `key=value,key=value` with percent-encoded values, as the OTLP exporter spec writes them. */
const otlpHeaders = commaList.transform((entries, ctx): Record<string, string> => {
  const headers: Record<string, string> = {};
  for (const entry of entries) {
    const split = entry.indexOf('=');
    const name = entry.slice(0, split).trim();
    let value: string;
    try {
      value = decodeURIComponent(entry.slice(split + 1).trim());
    } catch {
      value = '';
    }
    // The value is often a secret: never echoed in the error.
    if (split <= 0 || !/^[!#$%&'*+.^_`|~0-9a-z-]+$/i.test(name) || value === '') {
      ctx.addIssue({
        code: 'custom',
        message: 'each entry must be name=value (value URL-encoded)',
      });
      return z.NEVER;
    }
    headers[name] = value;
  }
  return headers;
});

const PROVIDER_NAME = /^[a-z0-9][a-z0-9_-]{0,31}$/i;

const providerList = z
  .string()
  .transform((text, ctx) => {
    try {
      return JSON.parse(text) as unknown;
    } catch {
      ctx.addIssue({ code: 'custom', message: 'must be a JSON list' });
      return z.NEVER;
    }
  })
  .pipe(
    z
      .array(
        z.object({
          name: z.string().regex(PROVIDER_NAME, 'provider names are letters, digits, _ and -'),
          baseURL: z.url(),
          apiKeyEnv: z
            .string()
            .regex(/^[A-Z_][A-Z0-9_]*$/, 'apiKeyEnv names a variable')
            .optional(),
          models: z.array(z.string().min(1)).min(1),
        }),
      )
      .min(1),
  );

/**
 * Breaker settings per preset; each can be overridden by its own variable. A breaker judges its
 * upstream by outcomes (an answer's retries on one model are one outcome) and opens after
 * `failureThreshold` failures in the window, or at `errorThresholdPercentage` of at least
 * `volumeThreshold` outcomes.
 */
const LLM_BREAKER = {
  timeoutMs: 10_000,
  errorThresholdPercentage: 50,
  volumeThreshold: 10,
  failureThreshold: 5,
  rollingWindowMs: 60_000,
} as const;

const REDIS_BREAKER = {
  timeoutMs: 5_000,
  errorThresholdPercentage: 50,
  volumeThreshold: 10,
  failureThreshold: 3,
  rollingWindowMs: 30_000,
} as const;

/** The presets differ only in how long an open breaker waits before a trial call. */
export const RESILIENCE_PRESETS = {
  development: {
    llm: { ...LLM_BREAKER, resetTimeoutMs: 10_000 },
    redis: { ...REDIS_BREAKER, resetTimeoutMs: 2_000 },
  },
  production: {
    llm: { ...LLM_BREAKER, resetTimeoutMs: 30_000 },
    redis: { ...REDIS_BREAKER, resetTimeoutMs: 5_000 },
  },
} as const;

const envSchema = z.object({
  PORT: integer(0, 65535).default(4000),
  HOST: z.string().min(1).default('0.0.0.0'),
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  GRAPHQL_INTROSPECTION: booleanFlag.optional(),
  REDIS_URL: z
    .string()
    .regex(/^rediss?:\/\//, 'must start with redis:// or rediss://')
    .optional(),
  REDIS_KEY_PREFIX: z
    .string()
    .regex(/^[\w:.-]{1,64}$/, 'letters, digits and _ : . - only')
    .default('parley:'),
  API_KEYS: apiKeyList.optional(),
  OPENAI_BASE_URL: z.url().optional(),
  OPENAI_API_KEY: z.string().min(1).optional(),
  LLM_PROVIDER: z.enum(['openai', 'local']).optional(),
  LLM_PROVIDERS: providerList.optional(),
  LLM_RETRY_MAX_ATTEMPTS: integer(1, 10).default(3),
  LLM_RETRY_BASE_DELAY_MS: integer(1, 60_000).default(250),
  LLM_RETRY_MAX_DELAY_MS: integer(1, 120_000).default(4_000),
  LLM_RETRY_AFTER_CAP_MS: integer(0, 300_000).default(10_000),
  LLM_RETRY_DEADLINE_MS: integer(100, 600_000).default(30_000),
  LLM_TOTAL_TIMEOUT_MS: integer(1_000, 3_600_000).default(300_000),
  RESILIENCE_PRESET: z.enum(['development', 'production']).optional(),
  BREAKER_TIMEOUT_MS: integer(100, 600_000).optional(),
  BREAKER_ERROR_THRESHOLD_PERCENTAGE: integer(1, 100).optional(),
  BREAKER_VOLUME_THRESHOLD: integer(1, 10_000).optional(),
  BREAKER_RESET_TIMEOUT_MS: integer(100, 3_600_000).optional(),
  BREAKER_ROLLING_WINDOW_MS: integer(1_000, 3_600_000).optional(),
  BREAKER_FAILURE_THRESHOLD: integer(1, 10_000).optional(),
  REDIS_BREAKER_FAILURE_THRESHOLD: integer(1, 10_000).optional(),
  REDIS_BREAKER_RESET_TIMEOUT_MS: integer(100, 3_600_000).optional(),
  REDIS_BREAKER_ROLLING_WINDOW_MS: integer(1_000, 3_600_000).optional(),
  STORAGE_OUTAGE_BUFFER_BYTES: integer(1024, 256 * 1024 * 1024).default(1024 * 1024),
  STORAGE_OUTAGE_MAX_MS: integer(0, 600_000).default(30_000),
  GENERATION_LEASE_MS: integer(300, 600_000).default(15_000),
  GENERATION_SWEEP_INTERVAL_MS: integer(100, 600_000).default(5_000),
  LLM_MODEL: z.string().min(1).default('gpt-4o-mini'),
  LLM_FALLBACK_MODELS: commaList.default([]),
  LLM_HISTORY_MESSAGES: integer(1, 500).default(20),
  LLM_FIRST_TOKEN_TIMEOUT_MS: integer(100, 600_000).default(30_000),
  LLM_IDLE_TIMEOUT_MS: integer(100, 600_000).default(30_000),
  LOCAL_LLM_TOKEN_DELAY_MS: integer(0, 10_000).default(30),
  MAX_MESSAGE_CHARS: integer(1, 1_000_000).default(32_000),
  STREAM_LOG_TTL_SECONDS: integer(60, 30 * 24 * 3600).default(24 * 3600),
  MAX_SUBSCRIPTIONS_PER_SOCKET: integer(1, 10_000).default(100),
  SHUTDOWN_GRACE_MS: integer(0, 120_000).default(10_000),
  RATE_LIMIT_POINTS: integer(1, 10_000_000).default(1000),
  RATE_LIMIT_RESTORE_RATE: z.coerce.number().positive().default(50),
  MAX_OPERATION_COST: integer(1, 10_000_000).default(1000),
  LLM_TOKEN_BUDGET: integer(1, 1_000_000_000_000).optional(),
  LLM_TOKEN_BUDGET_WINDOW_SECONDS: integer(1, 366 * 24 * 3600).default(86_400),
  LLM_TOKEN_BUDGETS: namedNumbers.optional(),
  LLM_MAX_COMPLETION_TOKENS: integer(1, 1_000_000).default(2_048),
  LLM_STRUCTURED_OUTPUT: z.enum(['json_schema', 'json_object', 'prompt']).default('json_schema'),
  MAX_CONCURRENT_GENERATIONS: integer(1, 10_000).default(3),
  MAX_SUBSCRIPTIONS_PER_PRINCIPAL: integer(1, 100_000).default(200),
  TRUSTED_PROXIES: cidrList.optional(),
  CORS_ORIGINS: originList.optional(),
  MAX_QUERY_DEPTH: integer(1, 100).default(12),
  MAX_ALIASES: integer(1, 1_000).default(30),
  MAX_QUERY_TOKENS: integer(10, 100_000).default(2_000),
  MAX_DIRECTIVES: integer(1, 1_000).default(50),
  MAX_VARIABLE_DEPTH: integer(1, 1_000).default(16),
  GRAPHQL_BATCH_LIMIT: integer(0, 10).default(0),
  MAX_BODY_BYTES: integer(1_024, 100 * 1024 * 1024).default(1024 * 1024),
  WS_MAX_PAYLOAD_BYTES: integer(1_024, 100 * 1024 * 1024).default(1024 * 1024),
  WS_MAX_CONNECTIONS: integer(1, 1_000_000).default(1_000),
  WS_MAX_CONNECTIONS_PER_PRINCIPAL: integer(1, 100_000).default(5),
  WS_INIT_TIMEOUT_MS: integer(100, 600_000).default(10_000),
  WS_PING_INTERVAL_MS: integer(100, 600_000).default(30_000),
  WS_PONG_TIMEOUT_MS: integer(100, 600_000).default(10_000),
  WS_IDLE_TIMEOUT_SECONDS: integer(1, 7 * 24 * 3600).default(3_600),
  WS_MAX_MESSAGES_PER_SECOND: integer(1, 100_000).default(200),
  WS_MAX_BUFFERED_BYTES: integer(1_024, 1024 * 1024 * 1024).default(4 * 1024 * 1024),
  HTTP_HEADERS_TIMEOUT_MS: integer(100, 600_000).default(10_000),
  HTTP_REQUEST_TIMEOUT_MS: integer(100, 600_000).default(30_000),
  INPUT_GUARD: z.enum(['off', 'flag', 'block']).default('flag'),
  COST_LIMITING: z.enum(['on', 'off']).default('on'),
  METRICS_TOKEN: z.string().min(16, 'must be at least 16 characters').optional(),

  // Tracing (OpenTelemetry, the standard variables): off unless an OTLP endpoint is set.
  OTEL_EXPORTER_OTLP_ENDPOINT: z.url({ protocol: /^https?$/ }).optional(),
  OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: z.url({ protocol: /^https?$/ }).optional(),
  OTEL_EXPORTER_OTLP_HEADERS: otlpHeaders.optional(),
  OTEL_EXPORTER_OTLP_PROTOCOL: z.enum(['http/protobuf', 'http/json']).default('http/protobuf'),
  OTEL_SERVICE_NAME: z.string().min(1).max(200).default('parley'),
  OTEL_SDK_DISABLED: booleanFlag.default(false),

  // Retrieval (RAG): chunking, limits and the embeddings endpoint.
  RAG_CHUNK_TOKENS: integer(32, 8_000).default(400),
  RAG_CHUNK_OVERLAP: integer(0, 4_000).default(60),
  RAG_MAX_DOCUMENT_CHARS: integer(1, 10_000_000).default(500_000),
  RAG_MAX_CHUNKS_PER_DOCUMENT: integer(1, 100_000).default(2_000),
  RAG_MAX_DOCUMENTS_PER_PRINCIPAL: integer(1, 10_000_000).default(1_000),
  EMBEDDINGS_MODEL: z.string().min(1).optional(),
  EMBEDDINGS_BASE_URL: z.url().optional(),
  EMBEDDINGS_API_KEY: z.string().min(1).optional(),
  EMBEDDINGS_BATCH_SIZE: integer(1, 2_048).default(64),
  EMBEDDINGS_TIMEOUT_MS: integer(100, 600_000).default(30_000),

  // Text operations (analyzeText, analyzeTexts) and their result cache.
  TEXT_BATCH_MAX: integer(1, 1_000).default(20),
  TEXT_BATCH_CONCURRENCY: integer(1, 64).default(4),
  CACHE_TTL_SECONDS: integer(0, 30 * 24 * 3600).default(3600),
  TEXT_CACHE_MAX_ENTRIES: integer(1, 1_000_000).default(1_000),
  // Contact form and trusted documents.
  CONTACT_LIMIT_PER_HOUR: integer(1, 10_000).default(5),
  CONTACT_WEBHOOK_URL: z
    .url({ protocol: /^https?$/, error: 'must be an http:// or https:// URL' })
    .optional(),
  TRUSTED_DOCUMENTS: z.string().min(1).optional(),
});

/** One OpenAI-compatible endpoint and the models to try on it, in order. */
export interface LlmEndpoint {
  name: string;
  baseURL: string | undefined;
  apiKey: string | undefined;
  models: string[];
}

export interface BreakerSettings {
  timeoutMs: number;
  errorThresholdPercentage: number;
  volumeThreshold: number;
  failureThreshold: number;
  resetTimeoutMs: number;
  rollingWindowMs: number;
}

export type BreakerKind = 'llm' | 'redis';

export interface BreakerConfig {
  preset: keyof typeof RESILIENCE_PRESETS;
  llm: BreakerSettings;
  redis: BreakerSettings;
}

export interface RetrySettings {
  maxAttempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
  retryAfterCapMs: number;
  deadlineMs: number;
}

export interface Config {
  version: string;
  port: number;
  host: string;
  production: boolean;
  logLevel: z.infer<typeof envSchema>['LOG_LEVEL'];
  introspection: boolean;
  redisUrl: string | undefined;
  redisKeyPrefix: string;
  apiKeys: ApiKey[];
  llm: {
    provider: 'openai' | 'local';
    /** The fallback chain: every model of the first endpoint, then of the next. */
    endpoints: LlmEndpoint[];
    historyMessages: number;
    firstTokenTimeoutMs: number;
    idleTimeoutMs: number;
    totalTimeoutMs: number;
    localTokenDelayMs: number;
    /** The completion cap asked of the model (`max_tokens`), and reserved in token budgets. */
    maxCompletionTokens: number;
    /** How structured output is asked for first (json_schema → json_object → prompt on a 400). */
    structuredOutput: 'json_schema' | 'json_object' | 'prompt';
    retry: RetrySettings;
  };
  breakers: BreakerConfig;
  generation: { leaseMs: number; sweepIntervalMs: number };
  /** How much of an answer, and for how long, is held (and readers wait) while storage is away. */
  storageOutage: { bufferBytes: number; maxMs: number };
  maxMessageChars: number;
  streamLogTtlSeconds: number;
  maxSubscriptionsPerSocket: number;
  shutdownGraceMs: number;
  rateLimit: { points: number; restoreRate: number; maxOperationCost: number };
  limits: LimitsConfig;
  /** Bearer token for GET /metrics; in production /metrics answers only with it. */
  metricsToken: string | undefined;
  rag: RagConfig;
  text: TextConfig;
  contact: ContactConfig;
  /** TRUSTED_DOCUMENTS: the only documents accepted, by SHA-256 hex; undefined accepts any. */
  trustedDocuments: ReadonlyMap<string, string> | undefined;
  /** OpenTelemetry traces; undefined is off (no endpoint set, or OTEL_SDK_DISABLED). */
  tracing: TracingConfig | undefined;
}

/** Text operations: batch bounds and the result cache. */
export interface TextConfig {
  batchMax: number;
  batchConcurrency: number;
  /** 0 turns the cache off. */
  cacheTtlSeconds: number;
  /** The bound of the embedded (in-memory) cache; Redis entries are bounded by their TTL. */
  cacheMaxEntries: number;
}

/** The public contact form: how often one address may submit, and where submissions go too. */
export interface ContactConfig {
  limitPerHour: number;
  webhookUrl: string | undefined;
  /** One webhook call, headers and body. */
  webhookTimeoutMs: number;
}

/** Where spans go: an OTLP/HTTP endpoint, read from the standard OTEL_* variables. */
export interface TracingConfig {
  /** The full traces URL (OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, or the base endpoint + /v1/traces). */
  url: string;
  protocol: 'http/protobuf' | 'http/json';
  headers: Readonly<Record<string, string>>;
  serviceName: string;
}

/** Retrieval: how documents are chunked and embedded, and how much one principal may store. */
export interface RagConfig {
  chunkTokens: number;
  overlapTokens: number;
  maxDocumentChars: number;
  maxChunksPerDocument: number;
  maxDocumentsPerPrincipal: number;
  /** Unset: the built-in local (lexical) embedding. */
  embeddings:
    | {
        model: string;
        baseURL: string | undefined;
        apiKey: string | undefined;
        batchSize: number;
        timeoutMs: number;
      }
    | undefined;
}

/** What protects the server from its callers (the README's "Limits" section). */
export interface LimitsConfig {
  tokenBudget: {
    /** Tokens per principal per window; undefined is unlimited. */
    default: number | undefined;
    /** Per API key name, over the default. */
    perKey: Readonly<Record<string, number>>;
    windowMs: number;
  };
  maxConcurrentGenerations: number;
  maxSubscriptionsPerPrincipal: number;
  trustedProxies: string[];
  /** Undefined: same origin only in production, any origin (no credentials) in development. */
  corsOrigins: string[] | undefined;
  operation: {
    maxDepth: number;
    maxAliases: number;
    maxTokens: number;
    maxDirectives: number;
    maxVariableDepth: number;
    /** 0: batching off (a JSON array body is refused). */
    batchLimit: number;
  };
  http: { maxBodyBytes: number; headersTimeoutMs: number; requestTimeoutMs: number };
  webSocket: {
    maxPayloadBytes: number;
    maxConnections: number;
    maxConnectionsPerPrincipal: number;
    initTimeoutMs: number;
    pingIntervalMs: number;
    pongTimeoutMs: number;
    idleTimeoutMs: number;
    maxMessagesPerSecond: number;
    maxBufferedBytes: number;
  };
  inputGuard: 'off' | 'flag' | 'block';
  /** Off only behind a gateway that limits cost itself (and for the bench's baseline). */
  costLimiting: boolean;
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

function packageVersion(): string {
  const packageJson = JSON.parse(
    readFileSync(new URL('../package.json', import.meta.url), 'utf8'),
  ) as { version: string };
  return packageJson.version;
}

/** Parses the environment; throws a ConfigError whose message is one line naming the variable. */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const present = Object.fromEntries(
    Object.entries(env).filter(([, value]) => value !== undefined && value !== ''),
  );
  const parsed = envSchema.safeParse(present);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const variable = String(issue?.path[0] ?? 'environment');
    throw new ConfigError(`Invalid ${variable}: ${issue?.message ?? 'malformed value'}`);
  }
  const vars = parsed.data;
  const production = vars.NODE_ENV === 'production';
  const apiKeys = vars.API_KEYS ?? [];
  if (production && apiKeys.length === 0) {
    throw new ConfigError('Invalid API_KEYS: production (NODE_ENV=production) requires API keys');
  }
  const primaryConfigured = Boolean(vars.OPENAI_BASE_URL || vars.OPENAI_API_KEY);
  const provider =
    vars.LLM_PROVIDER ?? (primaryConfigured || vars.LLM_PROVIDERS ? 'openai' : 'local');
  const endpoints: LlmEndpoint[] = [];
  if (primaryConfigured || (provider === 'openai' && !vars.LLM_PROVIDERS)) {
    endpoints.push({
      name: 'primary',
      baseURL: vars.OPENAI_BASE_URL,
      apiKey: vars.OPENAI_API_KEY,
      models: [vars.LLM_MODEL, ...vars.LLM_FALLBACK_MODELS],
    });
  }
  for (const entry of vars.LLM_PROVIDERS ?? []) {
    const apiKey = entry.apiKeyEnv ? present[entry.apiKeyEnv] : undefined;
    if (entry.apiKeyEnv && !apiKey) {
      throw new ConfigError(
        `Invalid LLM_PROVIDERS: provider "${entry.name}" reads its key from ${entry.apiKeyEnv}, which is not set`,
      );
    }
    if (endpoints.some((endpoint) => endpoint.name === entry.name)) {
      throw new ConfigError(`Invalid LLM_PROVIDERS: provider name "${entry.name}" is used twice`);
    }
    endpoints.push({ name: entry.name, baseURL: entry.baseURL, apiKey, models: entry.models });
  }
  if (provider === 'openai' && !primaryConfigured && !vars.LLM_PROVIDERS) {
    throw new ConfigError(
      'Invalid LLM_PROVIDER: "openai" needs OPENAI_API_KEY, OPENAI_BASE_URL or LLM_PROVIDERS',
    );
  }
  const preset = vars.RESILIENCE_PRESET ?? (production ? 'production' : 'development');
  const presetValues = RESILIENCE_PRESETS[preset];
  return {
    version: packageVersion(),
    port: vars.PORT,
    host: vars.HOST,
    production,
    logLevel: vars.LOG_LEVEL,
    introspection: vars.GRAPHQL_INTROSPECTION ?? !production,
    redisUrl: vars.REDIS_URL,
    redisKeyPrefix: vars.REDIS_KEY_PREFIX,
    apiKeys,
    llm: {
      provider,
      endpoints: provider === 'local' ? [] : endpoints,
      historyMessages: vars.LLM_HISTORY_MESSAGES,
      firstTokenTimeoutMs: vars.LLM_FIRST_TOKEN_TIMEOUT_MS,
      idleTimeoutMs: vars.LLM_IDLE_TIMEOUT_MS,
      totalTimeoutMs: vars.LLM_TOTAL_TIMEOUT_MS,
      localTokenDelayMs: vars.LOCAL_LLM_TOKEN_DELAY_MS,
      maxCompletionTokens: vars.LLM_MAX_COMPLETION_TOKENS,
      structuredOutput: vars.LLM_STRUCTURED_OUTPUT,
      retry: {
        maxAttempts: vars.LLM_RETRY_MAX_ATTEMPTS,
        baseDelayMs: vars.LLM_RETRY_BASE_DELAY_MS,
        maxDelayMs: vars.LLM_RETRY_MAX_DELAY_MS,
        retryAfterCapMs: vars.LLM_RETRY_AFTER_CAP_MS,
        deadlineMs: vars.LLM_RETRY_DEADLINE_MS,
      },
    },
    breakers: {
      preset,
      llm: {
        ...presetValues.llm,
        errorThresholdPercentage:
          vars.BREAKER_ERROR_THRESHOLD_PERCENTAGE ?? presetValues.llm.errorThresholdPercentage,
        volumeThreshold: vars.BREAKER_VOLUME_THRESHOLD ?? presetValues.llm.volumeThreshold,
        failureThreshold: vars.BREAKER_FAILURE_THRESHOLD ?? presetValues.llm.failureThreshold,
        resetTimeoutMs: vars.BREAKER_RESET_TIMEOUT_MS ?? presetValues.llm.resetTimeoutMs,
        rollingWindowMs: vars.BREAKER_ROLLING_WINDOW_MS ?? presetValues.llm.rollingWindowMs,
      },
      redis: {
        ...presetValues.redis,
        timeoutMs: vars.BREAKER_TIMEOUT_MS ?? presetValues.redis.timeoutMs,
        failureThreshold:
          vars.REDIS_BREAKER_FAILURE_THRESHOLD ?? presetValues.redis.failureThreshold,
        resetTimeoutMs: vars.REDIS_BREAKER_RESET_TIMEOUT_MS ?? presetValues.redis.resetTimeoutMs,
        rollingWindowMs: vars.REDIS_BREAKER_ROLLING_WINDOW_MS ?? presetValues.redis.rollingWindowMs,
      },
    },
    storageOutage: {
      bufferBytes: vars.STORAGE_OUTAGE_BUFFER_BYTES,
      maxMs: vars.STORAGE_OUTAGE_MAX_MS,
    },
    generation: {
      leaseMs: vars.GENERATION_LEASE_MS,
      sweepIntervalMs: vars.GENERATION_SWEEP_INTERVAL_MS,
    },
    maxMessageChars: vars.MAX_MESSAGE_CHARS,
    streamLogTtlSeconds: vars.STREAM_LOG_TTL_SECONDS,
    maxSubscriptionsPerSocket: vars.MAX_SUBSCRIPTIONS_PER_SOCKET,
    shutdownGraceMs: vars.SHUTDOWN_GRACE_MS,
    rateLimit: {
      points: vars.RATE_LIMIT_POINTS,
      restoreRate: vars.RATE_LIMIT_RESTORE_RATE,
      maxOperationCost: vars.MAX_OPERATION_COST,
    },
    metricsToken: vars.METRICS_TOKEN,
    limits: {
      tokenBudget: {
        default: vars.LLM_TOKEN_BUDGET,
        perKey: vars.LLM_TOKEN_BUDGETS ?? {},
        windowMs: vars.LLM_TOKEN_BUDGET_WINDOW_SECONDS * 1000,
      },
      maxConcurrentGenerations: vars.MAX_CONCURRENT_GENERATIONS,
      maxSubscriptionsPerPrincipal: vars.MAX_SUBSCRIPTIONS_PER_PRINCIPAL,
      trustedProxies: vars.TRUSTED_PROXIES ?? [],
      corsOrigins: vars.CORS_ORIGINS,
      operation: {
        maxDepth: vars.MAX_QUERY_DEPTH,
        maxAliases: vars.MAX_ALIASES,
        maxTokens: vars.MAX_QUERY_TOKENS,
        maxDirectives: vars.MAX_DIRECTIVES,
        maxVariableDepth: vars.MAX_VARIABLE_DEPTH,
        batchLimit: vars.GRAPHQL_BATCH_LIMIT,
      },
      http: {
        maxBodyBytes: vars.MAX_BODY_BYTES,
        headersTimeoutMs: vars.HTTP_HEADERS_TIMEOUT_MS,
        requestTimeoutMs: vars.HTTP_REQUEST_TIMEOUT_MS,
      },
      webSocket: {
        maxPayloadBytes: vars.WS_MAX_PAYLOAD_BYTES,
        maxConnections: vars.WS_MAX_CONNECTIONS,
        maxConnectionsPerPrincipal: vars.WS_MAX_CONNECTIONS_PER_PRINCIPAL,
        initTimeoutMs: vars.WS_INIT_TIMEOUT_MS,
        pingIntervalMs: vars.WS_PING_INTERVAL_MS,
        pongTimeoutMs: vars.WS_PONG_TIMEOUT_MS,
        idleTimeoutMs: vars.WS_IDLE_TIMEOUT_SECONDS * 1000,
        maxMessagesPerSecond: vars.WS_MAX_MESSAGES_PER_SECOND,
        maxBufferedBytes: vars.WS_MAX_BUFFERED_BYTES,
      },
      inputGuard: vars.INPUT_GUARD,
      costLimiting: vars.COST_LIMITING === 'on',
    },
    rag: ragConfig(vars),
    text: {
      batchMax: vars.TEXT_BATCH_MAX,
      batchConcurrency: vars.TEXT_BATCH_CONCURRENCY,
      cacheTtlSeconds: vars.CACHE_TTL_SECONDS,
      cacheMaxEntries: vars.TEXT_CACHE_MAX_ENTRIES,
    },
    contact: {
      limitPerHour: vars.CONTACT_LIMIT_PER_HOUR,
      webhookUrl: vars.CONTACT_WEBHOOK_URL,
      webhookTimeoutMs: 5_000,
    },
    trustedDocuments: vars.TRUSTED_DOCUMENTS
      ? readTrustedDocuments(vars.TRUSTED_DOCUMENTS)
      : undefined,
    tracing: tracingConfig(vars),
  };
}

function tracingConfig(vars: z.infer<typeof envSchema>): TracingConfig | undefined {
  const base = vars.OTEL_EXPORTER_OTLP_ENDPOINT;
  const url =
    vars.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT ??
    (base ? `${base.replace(/\/+$/, '')}/v1/traces` : undefined);
  if (!url || vars.OTEL_SDK_DISABLED) return undefined;
  return {
    url,
    protocol: vars.OTEL_EXPORTER_OTLP_PROTOCOL,
    headers: vars.OTEL_EXPORTER_OTLP_HEADERS ?? {},
    serviceName: vars.OTEL_SERVICE_NAME,
  };
}

const MANIFEST_KEY = /^(?:sha256:)?([0-9a-f]{64})$/;

/**
 * The persisted-documents manifest `npm run codegen` writes (`{ "sha256:<hex>": "<document>" }`):
 * every key must be the SHA-256 of its document, so a hand-edited entry cannot run as another.
 */
function readTrustedDocuments(path: string): Map<string, string> {
  const fail = (why: string) => new ConfigError(`Invalid TRUSTED_DOCUMENTS: ${why}`);
  let manifest: unknown;
  try {
    manifest = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    const why = error instanceof SyntaxError ? 'is not JSON' : 'cannot be read';
    throw fail(`"${path.slice(0, 200)}" ${why}`);
  }
  if (typeof manifest !== 'object' || manifest === null || Array.isArray(manifest)) {
    throw fail('must be a JSON object of "sha256:<hash>": "<document>"');
  }
  const documents = new Map<string, string>();
  for (const [key, document] of Object.entries(manifest)) {
    const hash = MANIFEST_KEY.exec(key)?.[1];
    if (!hash) throw fail(`"${key.slice(0, 80)}" is not a sha256 hash`);
    if (typeof document !== 'string' || document.trim() === '') {
      throw fail(`the document of ${key} is not a string`);
    }
    if (createHash('sha256').update(document).digest('hex') !== hash) {
      throw fail(`${key} is not the SHA-256 of its document`);
    }
    documents.set(hash, document);
  }
  if (documents.size === 0) throw fail('lists no documents');
  return documents;
}

function ragConfig(vars: z.infer<typeof envSchema>): RagConfig {
  if (vars.RAG_CHUNK_OVERLAP >= vars.RAG_CHUNK_TOKENS) {
    throw new ConfigError('Invalid RAG_CHUNK_OVERLAP: must be smaller than RAG_CHUNK_TOKENS');
  }
  return {
    chunkTokens: vars.RAG_CHUNK_TOKENS,
    overlapTokens: vars.RAG_CHUNK_OVERLAP,
    maxDocumentChars: vars.RAG_MAX_DOCUMENT_CHARS,
    maxChunksPerDocument: vars.RAG_MAX_CHUNKS_PER_DOCUMENT,
    maxDocumentsPerPrincipal: vars.RAG_MAX_DOCUMENTS_PER_PRINCIPAL,
    embeddings: vars.EMBEDDINGS_MODEL
      ? {
          model: vars.EMBEDDINGS_MODEL,
          baseURL: vars.EMBEDDINGS_BASE_URL ?? vars.OPENAI_BASE_URL,
          apiKey: vars.EMBEDDINGS_API_KEY ?? vars.OPENAI_API_KEY,
          batchSize: vars.EMBEDDINGS_BATCH_SIZE,
          timeoutMs: vars.EMBEDDINGS_TIMEOUT_MS,
        }
      : undefined,
  };
}
