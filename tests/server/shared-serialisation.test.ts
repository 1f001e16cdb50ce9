import { buildSchema, type ExecutionResult, parse } from 'graphql';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { SharedEventExecution } from '../../src/server/shared-execution.js';

/**
 * yoga's SSE (and multipart) transports serialise a result with its own `stringify`: a result
 * shared by a group is serialised once, whoever asks; anything else is serialised as usual.
 */
const schema = buildSchema('type Query { seq: Int } type Subscription { seq: Int }');
const args = {
  schema,
  document: parse('subscription { seq }'),
  contextValue: { principal: { id: 'user-1' } },
};

type Stringified = ExecutionResult & { stringify: (value: unknown) => string };

afterEach(() => {
  vi.restoreAllMocks();
});

describe('a shared result serialised for SSE', () => {
  it('is stringified once for every subscriber, and a copy without internals as usual', async () => {
    const execution = new SharedEventExecution();
    const event = { seq: 7 };
    const result = (await execution.resultOf(event, 'group', args)) as Stringified;
    expect(await execution.resultOf(event, 'group', args)).toBe(result);
    const stringify = vi.spyOn(JSON, 'stringify');
    const first = result.stringify(result);
    const again = result.stringify(result);
    expect(first).toBe('{"data":{"seq":7}}');
    expect(again).toBe(first);
    expect(stringify).toHaveBeenCalledTimes(1);
    // yoga passes a copy when it strips internals from errors: that copy is not the shared one.
    const copy = { ...result, data: { seq: 8 } };
    expect(result.stringify(copy)).toBe('{"data":{"seq":8}}');
    expect(Object.keys(result)).toEqual(['data']);
  });

  it('keeps each event its own JSON', async () => {
    const execution = new SharedEventExecution();
    const results = (await Promise.all(
      [1, 2, 3].map((seq) => execution.resultOf({ seq }, 'group', args)),
    )) as Stringified[];
    expect(results.map((result) => result.stringify(result))).toEqual([
      '{"data":{"seq":1}}',
      '{"data":{"seq":2}}',
      '{"data":{"seq":3}}',
    ]);
  });
});
