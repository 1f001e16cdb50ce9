import { loadConfig } from '../../src/config.js';
import { AUTH_HEADERS } from '../harness/parley-api.js';
import { Corpus, type CorpusSpan } from '../harness/rag-corpus.js';
import { agreement, type QueryWindow, type QueryWindowPlan } from '../harness/rag-search.js';
import {
  BENCH_PRINCIPAL,
  bothSides,
  type Heaps,
  heaps,
  type RagSides,
  startIndexMemory,
  startRagSides,
  stopRagSides,
} from '../harness/rag-targets.js';
import {
  type Figure,
  measuredTogether,
  type Scenario,
  type ScenarioContext,
} from '../harness/scenario.js';
import { summarize } from '../harness/stats.js';

/**
 * Retrieval at 10k and 100k chunks of a synthetic markdown corpus, Parley against bare Orama
 * (baselines/bare-orama.ts) in the same run, side by side: both sides work at the same moments,
 * so whatever else the machine does weighs on both alike.
 *
 * 10k: the client ingests whole documents through `ingestDocument` (Parley's tokenizer chunks
 * them) while the baseline chunks, embeds and inserts the same documents in process; then
 * `ragQuery(k: 5)` one at a time against the baseline's same search. 100k: both grow the index
 * in process to 100k (Parley through its store and index sync, chunks cut with a token count
 * estimated from the length: the tokenizer would not fit the time), while a third process
 * weighs Parley's SearchIndex alone at 10k; then a shorter query window, since a query there
 * takes seconds. Memory is the heap after full collections.
 */
const SEED = 20_240_601;
const K = 5;
const SMALL = 10_000;
const LARGE = 100_000;
const SMALL_WINDOW = { warmup: 10, durationMs: 20_000, maxQueries: 1_000 } as const;
const LARGE_WINDOW = { warmup: 3, durationMs: 30_000, maxQueries: 300 } as const;
const P99_GOAL = { on: 'ratio', atMost: 2 } as const;
const BACKEND = 'memory';

/** At the defaults (RAG_CHUNK_TOKENS, RAG_CHUNK_OVERLAP), as the server runs. */
const { chunkTokens, overlapTokens } = loadConfig({}).rag;
const CHUNKING = { chunkTokens, overlapTokens };

/** A build or a window takes minutes at worst: the scenario's budget bounds it, not the call. */
const CALL_TIMEOUT_MS = 600_000;

/** The first 10k chunks: what the client ingests, cut by the product's tokenizer. */
const SMALL_SPAN: CorpusSpan = {
  seed: SEED,
  firstDocument: 0,
  chunks: SMALL,
  counting: 'o200k',
  chunking: CHUNKING,
};

async function ingestSmall(context: ScenarioContext, sides: RagSides, atRest: Heaps) {
  context.log(`ingesting ${SMALL} chunks: Parley through ingestDocument, bare Orama in process`);
  const { result, stats } = await measuredTogether(bothSides(sides, 'ingest'), context, () =>
    Promise.all([
      sides.client.call(
        'ingest',
        { url: sides.parley.httpUrl, headers: AUTH_HEADERS, seed: SEED, chunks: SMALL },
        CALL_TIMEOUT_MS,
      ),
      sides.bare.call('add', SMALL_SPAN, CALL_TIMEOUT_MS),
    ]),
  );
  const [api, bare] = result;
  if (api.documents !== bare.documents || api.chunks !== bare.chunks) {
    throw new Error(
      `the sides cut different chunks: Parley ${api.documents} documents, ${api.chunks} chunks; bare ${bare.documents}, ${bare.chunks}`,
    );
  }
  const perDocument = summarize(api.latenciesMs);
  const heap = await heaps(sides);
  const details = {
    documents: api.documents,
    chunks: api.chunks,
    meanChunkChars: bare.chunkChars / bare.chunks,
    meanChunkTokens: bare.chunkTokens / bare.chunks,
    parley: {
      chunksPerSecond: api.chunks / (api.elapsedMs / 1000),
      elapsedMs: api.elapsedMs,
      perDocumentMs: { p50: perDocument.p50, p99: perDocument.p99 },
      serverCpuMsPerChunk: stats[0]!.cpuMs / api.chunks,
      heapBytesPerChunk: (heap.parley - atRest.parley) / api.chunks,
    },
    bare: {
      chunksPerSecond: bare.chunks / (bare.buildMs / 1000),
      buildMs: bare.buildMs,
      insertMs: bare.insertMs,
      cpuMsPerChunk: stats[1]!.cpuMs / bare.chunks,
      heapBytesPerChunk: (heap.bare - atRest.bare) / bare.chunks,
    },
  };
  context.measurements.note(['ingest10k'], details);
  context.measurements.addFigures([
    {
      backend: BACKEND,
      metric: `ingest, ${api.chunks} chunks through ingestDocument (bare: chunk + embed + insert in process)`,
      unit: 'chunks/s',
      value: details.parley.chunksPerSecond,
      baseline: details.bare.chunksPerSecond,
    },
  ]);
  return {
    api,
    bare,
    charsPerToken: bare.chunkChars / bare.chunkTokens,
    bareHeapBytesPerChunk: details.bare.heapBytesPerChunk,
  };
}

