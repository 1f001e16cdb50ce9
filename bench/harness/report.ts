import { mkdir, writeFile } from 'node:fs/promises';
import type { Figure, Goal } from './scenario.js';

/** Results as a markdown table (stdout, README) and as one JSON file per scenario. */

export interface RatedFigure extends Figure {
  ratio: number | null;
  goalText: string | null;
  goalMet: boolean | null;
}

export interface RunInfo {
  startedAt: string;
  /** The scenarios it ran, in order. */
  scenarios: string[];
  backends: string[];
}

export interface ScenarioReport {
  scenario: string;
  description: string;
  command: string;
  /**
   * The run it was part of, the same in every scenario's report of one `npm run bench`: which
   * files belong to one full run (bench/report.ts builds the README table from them).
   */
  run: RunInfo;
  startedAt: string;
  durationSeconds: number;
  /** The budget it ran under (its own, scaled, cut to what was left of the run's limit). */
  budgetSeconds: number;
  /** `failed` when it threw, overran its budget or was not run; its figures are then partial. */
  status: 'completed' | 'failed';
  /** Why it failed; null when it completed. */
  failure: string | null;
  machine: Record<string, unknown>;
  versions: Record<string, string | undefined>;
  figures: RatedFigure[];
  details: Record<string, unknown>;
}

function describeGoal(goal: Goal): string {
  const subject = goal.on === 'ratio' ? 'ratio' : 'value';
  return 'atLeast' in goal ? `${subject} ≥ ${goal.atLeast}` : `${subject} ≤ ${goal.atMost}`;
}

function meets(goal: Goal, value: number, ratio: number | null): boolean | null {
  const subject = goal.on === 'ratio' ? ratio : value;
  if (subject === null || !Number.isFinite(subject)) return null;
  return 'atLeast' in goal ? subject >= goal.atLeast : subject <= goal.atMost;
}

export function rate(figure: Figure): RatedFigure {
  const ratio =
    figure.baseline !== undefined && figure.baseline !== 0 ? figure.value / figure.baseline : null;
  return {
    ...figure,
    ratio,
    goalText: figure.goal ? describeGoal(figure.goal) : null,
    goalMet: figure.goal ? meets(figure.goal, figure.value, ratio) : null,
  };
}

/** Three significant digits below 100, whole numbers with separators above. */
export function formatNumber(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  if (Math.abs(value) >= 100) return Math.round(value).toLocaleString('en-US');
  return Number(value.toPrecision(3)).toString();
}

export function markdownTable(reports: readonly ScenarioReport[]): string {
  const lines = [
    '| scenario | backend | figure | Parley | bare | ratio | goal |',
    '| --- | --- | --- | ---: | ---: | ---: | --- |',
  ];
  for (const report of reports) {
    if (report.status === 'failed') {
      const partial = report.figures.length > 0 ? ' (figures below are partial)' : '';
      const reason = report.failure?.split('\n')[0] ?? 'unknown';
      lines.push(`| ${report.scenario} | | failed: ${reason}${partial} | | | | |`);
    }
    for (const figure of report.figures) {
      const goal = figure.goalText
        ? `${figure.goalText} ${figure.goalMet === null ? '?' : figure.goalMet ? '✓' : '✗'}`
        : '';
      lines.push(
        `| ${report.scenario} | ${figure.backend} | ${figure.metric} (${figure.unit}) | ${formatNumber(figure.value)} | ${
          figure.baseline === undefined ? '' : formatNumber(figure.baseline)
        } | ${figure.ratio === null ? '' : figure.ratio.toFixed(2)} | ${goal} |`,
      );
    }
  }
  return lines.join('\n');
}

export async function writeReport(resultsDir: string, report: ScenarioReport): Promise<string> {
  await mkdir(resultsDir, { recursive: true });
  const path = `${resultsDir}${report.scenario}.json`;
  await writeFile(path, `${JSON.stringify(report, null, 2)}\n`);
  return path;
}
