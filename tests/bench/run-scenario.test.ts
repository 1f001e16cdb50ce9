import { describe, expect, it } from 'vitest';
import { stopAllChildren } from '../../bench/harness/children.js';
import { pollUntil } from '../../bench/harness/clock.js';
import { runScenario, type ScenarioRun } from '../../bench/harness/run-scenario.js';
import type { Scenario, ScenarioContext } from '../../bench/harness/scenario.js';
import { startUpstream } from '../../bench/harness/targets.js';
import { scale } from '../../bench/scenarios/scale.js';
import { SHARED_REDIS_URL } from '../support/redis.js';

/**
 * Issue 11, item 6: on a machine too slow for a scenario, `npm run bench` records the scenario
 * as failed, with what it measured so far, and goes on; it never crashes nor leaves processes
 * behind. One runner serves every scenario, the newest included (scale is run for real below).
 */

const logs: string[] = [];

function runOf(scenario: Scenario, budgetSeconds: number): ScenarioRun {
  const context: Omit<ScenarioContext, 'measurements' | 'signal'> = {
    backends: ['memory'],
    redisUrl: SHARED_REDIS_URL,
    profile: false,
    profilePath: (label) => `/dev/null/${label}`,
    log: (message) => logs.push(message),
  };
  return {
    scenario,
    budgetSeconds,
    context,
    common: {
      command: 'test',
      run: {
        startedAt: new Date().toISOString(),
        scenarios: [scenario.name],
        backends: ['memory'],
      },
      machine: {},
      versions: {},
    },
  };
}

const FIGURE = {
  backend: 'memory',
  metric: 'measured before the stop',
  unit: 'count',
  value: 3,
  baseline: 2,
  goal: { on: 'ratio', atMost: 2 },
} as const;

/** A pid that no longer names a process. */
const gone = (pid: number) => {
  try {
    process.kill(pid, 0);
    return false;
  } catch {
    return true;
  }
};

describe('the bench runner on a machine too slow for a scenario', () => {
  it('records a scenario over its budget as failed, keeps what it measured, and kills its children', async () => {
    let childPid = 0;
    const stuck: Scenario = {
      name: 'stuck',
      description: 'waits on its child for longer than its budget',
      budgetSeconds: 4,
      run: async (context) => {
        context.measurements.addFigures([FIGURE]);
        const upstream = await startUpstream();
        childPid = upstream.child.process.pid ?? 0;
        context.log('waiting on the upstream');
        // Never true: only the child's death (the runner stopping the scenario) ends this.
        await pollUntil(
          async () => (await upstream.child.call('held')) > 1_000,
          () => 'the upstream never held 1,000 answers',
          120_000,
          50,
        );
      },
    };
    const report = await runScenario(runOf(stuck, 4));
    expect(report.status).toBe('failed');
    expect(report.failure).toMatch(/^over its budget of 4 s, at "waiting on the upstream"$/);
    expect(report.figures).toEqual([
      expect.objectContaining({ metric: FIGURE.metric, ratio: 1.5, goalMet: true }),
    ]);
    expect(childPid).toBeGreaterThan(0);
    expect(gone(childPid)).toBe(true);
    expect(await stopAllChildren()).toBe(0);
  });

  it('records a scenario that throws as failed with its reason, and one that finishes as completed', async () => {
    const throwing: Scenario = {
      name: 'throwing',
      description: 'fails after measuring one figure',
      budgetSeconds: 10,
      run: async (context) => {
        context.measurements.addFigures([FIGURE]);
        throw new Error('the server under test went away');
      },
    };
    const failed = await runScenario(runOf(throwing, 10));
    expect(failed).toMatchObject({
      status: 'failed',
      failure: 'the server under test went away',
      figures: [expect.objectContaining({ metric: FIGURE.metric })],
    });
    const finishing: Scenario = { ...throwing, run: async () => {} };
    const completed = await runScenario(runOf(finishing, 10));
    expect(completed).toMatchObject({ status: 'completed', failure: null, figures: [] });
  });

  it('stops the scale scenario (10,000 sockets, two instances) mid-run and comes back with its report', async () => {
    const report = await runScenario(runOf(scale, 6));
    expect(report.status).toBe('failed');
    // Stopped by the budget, and unwound in time: nothing of it runs into a next scenario.
    expect(report.failure).toMatch(/^over its budget of 6 s, at "/);
    expect(report.failure).not.toMatch(/still unwinding/);
    expect(report.details).toMatchObject({ sockets: 10_000 });
    expect(await stopAllChildren()).toBe(0);
  }, 60_000);
});
