import { parse } from 'graphql';
import { describe, expect, it } from 'vitest';
import type { Context } from '../../src/context.js';
import type { BucketPolicy, Ledger } from '../../src/infra/backend/ledger.js';
import { MemoryLedger } from '../../src/infra/backend/memory-ledger.js';
import { createLogger } from '../../src/infra/logger.js';
import { buildSchema } from '../../src/resolvers/index.js';
import { isoTime, useCostLimits } from '../../src/server/cost/cost-limits.js';
import { CostModel } from '../../src/server/cost/cost-model.js';
import { createErrorMapper } from '../../src/server/errors.js';
import { PointBuckets } from '../../src/services/limits/point-buckets.js';

const policy: BucketPolicy = { limit: 1_000, restoreRate: 100 };
const schema = buildSchema();
const QUERY = parse('{ viewer { principal { id } } }');

/** The embedded ledger answering its debits through a promise, as the Redis one does. */
function answeringLater(ledger: MemoryLedger): Ledger {
  return new Proxy(ledger, {
    get: (target, name, receiver) =>
      name === 'debitPoints'
        ? (...args: Parameters<MemoryLedger['debitPoints']>) =>
            Promise.resolve(target.debitPoints(...args))
        : Reflect.get(target, name, receiver),
  });
}

function plugin(ledger: Ledger, maxOperationCost = 100) {
  const points = new PointBuckets({ ledger, policy, maxOperationCost });
  const errors = createErrorMapper(createLogger('silent'));
  const model = new CostModel({ defaultListSize: 10, maxSlice: { first: 100 } });
  return useCostLimits({ model, points, errors });
}

function execution() {
  const context = { ledgerKey: 'key:alice' } as Context;
  const stopped: unknown[] = [];
  const payload = {
    args: { schema, document: QUERY, contextValue: context },
    setResultAndStopExecution: (result: unknown) => stopped.push(result),
  };
  return { context, stopped, payload };
}

type OnExecute = (payload: unknown) => unknown;

describe('the cost check before execution', () => {
  it('takes the cost at once on the embedded ledger: no promise before the operation runs', () => {
    const { context, stopped, payload } = execution();
    const hooks = (plugin(new MemoryLedger()).onExecute as OnExecute)(payload);
    expect(hooks).not.toBeInstanceOf(Promise);
    expect(hooks).toHaveProperty('onExecuteDone');
    expect(context.operationCost).toMatchObject({ requested: 1, state: { remaining: 999 } });
    expect(stopped).toEqual([]);
  });

  it('refuses at once too: over the maximum the refusal is set before onExecute returns', () => {
    const { context, stopped, payload } = execution();
    const hooks = (plugin(new MemoryLedger(), 0).onExecute as OnExecute)(payload);
    expect(hooks).toBeUndefined();
    expect(context.operationCost).toBeUndefined();
    expect(stopped).toHaveLength(1);
    expect(JSON.stringify(stopped[0])).toContain('COST_LIMIT_EXCEEDED');
  });

  it('waits for a ledger that answers later (Redis), with the same outcome', async () => {
    const { context, stopped, payload } = execution();
    const pending = (plugin(answeringLater(new MemoryLedger())).onExecute as OnExecute)(payload);
    expect(pending).toBeInstanceOf(Promise);
    expect(context.operationCost).toBeUndefined();
    expect(await pending).toHaveProperty('onExecuteDone');
    expect(context.operationCost).toMatchObject({ requested: 1, state: { remaining: 999 } });
    expect(stopped).toEqual([]);
  });
});

describe('isoTime', () => {
  it('is Date#toISOString for every millisecond it is asked, across seconds and years', () => {
    const samples = [0, 999, 1_000, 1_001, 1_700_000_000_000, 1_700_000_000_999, 1_700_000_001_000];
    for (let ms = 1_764_892_799_990; ms < 1_764_892_800_010; ms++) samples.push(ms);
    samples.push(253_402_300_799_999, 253_402_300_800_000, 1.5, -1);
    for (const ms of samples) expect(isoTime(ms)).toBe(new Date(ms).toISOString());
  });
});