async function queryWindows(
  context: ScenarioContext,
  sides: RagSides,
  label: string,
  window: Omit<QueryWindowPlan, 'queries' | 'k'>,
): Promise<{ parley: QueryWindow; bare: QueryWindow }> {
  const corpus = new Corpus(SEED);
  const plan: QueryWindowPlan = {
    ...window,
    k: K,
    queries: Array.from({ length: window.maxQueries }, (_unused, index) => corpus.query(index)),
  };
  context.log(`${label}: ragQuery(k: ${K}) one at a time, Parley and bare side by side`);
  const timeout = window.durationMs + CALL_TIMEOUT_MS;
  const { result, stats } = await measuredTogether(
    bothSides(sides, `query-${label}`),
    context,
    () =>
      Promise.all([
        sides.client.call(
          'query',
          { ...plan, url: sides.parley.httpUrl, headers: AUTH_HEADERS },
          timeout,
        ),
        sides.bare.call('search', plan, timeout),
      ]),
  );
  const [parley, bare] = result;
  // The same queries on both sides: the first `count` each ran.
  const count = Math.min(parley.latenciesMs.length, bare.latenciesMs.length);
  const ours = summarize(parley.latenciesMs.subarray(0, count));
  const theirs = summarize(bare.latenciesMs.subarray(0, count));
  const agreed = agreement(parley.top.slice(0, count), bare.top.slice(0, count));
  const details = {
    queries: count,
    parley: { ...ours, ran: parley.latenciesMs.length, errors: parley.errors },
    bare: { ...theirs, ran: bare.latenciesMs.length, errors: bare.errors },
    firstError: parley.firstError ?? bare.firstError,
    agreement: agreed,
    serverCpuMsPerQuery: stats[0]!.cpuMs / Math.max(1, parley.latenciesMs.length),
    bareCpuMsPerQuery: stats[1]!.cpuMs / Math.max(1, bare.latenciesMs.length),
  };
  context.measurements.note([`query${label}`], details);
  const figures: Figure[] = (['p50', 'p99'] as const).map((percentile) => ({
    backend: BACKEND,
    metric: `ragQuery ${percentile} at ${label} chunks, ${count} queries`,
    unit: 'ms',
    value: ours[percentile],
    baseline: theirs[percentile],
    ...(percentile === 'p99' ? { goal: P99_GOAL } : {}),
  }));
  context.measurements.addFigures(figures);
  // Ties broken differently change a query's answer now and then; different indexes, most.
  if (parley.errors === 0 && agreed.sameAnswers < 0.75) {
    throw new Error(
      `Parley and bare Orama answer differently, so their indexes differ: ${JSON.stringify(agreed)}`,
    );
  }
  return { parley, bare };
}

