import { parseArgs } from 'node:util';
import { killAllChildren, REPO_ROOT } from './harness/children.js';
import { machine, packageVersions, redisVersion } from './harness/machine.js';
import { markdownTable, rate, type ScenarioReport, writeReport } from './harness/report.js';
import type { Scenario, ScenarioContext } from './harness/scenario.js';
import type { BackendKind } from './harness/targets.js';
import { SCENARIOS } from './scenarios/index.js';

/**
 * `npm run bench` runs every scenario; `npm run bench -- <scenario>…` runs those. Options:
 * `--backend=memory|redis` (default both), `--profile` (CPU profiles of the measured windows
 * into bench/results/), `--list`. Each scenario runs within its own time budget; the results go
 * to stdout as a markdown table and to bench/results/<scenario>.json.
 */

const RESULTS_DIR = `${REPO_ROOT}bench/results/`;
const REDIS_URL = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';

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

async function runScenario(
  scenario: Scenario,
  context: ScenarioContext,
  common: Pick<ScenarioReport, 'command' | 'machine' | 'versions'>,
): Promise<ScenarioReport> {
  const startedAt = new Date();
  let overrun: NodeJS.Timeout | undefined;
  const budget = new Promise<never>((_resolve, reject) => {
    overrun = setTimeout(
      () => reject(new Error(`over its budget of ${scenario.budgetSeconds} s`)),
      scenario.budgetSeconds * 1000,
    );
  });
  let report: Pick<ScenarioReport, 'figures' | 'details' | 'failure'>;
  try {
    const outcome = await Promise.race([scenario.run(context), budget]);
    report = { figures: outcome.figures.map(rate), details: outcome.details, failure: null };
  } catch (error) {
    killAllChildren();
    report = {
      figures: [],
      details: {},
      failure: error instanceof Error ? error.message : String(error),
    };
  } finally {
    clearTimeout(overrun);
  }
  return {
    scenario: scenario.name,
    description: scenario.description,
    ...common,
    startedAt: startedAt.toISOString(),
    durationSeconds: Math.round((Date.now() - startedAt.getTime()) / 100) / 10,
    ...report,
  };
}

async function main(): Promise<number> {
  if (options.list) {
    for (const scenario of SCENARIOS) {
      process.stdout.write(
        `${scenario.name.padEnd(10)} ≤${scenario.budgetSeconds} s  ${scenario.description}\n`,
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
  const common = { command, machine: machine(), versions: { ...packageVersions(), redis } };
  const budget = scenarios.reduce((sum, scenario) => sum + scenario.budgetSeconds, 0);
  process.stdout.write(
    `bench: ${scenarios.map((s) => s.name).join(', ')} on ${backends.join(' and ')} (at most ${Math.ceil(budget / 60)} min)\n`,
  );

  const reports: ScenarioReport[] = [];
  const started = Date.now();
  for (const scenario of scenarios) {
    const context: ScenarioContext = {
      backends,
      redisUrl: REDIS_URL,
      profile: options.profile,
      profilePath: (label) => `${RESULTS_DIR}${scenario.name}-${label}.cpuprofile`,
      log: (message) =>
        process.stdout.write(
          `  [${scenario.name} ${((Date.now() - started) / 1000).toFixed(0)}s] ${message}\n`,
        ),
    };
    const report = await runScenario(scenario, context, common);
    reports.push(report);
    const path = await writeReport(RESULTS_DIR, report);
    process.stdout.write(
      `\n${markdownTable([report])}\n(${report.durationSeconds} s, ${path})\n\n`,
    );
  }
  process.stdout.write(
    `\n## All results (${command}, ${((Date.now() - started) / 1000).toFixed(0)} s)\n\n`,
  );
  process.stdout.write(`${markdownTable(reports)}\n`);
  return reports.some((report) => report.failure) ? 1 : 0;
}

process.on('SIGINT', () => {
  killAllChildren();
  process.exit(130);
});

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    killAllChildren();
    process.stderr.write(`bench: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  },
);
