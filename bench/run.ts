import { relative } from 'node:path';
import { parseArgs } from 'node:util';
import { killAllChildren, REPO_ROOT } from './harness/children.js';
import { machine, packageVersions, redisVersion } from './harness/machine.js';
import { markdownTable, type ScenarioReport, writeReport } from './harness/report.js';
import { notRunReport, runScenario, type ScenarioRun } from './harness/run-scenario.js';
import type { Scenario } from './harness/scenario.js';
import type { BackendKind } from './harness/targets.js';
import { SCENARIOS } from './scenarios/index.js';

/**
 * `npm run bench` runs every scenario; `npm run bench -- <scenario>…` runs those. Options:
 * `--backend=memory|redis` (default both), `--profile` (CPU profiles of the measured windows
 * into bench/results/), `--list`. Each scenario runs within its own time budget and the whole
 * run within RUN_LIMIT_SECONDS (both times BENCH_BUDGET_SCALE); a scenario that fails or
 * overruns is recorded as failed and the run goes on. The results go to stdout as a markdown
 * table and to bench/results/<scenario>.json; the exit code is 1 when any scenario failed.
 */

const RESULTS_DIR = `${REPO_ROOT}bench/results/`;
const REDIS_URL = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';
/**
 * Keeps the whole `npm run bench` bounded: the scenarios' budgets, which allow for a machine
 * twice as slow, add up to more; on the machine they were tuned on the run takes about 9 min.
 */
const RUN_LIMIT_SECONDS = 15 * 60;

/** Multiplies every budget: above 1 for a slower machine, tiny to try the failure path. */
function budgetScale(value: string | undefined): number {
  if (value === undefined || value === '') return 1;
  const scale = Number(value);
  if (!Number.isFinite(scale) || scale <= 0) {
    throw new Error(`BENCH_BUDGET_SCALE must be a positive number, not "${value}"`);
  }
  return scale;
}

const { values: options, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    backend: { type: 'string' },
    profile: { type: 'boolean', default: false },
    list: { type: 'boolean', default: false },
  },
});

function selectScenarios(names: readonly string[]): Scenario[] {
  if (names.length === 0) return [...SCENARIOS];
  return names.map((name) => {
    const scenario = SCENARIOS.find((candidate) => candidate.name === name);
    if (!scenario) {
      throw new Error(
        `unknown scenario "${name}"; known: ${SCENARIOS.map((s) => s.name).join(', ')}`,
      );
    }
    return scenario;
  });
}

function selectBackends(value: string | undefined): BackendKind[] {
  if (value === undefined) return ['memory', 'redis'];
  if (value === 'memory' || value === 'redis') return [value];
  throw new Error(`--backend must be memory or redis, not "${value}"`);
}

function scenarioContext(
  scenario: Scenario,
  backends: readonly BackendKind[],
  runStarted: number,
): ScenarioRun['context'] {
  return {
    backends,
    redisUrl: REDIS_URL,
    profile: options.profile,
    profilePath: (label) => `${RESULTS_DIR}${scenario.name}-${label}.cpuprofile`,
    log: (message) =>
      process.stdout.write(
        `  [${scenario.name} ${((Date.now() - runStarted) / 1000).toFixed(0)}s] ${message}\n`,
      ),
  };
}

async function main(): Promise<number> {
  const scale = budgetScale(process.env.BENCH_BUDGET_SCALE);
  const scaled = (seconds: number) => Math.round(seconds * scale * 10) / 10;
  if (options.list) {
    for (const scenario of SCENARIOS) {
      process.stdout.write(
        `${scenario.name.padEnd(10)} ≤${scaled(scenario.budgetSeconds)} s  ${scenario.description}\n`,
      );
    }
    return 0;
  }
  const scenarios = selectScenarios(positionals);
  const backends = selectBackends(options.backend);
  const redis = backends.includes('redis') ? await redisVersion(REDIS_URL) : 'unused';
  if (!redis) throw new Error(`Redis does not answer at ${REDIS_URL} (use --backend=memory)`);
  const command = [
    'npm run bench',
    ...(process.argv.length > 2 ? ['--', ...process.argv.slice(2)] : []),
  ].join(' ');
  const common = {
    command,
    run: {
      startedAt: new Date().toISOString(),
      scenarios: scenarios.map((scenario) => scenario.name),
      backends,
    },
    machine: machine(),
    versions: { ...packageVersions(), redis },
  };
  const runLimit = scaled(RUN_LIMIT_SECONDS);
  const budgets = scenarios.reduce((sum, scenario) => sum + scaled(scenario.budgetSeconds), 0);
  process.stdout.write(
    `bench: ${scenarios.map((s) => s.name).join(', ')} on ${backends.join(' and ')} (at most ${Math.ceil(Math.min(budgets, runLimit) / 60)} min)\n`,
  );

  const reports: ScenarioReport[] = [];
  const started = Date.now();
  for (const scenario of scenarios) {
    const leftSeconds = Math.floor(runLimit - (Date.now() - started) / 1000);
    const report =
      leftSeconds > 0
        ? await runScenario({
            scenario,
            budgetSeconds: Math.min(scaled(scenario.budgetSeconds), leftSeconds),
            context: scenarioContext(scenario, backends, started),
            common,
          })
        : notRunReport(scenario, common, `not run: the run's limit of ${runLimit} s was spent`);
    reports.push(report);
    const path = await writeReport(RESULTS_DIR, report);
    process.stdout.write(
      `\n${markdownTable([report])}\n(${report.durationSeconds} s, ${relative(REPO_ROOT, path)})\n\n`,
    );
  }
  process.stdout.write(
    `\n## All results (${command}, ${((Date.now() - started) / 1000).toFixed(0)} s)\n\n`,
  );
  process.stdout.write(`${markdownTable(reports)}\n`);
  return reports.some((report) => report.status === 'failed') ? 1 : 0;
}

for (const [signal, code] of [
  ['SIGINT', 130],
  ['SIGTERM', 143],
] as const) {
  process.on(signal, () => {
    killAllChildren();
    process.exit(code);
  });
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    killAllChildren();
    process.stderr.write(`bench: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  },
);
