import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config.js';

describe('text operation settings', () => {
  it('have the documented defaults', () => {
    expect(loadConfig({}).text).toEqual({
      batchMax: 20,
      batchConcurrency: 4,
      cacheTtlSeconds: 3600,
      cacheMaxEntries: 1000,
    });
    expect(loadConfig({}).llm.structuredOutput).toBe('json_schema');
  });

  it.each([
    ['TEXT_BATCH_MAX', '0'],
    ['TEXT_BATCH_CONCURRENCY', 'many'],
    ['CACHE_TTL_SECONDS', '-1'],
    ['TEXT_CACHE_MAX_ENTRIES', '0'],
    ['LLM_STRUCTURED_OUTPUT', 'xml'],
  ])('a malformed %s stops the server with one line naming it', (variable, value) => {
    expect(() => loadConfig({ [variable]: value })).toThrow(new RegExp(`^Invalid ${variable}:`));
  });
});
