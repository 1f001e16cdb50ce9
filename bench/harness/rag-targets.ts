import type { BareOramaMethods } from '../baselines/bare-orama.js';
import type { RagClientMethods } from '../load/rag-client.js';
import type { ParleyRagMethods } from '../targets/parley-rag.js';
import type { IndexMemoryMethods } from '../targets/rag-index-memory.js';
import { type Child, spawnChild } from './children.js';
import { BENCH_API_KEY } from './parley-api.js';
import type { Methods } from './rpc.js';
import type { ProbeMethods } from './target-probe.js';
import { LogTally, POINT_BUCKET_ENV, startLoad } from './targets.js';

/**
 * The rag scenario's processes: Parley (targets/parley-rag.ts: as deployed, embedded backend,
 * the local embedding), bare Orama, the index-memory probe and the client. Each holds up to a
 * 100k-chunk index (about 2 GB of heap on Orama alone), so the heap limit is raised above
 * Node's default.
 */

/** The principal the bench's API key stands for (targets.ts configures the same). */
export const BENCH_PRINCIPAL = 'bench';

const HEAP_FLAGS = ['--expose-gc', '--max-old-space-size=8192'];

export interface RagServer<M extends Methods> {
  child: Child<M>;
  httpUrl: string;
  logs: LogTally;
}

export async function startParleyRag(): Promise<RagServer<ParleyRagMethods>> {
  const logs = new LogTally();
  const child = await spawnChild<ParleyRagMethods>({
    name: 'parley-rag',
    entry: 'targets/parley-rag.ts',
    env: {
      NODE_ENV: 'production',
      LOG_LEVEL: 'warn',
      PORT: '0',
      HOST: '127.0.0.1',
      API_KEYS: `${BENCH_PRINCIPAL}:${BENCH_API_KEY}`,
      // ragQuery without `answer` never calls a model: the built-in one keeps the upstream out.
      LLM_PROVIDER: 'local',
      SHUTDOWN_GRACE_MS: '2000',
      ...POINT_BUCKET_ENV,
      // 100k chunks are some 4 000 documents of this corpus: above the default 1 000.
      RAG_MAX_DOCUMENTS_PER_PRINCIPAL: '100000',
    },
    nodeFlags: HEAP_FLAGS,
    onStdoutLine: (line) => logs.line(line),
    onStderrLine: (line) => logs.stderr(line),
  });
  return { child, httpUrl: `http://127.0.0.1:${Number(child.info.port)}/graphql`, logs };
}

export function startBareOrama(): Promise<Child<BareOramaMethods>> {
  return spawnChild<BareOramaMethods>({
    name: 'bare-orama',
    entry: 'baselines/bare-orama.ts',
    nodeFlags: HEAP_FLAGS,
  });
}

export function startIndexMemory(): Promise<Child<IndexMemoryMethods>> {
  return spawnChild<IndexMemoryMethods>({
    name: 'rag-index-memory',
    entry: 'targets/rag-index-memory.ts',
    nodeFlags: HEAP_FLAGS,
  });
}

export function startRagClient(): Promise<Child<RagClientMethods>> {
  return startLoad<RagClientMethods>('rag-client', 'load/rag-client.ts');
}

/** The two sides the scenario compares, and the client that drives Parley. */
export interface RagSides {
  parley: RagServer<ParleyRagMethods>;
  bare: Child<BareOramaMethods>;
  client: Child<RagClientMethods>;
}

export async function startRagSides(): Promise<RagSides> {
  const [parley, bare, client] = await Promise.all([
    startParleyRag(),
    startBareOrama(),
    startRagClient(),
  ]);
  return { parley, bare, client };
}

export async function stopRagSides(sides: RagSides): Promise<void> {
  await Promise.all([sides.parley.child.stop(), sides.bare.stop(), sides.client.stop()]);
}

/** Both sides as servers for one measured window (`measuredTogether`). */
export function bothSides(sides: RagSides, label: string) {
  return [
    { server: sides.parley.child as Child<ProbeMethods>, label: `${label}-parley` },
    { server: sides.bare as Child<ProbeMethods>, label: `${label}-bare` },
  ];
}

export interface Heaps {
  parley: number;
  bare: number;
}

/** Both heaps after full collections (a 100k-chunk heap takes seconds to collect). */
export async function heaps(sides: RagSides): Promise<Heaps> {
  const heap = async (server: Child<ProbeMethods>) => {
    await server.call('collectGarbage', undefined, 120_000);
    return (await server.call('stats')).heapUsedBytes;
  };
  const [parley, bare] = await Promise.all([heap(sides.parley.child), heap(sides.bare)]);
  return { parley, bare };
}
