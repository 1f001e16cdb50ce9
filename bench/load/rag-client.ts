import { createAgent, type GraphQLResult, postBody } from '../harness/graphql-http.js';
import { Corpus } from '../harness/rag-corpus.js';
import { type QueryWindowPlan, runQueryWindow } from '../harness/rag-search.js';
import { serve } from '../harness/rpc.js';
import { SampleSet } from '../harness/stats.js';

/**
 * The rag scenario's client, as any client would talk to Parley: `ingestDocument` for the
 * corpus's documents one after another, and `ragQuery(input: { query, k })` one at a time.
 */
const INGEST = /* GraphQL */ `
  mutation Ingest($input: IngestDocumentInput!) { ingestDocument(input: $input) { id chunkCount } }
`;
const RAG_QUERY = /* GraphQL */ `
  query Rag($input: RagQueryInput!) { ragQuery(input: $input) { chunks { text score } } }
`;

export interface IngestPlan {
  url: string;
  headers: Record<string, string>;
  seed: number;
  /** Documents are ingested whole, in order from the first, until their chunks reach this. */
  chunks: number;
}

export interface IngestResult {
  documents: number;
  chunks: number;
  chars: number;
  elapsedMs: number;
  /** Per document, ms. */
  latenciesMs: Float64Array;
}

/**
 * One document at a time: ingest is CPU work in one server process, so more in flight would
 * only queue (a round trip between documents is well under 1% of one).
 */
async function ingest(plan: IngestPlan): Promise<IngestResult> {
  const corpus = new Corpus(plan.seed);
  const agent = createAgent(1);
  const url = new URL(plan.url);
  const latencies = new SampleSet();
  let chunks = 0;
  let chars = 0;
  let index = 0;
  let elapsedMs = 0;
  try {
    for (; chunks < plan.chunks; index++) {
      const { title, text } = corpus.document(index);
      const body = JSON.stringify({ query: INGEST, variables: { input: { title, text } } });
      const sent = performance.now();
      const response = await postBody(agent, url, body, plan.headers);
      const took = performance.now() - sent;
      const result = JSON.parse(response.body) as GraphQLResult<{
        ingestDocument: { chunkCount: number };
      }>;
      const ingested = result.data?.ingestDocument;
      if (response.status !== 200 || !ingested) {
        throw new Error(`ingest of document ${index}: ${response.status} ${response.body}`);
      }
      elapsedMs += took;
      latencies.add(took);
      chunks += ingested.chunkCount;
      chars += text.length;
    }
  } finally {
    agent.destroy();
  }
  return { documents: index, chunks, chars, elapsedMs, latenciesMs: latencies.toArray() };
}

async function query(plan: QueryWindowPlan & { url: string; headers: Record<string, string> }) {
  const agent = createAgent(1);
  const url = new URL(plan.url);
  try {
    return await runQueryWindow(plan, async (text) => {
      const body = JSON.stringify({
        query: RAG_QUERY,
        variables: { input: { query: text, k: plan.k } },
      });
      const response = await postBody(agent, url, body, plan.headers);
      const result = JSON.parse(response.body) as GraphQLResult<{
        ragQuery: { chunks: { text: string; score: number }[] };
      }>;
      const found = result.data?.ragQuery;
      if (response.status !== 200 || !found || result.errors?.length) {
        throw new Error(`${response.status} ${response.body.slice(0, 300)}`);
      }
      return found.chunks;
    });
  } finally {
    agent.destroy();
  }
}

const methods = { ingest, query };
export type RagClientMethods = typeof methods;
serve(methods);
