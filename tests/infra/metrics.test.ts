import { describe, expect, it } from 'vitest';
import { Metrics, refusalKindOf } from '../../src/infra/metrics.js';
import { parseMetrics } from '../support/prometheus.js';

const SOURCES = {
  openWebSockets: () => 0,
  openSubscriptions: () => 0,
  runningGenerations: () => 0,
  breakers: () => [],
};

const exposition = async (metrics: Metrics) => parseMetrics(await metrics.registry.metrics());

describe('Metrics keeps label values bounded', () => {
  it('a model that is not configured is counted as "other"', async () => {
    const metrics = new Metrics(SOURCES, ['gpt-configured']);
    metrics.modelCall('gpt-configured', 'ok');
    metrics.modelCall('a-model-nobody-configured', 'UPSTREAM_ERROR');
    metrics.firstToken('a-model-nobody-configured', 0.2);
    metrics.tokens('a-model-nobody-configured', { promptTokens: 3, completionTokens: 2 });
    const scraped = await exposition(metrics);
    expect(scraped.labelValues('parley_llm_model_calls_total', 'model').sort()).toEqual([
      'gpt-configured',
      'other',
    ]);
    expect(scraped.labelValues('parley_llm_first_token_seconds', 'model')).toEqual(['other']);
    expect(scraped.value('parley_llm_tokens_total', { model: 'other', type: 'prompt' })).toBe(3);
  });

  it('Redis commands beyond 64 names, or not plain names, are counted as "other"', async () => {
    const metrics = new Metrics(SOURCES);
    const letter = (code: number) => String.fromCharCode(97 + code);
    // 100 distinct lower-case names: aa, ba, ..., za, ab, ...
    for (let index = 0; index < 100; index++) {
      metrics.redisCommand(letter(index % 26) + letter(Math.floor(index / 26)), 0.001);
    }
    metrics.redisCommand('NOT A COMMAND', 0.001);
    const scraped = await exposition(metrics);
    const family = 'parley_redis_command_duration_seconds';
    const commands = scraped.labelValues(family, 'command');
    expect(commands.length).toBe(65);
    expect(commands).toContain('other');
    expect(scraped.histogram(family).count).toBe(101);
  });

  it('refusals map codes and reasons onto their kinds, an unknown reason onto the bucket', () => {
    expect(refusalKindOf('COST_LIMIT_EXCEEDED', undefined)).toBe('cost_limit');
    expect(refusalKindOf('RATE_LIMITED', undefined)).toBe('rate_points');
    expect(refusalKindOf('RATE_LIMITED', 'TOKEN_BUDGET')).toBe('token_budget');
    expect(refusalKindOf('RATE_LIMITED', 'CONTACT_LIMIT')).toBe('contact_limit');
    expect(refusalKindOf('RATE_LIMITED', 'toString')).toBe('rate_points');
    expect(refusalKindOf('BAD_USER_INPUT', 'TOKEN_BUDGET')).toBeUndefined();
  });
});
