import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { query } from '../api/rag/operations.js';
import { gqlData } from '../support/client.js';
import { startServer, type TestServer } from '../support/server.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const TSX = join(ROOT, 'node_modules/.bin/tsx');
const CLI = join(ROOT, 'scripts/ingest/main.ts');

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the CLI as a user would, in `cwd`, with none of the caller's npm or key variables. */
function runIngest(args: string[], cwd: string, env: Record<string, string> = {}): Promise<Run> {
  const inherited = { ...process.env };
  for (const name of ['npm_lifecycle_event', 'INIT_CWD', 'PARLEY_API_KEY']) delete inherited[name];
  return new Promise((resolve) => {
    execFile(
      TSX,
      [CLI, ...args],
      { cwd, env: { ...inherited, ...env }, timeout: 20_000 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

const DOCUMENTS = /* GraphQL */ `
  query ($collection: String) {
    documents(collection: $collection) { edges { node { title sourceId chunkCount } } }
  }
`;

async function documentsIn(server: TestServer, collection: string, apiKey?: string) {
  const data = await gqlData<{
    documents: { edges: { node: { title: string; sourceId: string; chunkCount: number } }[] };
  }>(server, DOCUMENTS, { collection }, { apiKey });
  return data.documents.edges
    .map((edge) => edge.node)
    .sort((a, b) => a.sourceId.localeCompare(b.sourceId));
}

describe('npm run ingest', () => {
  let server: TestServer;
  let folder: string;
  let firstRun: Run;

  beforeAll(async () => {
    server = await startServer();
    folder = await mkdtemp(join(tmpdir(), 'parley-ingest-'));
    await mkdir(join(folder, 'sub'));
    await writeFile(
      join(folder, 'guide.md'),
      '# Penguin guide\n\nEmperor penguins huddle through the Antarctic winter.\n',
    );
    await writeFile(join(folder, 'notes.txt'), 'Sea otters hold hands while they sleep.\n');
    await writeFile(
      join(folder, 'sub', 'otters.md'),
      'Intro line.\n\n## River otters\n\nRiver otters build dens called holts.\n',
    );
    await writeFile(join(folder, 'corrupt.md'), Buffer.from([0x23, 0x20, 0x00, 0x01, 0x02, 0x00]));
    firstRun = await runIngest(['.', '--collection', 'cli', '--url', server.httpUrl], folder);
  });
  afterAll(async () => {
    await server?.close();
    if (folder) await rm(folder, { recursive: true, force: true });
  });

  it('ingests the good files, reports the binary one as skipped, and exits 0', () => {
    expect(firstRun.code, firstRun.stderr).toBe(0);
    expect(firstRun.stdout).toMatch(/^3 ingested, 1 skipped, 0 failed in .*into collection "cli"/);
    expect(firstRun.stdout).toMatch(/skipped {2}corrupt\.md: BAD_USER_INPUT: .*not text/);
  });

  it('makes the text findable by ragQuery', async () => {
    const result = await query(server, { query: 'emperor penguins antarctic', collection: 'cli' });
    expect(result.chunks[0]?.text).toContain('Emperor penguins huddle');
    expect(result.chunks[0]?.document.title).toBe('Penguin guide');
  });

  it('uses the relative path as sourceId and the first heading, else the file name, as title', async () => {
    expect(await documentsIn(server, 'cli')).toEqual([
      { sourceId: 'guide.md', title: 'Penguin guide', chunkCount: 1 },
      { sourceId: 'notes.txt', title: 'notes', chunkCount: 1 },
      { sourceId: 'sub/otters.md', title: 'River otters', chunkCount: 2 },
    ]);
  });

  it('replaces the documents when run again, instead of adding copies', async () => {
    const before = await documentsIn(server, 'cli');
    const again = await runIngest(['.', '-c', 'cli', '--url', server.httpUrl], folder);
    expect(again.code).toBe(0);
    expect(await documentsIn(server, 'cli')).toEqual(before);
  });

  it('exits 1 when no file could be ingested', async () => {
    const run = await runIngest(['corrupt.md', 'missing.md', '--url', server.httpUrl], folder);
    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(/^0 ingested, 2 skipped/);
    expect(run.stdout).toContain('skipped  missing.md: no such file or folder');
  });

  it('exits 3 when the server is unreachable', async () => {
    const closed = await startServer();
    await closed.close();
    const run = await runIngest(['.', '--url', closed.httpUrl], folder);
    expect(run.code).toBe(3);
    expect(run.stdout).toMatch(/^Stopped: .* is unreachable: ECONNREFUSED/);
  });
});

describe('npm run ingest against a keyed server', () => {
  let server: TestServer;
  let folder: string;

  beforeAll(async () => {
    server = await startServer({ env: { API_KEYS: 'alice:key-alice' } });
    folder = await mkdtemp(join(tmpdir(), 'parley-ingest-key-'));
    await writeFile(join(folder, 'guide.md'), '# Guide\n\nKeyed ingestion works.\n');
  });
  afterAll(async () => {
    await server?.close();
    if (folder) await rm(folder, { recursive: true, force: true });
  });

  it('sends the key from PARLEY_API_KEY, and the documents belong to its principal', async () => {
    const run = await runIngest(['guide.md', '--url', server.httpUrl], folder, {
      PARLEY_API_KEY: 'key-alice',
    });
    expect(run.code, run.stdout).toBe(0);
    const documents = await documentsIn(server, 'default', 'key-alice');
    expect(documents.map((document) => document.sourceId)).toEqual(['guide.md']);
  });

  it('stops with exit 3 when the server refuses the key', async () => {
    const run = await runIngest(
      ['guide.md', '--url', server.httpUrl, '--api-key', 'wrong'],
      folder,
    );
    expect(run.code).toBe(3);
    expect(run.stdout).toContain('refused the API key (FORBIDDEN');
  });
});