async function growLarge(
  context: ScenarioContext,
  sides: RagSides,
  from: {
    nextDocument: number;
    chunks: number;
    charsPerToken: number;
    bareHeapBytesPerChunk: number;
  },
  atRest: Heaps,
) {
  const span: CorpusSpan = {
    seed: SEED,
    firstDocument: from.nextDocument,
    chunks: LARGE - from.chunks,
    counting: { charsPerToken: from.charsPerToken },
    chunking: CHUNKING,
  };
  context.log(`growing both indexes to ${LARGE} chunks in process; weighing each index alone`);
  const memory = await startIndexMemory();
  const { result } = await measuredTogether(bothSides(sides, 'grow'), context, () =>
    Promise.all([
      sides.parley.child.call('add', { span, principal: BENCH_PRINCIPAL }, CALL_TIMEOUT_MS),
      sides.bare.call('add', span, CALL_TIMEOUT_MS),
      memory.call('measure', SMALL_SPAN, CALL_TIMEOUT_MS),
    ]).finally(() => memory.stop()),
  );
  const [parley, bare, alone] = result;
  if (parley.chunks !== bare.chunks || parley.nextDocument !== bare.nextDocument) {
    throw new Error(`the sides grew differently: Parley ${parley.chunks}, bare ${bare.chunks}`);
  }
  const total = from.chunks + parley.chunks;
  const grown = await heaps(sides);
  const details = {
    chunks: total,
    addedInProcess: parley.chunks,
    documents: parley.nextDocument,
    parley: { chunksPerSecond: parley.chunks / (parley.buildMs / 1000), buildMs: parley.buildMs },
    bare: { chunksPerSecond: bare.chunks / (bare.buildMs / 1000), buildMs: bare.buildMs },
    heapBytes: { atRest, grown },
    indexAlone: alone,
  };
  context.measurements.note(['grow100k'], details);
  context.measurements.addFigures([
    {
      backend: BACKEND,
      metric: `index heap per chunk at ${alone.chunks} chunks (Parley: SearchIndex port alone; bare: Orama process)`,
      unit: 'bytes',
      value: alone.bytesPerChunk,
      baseline: from.bareHeapBytesPerChunk,
    },
    {
      backend: BACKEND,
      metric: `build ${parley.chunks} more chunks in process, tokens estimated (Parley: chunk + embed + store commit + index sync; bare: chunk + embed + insert)`,
      unit: 'chunks/s',
      value: details.parley.chunksPerSecond,
      baseline: details.bare.chunksPerSecond,
    },
    {
      backend: BACKEND,
      metric: `heap per chunk at ${total} chunks (Parley: whole server, store + index)`,
      unit: 'bytes',
      value: (grown.parley - atRest.parley) / total,
      baseline: (grown.bare - atRest.bare) / total,
    },
  ]);
  return total;
}

async function run(context: ScenarioContext): Promise<void> {
  Object.assign(context.measurements.details, {
    seed: SEED,
    k: K,
    chunking: CHUNKING,
    embedding: 'local-hashed-ngrams-v1 (384-d)',
    smallWindow: SMALL_WINDOW,
    largeWindow: LARGE_WINDOW,
  });
  if (!context.backends.includes(BACKEND)) {
    context.log('runs on the embedded backend whatever --backend says (the index is in process)');
  }
  const sides = await startRagSides();
  const { parley } = sides;
  try {
    const atRest = await heaps(sides);
    const small = await ingestSmall(context, sides, atRest);
    const smallQueries = await queryWindows(context, sides, '10k', SMALL_WINDOW);
    const total = await growLarge(
      context,
      sides,
      {
        nextDocument: small.bare.nextDocument,
        chunks: small.api.chunks,
        charsPerToken: small.charsPerToken,
        bareHeapBytesPerChunk: small.bareHeapBytesPerChunk,
      },
      atRest,
    );
    const largeQueries = await queryWindows(
      context,
      sides,
      `${Math.round(total / 1000)}k`,
      LARGE_WINDOW,
    );
    const errors = [smallQueries, largeQueries].reduce(
      (sum, window) => sum + window.parley.errors + window.bare.errors,
      0,
    );
    context.measurements.note(['serverLog'], {
      warnings: parley.logs.warnings,
      errors: parley.logs.errors,
      stderrLines: parley.logs.stderrLines,
      samples: parley.logs.samples,
    });
    context.measurements.addFigures([
      {
        backend: BACKEND,
        metric: 'query errors and server error logs',
        unit: 'count',
        value: errors + parley.logs.errors,
        goal: { on: 'value', atMost: 0 },
      },
    ]);
  } finally {
    await stopRagSides(sides);
  }
}

export const rag: Scenario = {
  name: 'rag',
  description: `ingestDocument and ragQuery(k: ${K}) at ${SMALL / 1000}k and ${LARGE / 1000}k chunks vs bare Orama`,
  budgetSeconds: 480,
  run,
};
