import { setTimeout as sleep } from 'node:timers/promises';
import { type CallOutcome, callGraphQL, type GraphQLEndpoint } from './client.js';
import {
  type DocumentInput,
  findFiles,
  isRefusal,
  type Refusal,
  readDocument,
  type SourceFile,
} from './files.js';
import { Progress } from './progress.js';

const INGEST = /* GraphQL */ `
  mutation Ingest($input: IngestDocumentInput!) {
    ingestDocument(input: $input) { id collection chunkCount }
  }
`;
const PROBE = '{ __typename }';

/** Refusals that would meet every file alike: the run stops at the first. */
const REFUSED_CALLER = new Set(['UNAUTHENTICATED', 'FORBIDDEN']);
/**
 * Worth waiting for, this many attempts: the point bucket refills (the server says when, in
 * Retry-After, and several workers compete for it), the embeddings endpoint may come back.
 */
const ATTEMPTS: Readonly<Record<string, number>> = { RATE_LIMITED: 30, UPSTREAM_UNAVAILABLE: 4 };
const BACKOFF_MS = 1_000;
/** A longer wait (a daily token budget) is not worth blocking the run for. */
const MAX_WAIT_MS = 60_000;

export interface IngestOptions extends GraphQLEndpoint {
  targets: readonly string[];
  /** Relative targets resolve against it, and sourceIds are relative to it. */
  base: string;
  collection: string | undefined;
  concurrency: number;
  maxBytes: number;
  signal: AbortSignal;
  /** Where the progress bar is drawn (a terminal), or undefined for none. */
  progressStream: NodeJS.WriteStream | undefined;
}

export interface IngestSummary {
  ingested: { id: string; chunks: number; collection: string }[];
  /** The file is the problem: not found, unreadable, not text, too large (BAD_USER_INPUT…). */
  skipped: Refusal[];
  /** The server is the problem: it failed or stayed unavailable after retries. */
  failed: Refusal[];
  /** Why the run stopped before the end, if it did. */
  stopped: { reason: 'unreachable' | 'refused' | 'interrupted'; message: string } | undefined;
  seconds: number;
}

type FileOutcome =
  | { kind: 'ingested'; chunks: number; collection: string }
  | { kind: 'skipped' | 'failed'; reason: string }
  | { kind: 'stop'; reason: 'unreachable' | 'refused' | 'interrupted'; message: string };

/** Ingests every file through ingestDocument, `concurrency` at a time; never throws for a file. */
export async function ingestFiles(options: IngestOptions): Promise<IngestSummary> {
  const startedAt = Date.now();
  const summary: IngestSummary = {
    ingested: [],
    skipped: [],
    failed: [],
    stopped: undefined,
    seconds: 0,
  };
  const finish = () => ({ ...summary, seconds: (Date.now() - startedAt) / 1000 });
  const probe = await reach(options);
  if (probe) {
    summary.stopped = probe;
    return finish();
  }
  const { files, missing } = await findFiles(options.targets, options.base);
  summary.skipped.push(...missing);
  const progress = new Progress(
    options.progressStream,
    files.length,
    files.reduce((total, file) => total + file.bytes, 0),
  );
  progress.start();
  let next = 0;
  const worker = async () => {
    while (!summary.stopped && next < files.length) {
      const file = files[next++]!;
      const outcome = await ingestFile(file, options, progress);
      if (outcome.kind === 'stop') {
        summary.stopped ??= { reason: outcome.reason, message: outcome.message };
        return;
      }
      if (outcome.kind === 'ingested') {
        summary.ingested.push({
          id: file.id,
          chunks: outcome.chunks,
          collection: outcome.collection,
        });
        progress.advance({ bytes: file.bytes, chunks: outcome.chunks });
      } else {
        summary[outcome.kind].push({ id: file.id, reason: outcome.reason });
        progress.advance({ bytes: file.bytes });
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(options.concurrency, files.length) }, worker));
  progress.finish();
  const byId = (a: { id: string }, b: { id: string }) => a.id.localeCompare(b.id);
  summary.skipped.sort(byId);
  summary.failed.sort(byId);
  return finish();
}

async function ingestFile(
  file: SourceFile,
  options: IngestOptions,
  progress: Progress,
): Promise<FileOutcome> {
  const read = await readDocument(file, options.maxBytes);
  if (isRefusal(read)) return { kind: 'skipped', reason: read.reason };
  for (let attempt = 1; ; attempt++) {
    const outcome = await send(read, options);
    if (options.signal.aborted) {
      return { kind: 'stop', reason: 'interrupted', message: 'interrupted' };
    }
    if (outcome.kind === 'data') {
      const { chunkCount, collection } = outcome.data.ingestDocument;
      return { kind: 'ingested', chunks: chunkCount, collection };
    }
    if (outcome.kind === 'unreachable') {
      // The server may have closed this one connection (a body over its limit is answered 413
      // and cut); only a failed probe means it is gone.
      const gone = await reach(options);
      if (gone) return { kind: 'stop', ...gone };
      return { kind: 'failed', reason: `the connection failed: ${outcome.message}` };
    }
    const reason = `${outcome.code}: ${outcome.message}`;
    if (REFUSED_CALLER.has(outcome.code))
      return { kind: 'stop', reason: 'refused', message: reason };
    if (outcome.code === 'BAD_USER_INPUT') return { kind: 'skipped', reason };
    const delay = outcome.retryAfterMs ?? BACKOFF_MS * 2 ** (attempt - 1);
    if (attempt >= (ATTEMPTS[outcome.code] ?? 1) || delay > MAX_WAIT_MS) {
      return { kind: 'failed', reason };
    }
    progress.waiting(outcome.code === 'RATE_LIMITED' ? 'rate limited' : 'embeddings down', delay);
    await sleep(delay, undefined, { signal: options.signal }).catch(() => {});
  }
}

function send(
  document: DocumentInput,
  options: IngestOptions,
): Promise<CallOutcome<{ ingestDocument: { chunkCount: number; collection: string } }>> {
  const input = { ...document, ...(options.collection ? { collection: options.collection } : {}) };
  return callGraphQL(options, INGEST, { input }, options.signal);
}

/** Undefined when the server answers GraphQL and accepts the key; else why the run cannot go on. */
async function reach(
  options: IngestOptions,
): Promise<{ reason: 'unreachable' | 'refused' | 'interrupted'; message: string } | undefined> {
  const outcome = await callGraphQL(options, PROBE, {}, options.signal);
  if (options.signal.aborted) return { reason: 'interrupted', message: 'interrupted' };
  if (outcome.kind === 'unreachable') {
    return { reason: 'unreachable', message: `${options.url} is unreachable: ${outcome.message}` };
  }
  if (outcome.kind === 'error' && REFUSED_CALLER.has(outcome.code)) {
    return {
      reason: 'refused',
      message: `${options.url} refused the API key (${outcome.code}: ${outcome.message})`,
    };
  }
  if (outcome.kind === 'error') {
    return {
      reason: 'unreachable',
      message: `${options.url} does not answer GraphQL (${outcome.code}: ${outcome.message})`,
    };
  }
  return undefined;
}
