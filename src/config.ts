import { readFileSync } from 'node:fs';
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

const integer = (min: number, max: number) => z.coerce.number().int().min(min).max(max);

const booleanFlag = z
  .enum(['true', 'false', '1', '0'])
  .transform((value) => value === 'true' || value === '1');

const commaList = z
  .string()
  .transform((value) =>
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
      ctx.addIssue({ code: 'custom', message: 'each entry must be name:key or name:key:scope+scope' });
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
  LLM_MODEL: z.string().min(1).default('gpt-4o-mini'),
  LLM_FALLBACK_MODELS: commaList.default([]),
  LLM_HISTORY_MESSAGES: integer(1, 500).default(20),
  LLM_FIRST_TOKEN_TIMEOUT_MS: integer(100, 600_000).default(30_000),
  LLM_IDLE_TIMEOUT_MS: integer(100, 600_000).default(30_000),
  LOCAL_LLM_TOKEN_DELAY_MS: integer(0, 10_000).default(30),
  EMBEDDINGS_MODEL: z.string().min(1).optional(),
  MAX_MESSAGE_CHARS: integer(1, 1_000_000).default(32_000),
  STREAM_LOG_TTL_SECONDS: integer(60, 30 * 24 * 3600).default(24 * 3600),
  MAX_SUBSCRIPTIONS_PER_SOCKET: integer(1, 10_000).default(100),
  SHUTDOWN_GRACE_MS: integer(0, 120_000).default(10_000),
  RATE_LIMIT_POINTS: integer(1, 10_000_000).default(1000),
  RATE_LIMIT_RESTORE_RATE: z.coerce.number().positive().default(50),
  MAX_OPERATION_COST: integer(1, 10_000_000).default(1000),
});

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
    baseURL: string | undefined;
    apiKey: string | undefined;
    models: string[];
    historyMessages: number;
    firstTokenTimeoutMs: number;
    idleTimeoutMs: number;
    localTokenDelayMs: number;
  };
  embeddingsModel: string | undefined;
  maxMessageChars: number;
  streamLogTtlSeconds: number;
  maxSubscriptionsPerSocket: number;
  shutdownGraceMs: number;
  rateLimit: { points: number; restoreRate: number; maxOperationCost: number };
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
  const provider =
    vars.LLM_PROVIDER ?? (vars.OPENAI_BASE_URL || vars.OPENAI_API_KEY ? 'openai' : 'local');
  if (provider === 'openai' && !vars.OPENAI_BASE_URL && !vars.OPENAI_API_KEY) {
    throw new ConfigError(
      'Invalid LLM_PROVIDER: "openai" needs OPENAI_API_KEY (and OPENAI_BASE_URL for non-OpenAI endpoints)',
    );
  }
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
      baseURL: vars.OPENAI_BASE_URL,
      apiKey: vars.OPENAI_API_KEY,
      models: [vars.LLM_MODEL, ...vars.LLM_FALLBACK_MODELS],
      historyMessages: vars.LLM_HISTORY_MESSAGES,
      firstTokenTimeoutMs: vars.LLM_FIRST_TOKEN_TIMEOUT_MS,
      idleTimeoutMs: vars.LLM_IDLE_TIMEOUT_MS,
      localTokenDelayMs: vars.LOCAL_LLM_TOKEN_DELAY_MS,
    },
    embeddingsModel: vars.EMBEDDINGS_MODEL,
    maxMessageChars: vars.MAX_MESSAGE_CHARS,
    streamLogTtlSeconds: vars.STREAM_LOG_TTL_SECONDS,
    maxSubscriptionsPerSocket: vars.MAX_SUBSCRIPTIONS_PER_SOCKET,
    shutdownGraceMs: vars.SHUTDOWN_GRACE_MS,
    rateLimit: {
      points: vars.RATE_LIMIT_POINTS,
      restoreRate: vars.RATE_LIMIT_RESTORE_RATE,
      maxOperationCost: vars.MAX_OPERATION_COST,
    },
  };
}
