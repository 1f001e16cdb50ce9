import { readdir, readFile, writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { REPO_ROOT } from './harness/children.js';
import { formatNumber, markdownTable, type ScenarioReport } from './harness/report.js';
import { SCENARIOS } from './scenarios/index.js';

/**
 * `npm run bench:report` prints the README's Performance table from bench/results/*.json: the
 * reports of the latest full run (`npm run bench`: every scenario, both backends), one table of
 * every figure (Parley, bare, ratio, goal met or not), headed by the command, date, duration,
 * machine and package versions. No progress lines and no paths: only what the reports hold.
 *
 * `--write` puts it into README.md between the `bench-report` markers instead of printing it.
 * `--latest` takes the newest report of each scenario whatever run it came from (each one's own
 * command and date are listed then): for a look between full runs, not for the README.
 */

const RESULTS_DIR = `${REPO_ROOT}bench/results/`;
const README = `${REPO_ROOT}README.md`;
const START_MARKER = '<!-- bench-report:start (npm run bench:report -- --write) -->';
const END_MARKER = '<!-- bench-report:end -->';
const BACKENDS = ['memory', 'redis'];

const { values: options } = parseArgs({
  options: {
    write: { type: 'boolean', default: false },
    latest: { type: 'boolean', default: false },
  },
});

function isReport(value: unknown): value is ScenarioReport {
  const report = value as Partial<ScenarioReport> | null;
  return (
    typeof report === 'object' &&
    report !== null &&
    typeof report.scenario === 'string' &&
    Array.isArray(report.figures) &&
    typeof report.startedAt === 'string'
  );
}

async function readReports(): Promise<ScenarioReport[]> {
  const names = (await readdir(RESULTS_DIR)).filter((name) => name.endsWith('.json')).sort();
  const reports: ScenarioReport[] = [];
  for (const name of names) {
    const parsed: unknown = JSON.parse(await readFile(`${RESULTS_DIR}${name}`, 'utf8'));
    if (isReport(parsed)) reports.push(parsed);
  }
  return reports;
}

/** A run that ran every scenario on both backends (older reports carry no run: never full). */
const isFull = (report: ScenarioReport): boolean =>
  report.run !== undefined &&
  SCENARIOS.every((scenario) => report.run.scenarios.includes(scenario.name)) &&
  BACKENDS.every((backend) => report.run.backends.includes(backend));

const order = (reports: ScenarioReport[]) =>
  reports.sort(
    (a, b) =>
      SCENARIOS.findIndex((s) => s.name === a.scenario) -
      SCENARIOS.findIndex((s) => s.name === b.scenario),
  );

const date = (iso: string) => `${iso.slice(0, 16).replace('T', ' ')} UTC`;

function machineLine(report: ScenarioReport): string {
  const machine = report.machine as {
    cores?: number;
    cpuModel?: string;
    memoryBytes?: number;
    node?: string;
    platform?: string;
    loadAverage1m?: number;
  };
  const parts = [
    `${machine.cores ?? '?'} cores (${machine.cpuModel ?? 'unknown'})`,
    machine.memoryBytes ? `${Math.round(machine.memoryBytes / 2 ** 30)} GB` : undefined,
    `Node ${machine.node ?? '?'}`,
    machine.platform,
    report.versions.redis && report.versions.redis !== 'unused'
      ? `Redis ${report.versions.redis}`
      : undefined,
    machine.loadAverage1m === undefined
      ? undefined
      : `load average ${formatNumber(machine.loadAverage1m)} at the start`,
  ];
  return parts.filter((part) => part !== undefined).join(', ');
}

function versionsLine(report: ScenarioReport): string {
  return Object.entries(report.versions)
    .filter(([name]) => name !== 'redis')
    .map(([name, version]) => `${name} ${version}`)
    .join(', ');
}

/** Seconds from the run's start to the end of its last scenario. */
function runSeconds(reports: readonly ScenarioReport[], startedAt: string): number {
  const end = Math.max(
    ...reports.map((report) => Date.parse(report.startedAt) + report.durationSeconds * 1000),
  );
  return Math.round((end - Date.parse(startedAt)) / 1000);
}

function fullRunSection(all: readonly ScenarioReport[]): string {
  const full = all.filter(isFull);
  const latest = full
    .map((report) => report.run.startedAt)
    .sort()
    .at(-1);
  if (latest === undefined) {
    throw new Error(
      'no report in bench/results comes from a full run (npm run bench); --latest takes the newest of each scenario',
    );
  }
  const reports = order(full.filter((report) => report.run.startedAt === latest));
  const first = reports[0]!;
  const missing = first.run.scenarios.filter(
    (name) => !reports.some((report) => report.scenario === name),
  );
  const failed = reports.filter((report) => report.status === 'failed').length;
  const lines = [
    `The latest full run: \`${first.command}\`, ${date(latest)}, ${runSeconds(reports, latest)} s; ${machineLine(first)}.`,
    '',
    `Versions: ${versionsLine(first)}.`,
    '',
    markdownTable(reports),
  ];
  if (failed > 0) lines.push('', `${failed} of ${reports.length} scenarios failed (rows above).`);
  if (missing.length > 0) {
    lines.push(
      '',
      `Not in this table: ${missing.join(', ')} (run again on its own since, which replaced the results file, or the file is missing).`,
    );
  }
  return lines.join('\n');
}

function latestSection(all: readonly ScenarioReport[]): string {
  const reports = order([...all]);
  const lines = [
    'The newest result of each scenario, not one run:',
    '',
    ...reports.map(
      (report) =>
        `- ${report.scenario}: \`${report.command}\`, ${date(report.startedAt)}, ${report.durationSeconds} s; ${machineLine(report)}`,
    ),
    '',
    `Versions (${reports[0]?.scenario ?? 'none'}): ${reports[0] ? versionsLine(reports[0]) : ''}.`,
    '',
    markdownTable(reports),
  ];
  return lines.join('\n');
}

async function writeIntoReadme(section: string): Promise<void> {
  const readme = await readFile(README, 'utf8');
  const start = readme.indexOf(START_MARKER);
  const end = readme.indexOf(END_MARKER);
  if (start < 0 || end < start) {
    throw new Error(`README.md has no "${START_MARKER}" … "${END_MARKER}" block`);
  }
  const updated = `${readme.slice(0, start + START_MARKER.length)}\n\n${section}\n\n${readme.slice(end)}`;
  await writeFile(README, updated);
}

async function main(): Promise<void> {
  const reports = await readReports();
  if (reports.length === 0) throw new Error('bench/results holds no reports: run npm run bench');
  if (options.write && options.latest) {
    throw new Error('--latest mixes runs: it prints, it does not go into the README');
  }
  const section = options.latest ? latestSection(reports) : fullRunSection(reports);
  if (options.write) {
    await writeIntoReadme(section);
    process.stdout.write('README.md: Performance table updated\n');
  } else {
    process.stdout.write(`${section}\n`);
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`bench:report: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
