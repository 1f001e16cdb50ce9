import { setImmediate as nextTurn } from 'node:timers/promises';
import { buildSchema, type ExecutionArgs, parse } from 'graphql';
import { describe, expect, it } from 'vitest';
import { SharedEventExecution } from '../../src/server/shared-execution.js';

/**
 * How long a shared result is kept: for the turn of the event loop in which its group first
 * asked, not for as long as its event lives (the embedded log keeps every event, and a result
 * kept beside each one kept every result alive too).
 */
const schema = buildSchema(/* GraphQL */ `
  type Query { ok: Boolean }
  type Tick { n: Int }
  type Subscription { ticks: Tick }
`);
const args: ExecutionArgs = {
  schema,
  document: parse('subscription { ticks { n } }'),
  contextValue: {},
};
const GROUP = 'principal-1 document-1';

describe('shared event results', () => {
  it('are shared by the readers of one turn, and made again in a later one', async () => {
    const execution = new SharedEventExecution();
    // The same event object, as the stream readers hand it to every subscriber of a message.
    const event = { ticks: { n: 1 } };
    const first = execution.resultOf(event, GROUP, args);
    const second = execution.resultOf(event, GROUP, args);
    expect(second).toBe(first);
    expect(execution.counts).toEqual({ executed: 1, shared: 1 });

    await nextTurn();
    const later = execution.resultOf(event, GROUP, args);
    expect(later).not.toBe(first);
    expect(execution.counts).toEqual({ executed: 2, shared: 1 });
    // Made again, alike: a reader a turn behind gets what the others got.
    expect(await later).toEqual(await first);
    expect(await first).toEqual({ data: { ticks: { n: 1 } } });
  });

  it('are kept apart by group and by event within a turn', async () => {
    const execution = new SharedEventExecution();
    const one = { ticks: { n: 1 } };
    const two = { ticks: { n: 2 } };
    const results = [
      execution.resultOf(one, GROUP, args),
      execution.resultOf(one, 'principal-2 document-1', args),
      execution.resultOf(two, GROUP, args),
    ];
    expect(new Set(results).size).toBe(3);
    expect(execution.counts).toEqual({ executed: 3, shared: 0 });
    expect((await results[2])?.data).toEqual({ ticks: { n: 2 } });
  });
});
