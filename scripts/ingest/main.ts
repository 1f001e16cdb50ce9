import { parseArgs } from 'node:util';
import { formatSeconds } from './progress.js';
import { type IngestSummary, ingestFiles } from './run.js';

const USAGE = `Usage: npm run ingest -- <files or folders…> [options]

Ingests markdown and text files (.md .markdown .mdx .txt .text under each folder; any file named)
into Parley through its GraphQL API. Each file's path relative to the current folder is its
sourceId, so running again replaces the documents; its title is the front matter's title, the
first heading, or the file name.

Options:
  -c, --collection <name>   collection to ingest into (the server's default otherwise)
      --url <url>           GraphQL endpoint (default http://localhost:4000/graphql)
      --api-key <key>       API key for a keyed server; PARLEY_API_KEY is read otherwise
                            (the variable keeps the key out of the process list)
      --concurrency <n>     files in flight at once (default 4)
      --max-bytes <n>       skip files larger than this without reading them (default 10485760)
  -h, --help                this text

Exit status: 0 when at least one file was ingested; 1 when none could be; 2 for a usage error;
3 when the server is unreachable or refuses the API key; 130 when interrupted.`;

const EXIT = { ok: 0, nothingIngested: 1, usage: 2, server: 3, interrupted: 130 } as const;

function usageError(message: string): never {
  process.stderr.write(`${message}\n\n${USAGE}\n`);
  process.exit(EXIT.usage);
}

function positiveInteger(value: string | undefined, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 1) usageError(`--${name} must be a positive integer.`);
  return parsed;
}

function parseCommandLine() {
  try {
    return parseArgs({
      allowPositionals: true,
      options: {
        collection: { type: 'string', short: 'c' },
        url: { type: 'string', default: 'http://localhost:4000/graphql' },
        'api-key': { type: 'string' },
        concurrency: { type: 'string' },
        'max-bytes': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (error) {
    return usageError((error as Error).message);
  }
}

function report(summary: IngestSummary, collection: string | undefined): void {
  const attempted = summary.ingested.length + summary.skipped.length + summary.failed.length;
  if (summary.stopped && attempted === 0) {
    process.stdout.write(`Stopped: ${summary.stopped.message}\n`);
    return;
  }
  const chunks = summary.ingested.reduce((total, file) => total + file.chunks, 0);
  const into = summary.ingested[0]?.collection ?? collection ?? 'default';
  const rate = (chunks / Math.max(summary.seconds, 0.001)).toFixed(1);
  const lines = [
    `${summary.ingested.length} ingested, ${summary.skipped.length} skipped, ${summary.failed.length} failed` +
      ` in ${formatSeconds(summary.seconds)}: ${chunks} chunks (${rate} chunks/s) into collection "${into}"`,
    ...summary.skipped.map((file) => `  skipped  ${file.id}: ${file.reason}`),
    ...summary.failed.map((file) => `  failed   ${file.id}: ${file.reason}`),
  ];
  if (summary.stopped) lines.push(`Stopped: ${summary.stopped.message}`);
  process.stdout.write(`${lines.join('\n')}\n`);
}

const { values, positionals } = parseCommandLine();
if (values.help) {
  process.stdout.write(`${USAGE}\n`);
  process.exit(EXIT.ok);
}
if (positionals.length === 0) usageError('Name at least one file or folder.');

// `npm run` starts scripts in the package folder; the caller's folder is in INIT_CWD.
const base =
  process.env.npm_lifecycle_event === 'ingest' && process.env.INIT_CWD
    ? process.env.INIT_CWD
    : process.cwd();
const interrupt = new AbortController();
process.once('SIGINT', () => interrupt.abort());

const summary = await ingestFiles({
  targets: positionals,
  base,
  url: values.url,
  apiKey: values['api-key'] ?? (process.env.PARLEY_API_KEY || undefined),
  collection: values.collection,
  concurrency: positiveInteger(values.concurrency, 'concurrency', 4),
  maxBytes: positiveInteger(values['max-bytes'], 'max-bytes', 10 * 1024 * 1024),
  signal: interrupt.signal,
  progressStream: process.stderr.isTTY ? process.stderr : undefined,
});
report(summary, values.collection);
if (summary.stopped?.reason === 'interrupted') process.exitCode = EXIT.interrupted;
else if (summary.stopped) process.exitCode = EXIT.server;
else process.exitCode = summary.ingested.length > 0 ? EXIT.ok : EXIT.nothingIngested;
