import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, RESILIENCE_PRESETS } from '../src/config.js';

/** loadConfig's failure for `env`, which must be a ConfigError. */
function configError(env: Record<string, string | undefined>): ConfigError {
  try {
    loadConfig(env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return error as ConfigError;
  }
  throw new Error(`loadConfig accepted ${JSON.stringify(env)}`);
}

/** A start-up error is one line that names the variable at fault. */
function expectOneLineNaming(error: ConfigError, variable: string): void {
  expect(error.message).not.toMatch(/[\r\n]/);
  expect(error.message).toContain(variable);
}

describe('loadConfig defaults', () => {
  it('an empty environment gives a working development server', () => {
    const config = loadConfig({});

    expect(config.port).toBe(4000);
    expect(config.host).toBe('0.0.0.0');
    expect(config.production).toBe(false);
    expect(config.introspection).toBe(true);
    expect(config.redisUrl).toBeUndefined();
    expect(config.apiKeys).toEqual([]);
    expect(config.rateLimit).toEqual({ points: 1000, restoreRate: 50, maxOperationCost: 1000 });
  });

  it('uses the local responder when no OpenAI variable is set', () => {
    expect(loadConfig({}).llm.provider).toBe('local');
  });

  it('uses openai when OPENAI_API_KEY is set', () => {
    const config = loadConfig({ OPENAI_API_KEY: 'sk-test' });

    expect(config.llm.provider).toBe('openai');
    expect(config.llm.endpoints).toEqual([
      { name: 'primary', baseURL: undefined, apiKey: 'sk-test', models: ['gpt-4o-mini'] },
    ]);
  });

  it('uses openai when OPENAI_BASE_URL is set', () => {
    const config = loadConfig({ OPENAI_BASE_URL: 'http://127.0.0.1:11434/v1' });

    expect(config.llm.provider).toBe('openai');
    expect(config.llm.endpoints[0]?.baseURL).toBe('http://127.0.0.1:11434/v1');
  });

  it('LLM_PROVIDER=local wins over OpenAI variables and calls no endpoint', () => {
    const config = loadConfig({ OPENAI_API_KEY: 'sk-test', LLM_PROVIDER: 'local' });

    expect(config.llm.provider).toBe('local');
    expect(config.llm.endpoints).toEqual([]);
  });

  it('models are LLM_MODEL followed by the fallbacks, in order', () => {
    const config = loadConfig({
      OPENAI_API_KEY: 'sk-test',
      LLM_MODEL: 'primary',
      LLM_FALLBACK_MODELS: 'second, third,,',
    });

    expect(config.llm.endpoints[0]?.models).toEqual(['primary', 'second', 'third']);
  });

  it('without fallbacks the models are LLM_MODEL alone', () => {
    const config = loadConfig({ OPENAI_API_KEY: 'sk-test', LLM_MODEL: 'only' });

    expect(config.llm.endpoints[0]?.models).toEqual(['only']);
  });

  it('reads PORT, HOST and REDIS_URL', () => {
    const config = loadConfig({
      PORT: '8080',
      HOST: '127.0.0.1',
      REDIS_URL: 'redis://127.0.0.1:6379/2',
    });

    expect(config.port).toBe(8080);
    expect(config.host).toBe('127.0.0.1');
    expect(config.redisUrl).toBe('redis://127.0.0.1:6379/2');
  });

  it('treats an empty variable as unset', () => {
    const config = loadConfig({ PORT: '', REDIS_URL: '', API_KEYS: '' });

    expect(config.port).toBe(4000);
    expect(config.redisUrl).toBeUndefined();
    expect(config.apiKeys).toEqual([]);
  });
});

describe('API_KEYS', () => {
  it('parses name:key entries with the default scopes chat and rag', () => {
    expect(loadConfig({ API_KEYS: 'alice:key-a, bob:key-b' }).apiKeys).toEqual([
      { name: 'alice', key: 'key-a', scopes: ['chat', 'rag'] },
      { name: 'bob', key: 'key-b', scopes: ['chat', 'rag'] },
    ]);
  });

  it('parses name:key:scope+scope entries', () => {
    expect(loadConfig({ API_KEYS: 'ops:key-o:chat+admin' }).apiKeys).toEqual([
      { name: 'ops', key: 'key-o', scopes: ['chat', 'admin'] },
    ]);
  });

  it('never grants admin by default', () => {
    const [key] = loadConfig({ API_KEYS: 'alice:key-a' }).apiKeys;

    expect(key?.scopes).not.toContain('admin');
  });

  it('rejects an unknown scope', () => {
    const error = configError({ API_KEYS: 'alice:key-a:chat+root' });

    expectOneLineNaming(error, 'API_KEYS');
    expect(error.message).toContain('root');
  });

  it('rejects an empty scope list', () => {
    expectOneLineNaming(configError({ API_KEYS: 'alice:key-a:' }), 'API_KEYS');
  });

  it('rejects duplicate names', () => {
    expectOneLineNaming(configError({ API_KEYS: 'alice:key-a,alice:key-b' }), 'API_KEYS');
  });

  it('rejects duplicate keys', () => {
    expectOneLineNaming(configError({ API_KEYS: 'alice:same,bob:same' }), 'API_KEYS');
  });

  it.each([['alice'], ['alice:'], [':key-a'], ['alice:key-a:chat:extra']])(
    'rejects the malformed entry %j',
    (entry) => {
      expectOneLineNaming(configError({ API_KEYS: `bob:key-b,${entry}` }), 'API_KEYS');
    },
  );
});

describe('malformed values stop the start with one line naming the variable', () => {
  it.each([
    ['PORT', 'abc'],
    ['PORT', '70000'],
    ['LLM_PROVIDER', 'foo'],
    ['REDIS_URL', 'http://x'],
    ['NODE_ENV', 'staging'],
    ['GRAPHQL_INTROSPECTION', 'yes'],
    ['RATE_LIMIT_POINTS', '-5'],
    ['OPENAI_BASE_URL', 'not a url'],
  ])('%s=%s', (variable, value) => {
    expectOneLineNaming(configError({ [variable]: value }), variable);
  });

  it('LLM_PROVIDER=openai without an OpenAI key or endpoint', () => {
    expectOneLineNaming(configError({ LLM_PROVIDER: 'openai' }), 'LLM_PROVIDER');
  });
});

describe('production', () => {
  const keys = { API_KEYS: 'alice:key-a' };

  it('requires API_KEYS', () => {
    expectOneLineNaming(configError({ NODE_ENV: 'production' }), 'API_KEYS');
  });

  it('turns introspection off', () => {
    const config = loadConfig({ NODE_ENV: 'production', ...keys });

    expect(config.production).toBe(true);
    expect(config.introspection).toBe(false);
  });

  it('keeps introspection on with GRAPHQL_INTROSPECTION=true', () => {
    const config = loadConfig({ NODE_ENV: 'production', GRAPHQL_INTROSPECTION: 'true', ...keys });

    expect(config.introspection).toBe(true);
  });

  it('GRAPHQL_INTROSPECTION=false turns it off outside production too', () => {
    expect(loadConfig({ GRAPHQL_INTROSPECTION: 'false' }).introspection).toBe(false);
  });
});

describe('resilience settings', () => {
  it('take the development preset outside production and the production one in it', () => {
    expect(loadConfig({}).breakers).toEqual({
      preset: 'development',
      ...RESILIENCE_PRESETS.development,
    });
    const production = loadConfig({ NODE_ENV: 'production', API_KEYS: 'ops:key' });
    expect(production.breakers).toEqual({ preset: 'production', ...RESILIENCE_PRESETS.production });
  });

  it('let each breaker setting be overridden by its own variable', () => {
    const config = loadConfig({
      RESILIENCE_PRESET: 'production',
      BREAKER_TIMEOUT_MS: '1234',
      BREAKER_ERROR_THRESHOLD_PERCENTAGE: '25',
      BREAKER_VOLUME_THRESHOLD: '7',
      BREAKER_FAILURE_THRESHOLD: '4',
      BREAKER_RESET_TIMEOUT_MS: '999',
      BREAKER_ROLLING_WINDOW_MS: '20000',
      REDIS_BREAKER_FAILURE_THRESHOLD: '6',
      REDIS_BREAKER_RESET_TIMEOUT_MS: '1500',
      REDIS_BREAKER_ROLLING_WINDOW_MS: '15000',
    });
    expect(config.breakers).toEqual({
      preset: 'production',
      llm: {
        timeoutMs: RESILIENCE_PRESETS.production.llm.timeoutMs,
        errorThresholdPercentage: 25,
        volumeThreshold: 7,
        failureThreshold: 4,
        resetTimeoutMs: 999,
        rollingWindowMs: 20000,
      },
      redis: {
        ...RESILIENCE_PRESETS.production.redis,
        timeoutMs: 1234,
        failureThreshold: 6,
        resetTimeoutMs: 1500,
        rollingWindowMs: 15000,
      },
    });
  });

  it('open a model breaker after 5 failed answers in 60 s or half of 10, and Redis after 3 in 30 s, in both presets', () => {
    for (const preset of ['development', 'production'] as const) {
      const { llm, redis } = loadConfig({ RESILIENCE_PRESET: preset }).breakers;
      expect(llm).toMatchObject({
        failureThreshold: 5,
        rollingWindowMs: 60_000,
        errorThresholdPercentage: 50,
        volumeThreshold: 10,
      });
      expect(redis).toMatchObject({ failureThreshold: 3, rollingWindowMs: 30_000 });
    }
  });

  it('reject an unknown preset, naming the variable', () => {
    expectOneLineNaming(configError({ RESILIENCE_PRESET: 'chaos' }), 'RESILIENCE_PRESET');
  });
});

describe('LLM_PROVIDERS', () => {
  const second = {
    name: 'groq',
    baseURL: 'https://api.groq.example/v1',
    apiKeyEnv: 'GROQ_KEY',
    models: ['llama'],
  };

  it('appends endpoints after the primary one, reading keys from the named variables', () => {
    const config = loadConfig({
      OPENAI_API_KEY: 'sk-primary',
      LLM_MODEL: 'gpt-4o',
      LLM_PROVIDERS: JSON.stringify([second]),
      GROQ_KEY: 'gsk-secret',
    });
    expect(config.llm.provider).toBe('openai');
    expect(config.llm.endpoints).toEqual([
      { name: 'primary', baseURL: undefined, apiKey: 'sk-primary', models: ['gpt-4o'] },
      { name: 'groq', baseURL: second.baseURL, apiKey: 'gsk-secret', models: ['llama'] },
    ]);
  });

  it('alone, selects the openai provider with only those endpoints', () => {
    const config = loadConfig({ LLM_PROVIDERS: JSON.stringify([second]), GROQ_KEY: 'gsk' });
    expect(config.llm.provider).toBe('openai');
    expect(config.llm.endpoints.map((endpoint) => endpoint.name)).toEqual(['groq']);
  });

  it('refuses a key variable that is not set, naming both', () => {
    const error = configError({ LLM_PROVIDERS: JSON.stringify([second]) });
    expectOneLineNaming(error, 'LLM_PROVIDERS');
    expect(error.message).toContain('GROQ_KEY');
  });

  it('refuses malformed JSON and entries without models', () => {
    expectOneLineNaming(configError({ LLM_PROVIDERS: '[{' }), 'LLM_PROVIDERS');
    expectOneLineNaming(
      configError({ LLM_PROVIDERS: JSON.stringify([{ ...second, models: [] }]), GROQ_KEY: 'k' }),
      'LLM_PROVIDERS',
    );
  });

  it('never accepts a key written in the list itself', () => {
    const config = loadConfig({
      LLM_PROVIDERS: JSON.stringify([{ ...second, apiKey: 'inline-secret' }]),
      GROQ_KEY: 'gsk',
    });
    expect(JSON.stringify(config.llm.endpoints)).not.toContain('inline-secret');
  });
});

describe('whitespace-only numbers', () => {
  it('are malformed, not zero', () => {
    expectOneLineNaming(configError({ PORT: ' ' }), 'PORT');
  });
});
