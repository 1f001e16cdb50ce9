import { parseArgs } from 'node:util';
import { FakeOpenAI } from '../../tests/support/fake-openai.js';
import { type Corpus, loadCorpus } from './corpus.js';
import { MRR_DEPTH, RECALL_AT, type Scores, score } from './metrics.js';
import { CorpusIndex, localEmbedder, MODES, type Mode, remoteEmbedder } from './retrieval.js';
import { installSeededUuids } from './seeded-ids.js';

const USAGE = `Usage: npm run eval:rag -- [--misses] [--embeddings-url <url> --embeddings-model <model>]

Measures retrieval over tests/fixtures/rag-corpus: BM25 alone, vectors alone and hybrid (what
ragQuery does), with the built-in local embedding and the fake upstream's embeddings, and with a
real OpenAI-compatible /embeddings endpoint when one is named (its key from EMBEDDINGS_API_KEY).

  --misses   list the questions hybrid retrieval missed, per embedding`;

const MODE_NAMES: Record<Mode, string> = {
  bm25: 'BM25 alone',
  vector: 'vectors alone',
  hybrid: 'hybrid (RRF)',
};

interface Row {
  embedding: string;
  mode: Mode;
  scores: Scores;
}

async function measure(corpus: Corpus, embedding: string, index: CorpusIndex): Promise<Row[]> {
  const rows: Row[] = [];
  for (const mode of MODES) {
    const answers = [];
    for (const question of corpus.questions) {
      answers.push({ question, files: await index.rank(mode, question.question, MRR_DEPTH) });
    }
    rows.push({ embedding, mode, scores: score(answers) });
  }
  return rows;
}

function table(rows: readonly Row[]): string {
  const width = Math.max(...rows.map((row) => row.embedding.length), 'embedding'.length);
  const head = `${'embedding'.padEnd(width)}  ${'retrieval'.padEnd(13)}  recall@${RECALL_AT}  MRR@${MRR_DEPTH}`;
  const lines = rows.map(
    (row, index) =>
      `${(index > 0 && rows[index - 1]!.embedding === row.embedding ? '' : row.embedding).padEnd(width)}` +
      `  ${MODE_NAMES[row.mode].padEnd(13)}  ${row.scores.recall.toFixed(3).padStart(8)}` +
      `  ${row.scores.mrr.toFixed(3).padStart(6)}`,
  );
  return [head, '-'.repeat(head.length), ...lines].join('\n');
}

const { values } = parseArgs({
  options: {
    misses: { type: 'boolean' },
    'embeddings-url': { type: 'string' },
    'embeddings-model': { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  },
});
if (values.help) {
  process.stdout.write(`${USAGE}\n`);
  process.exit(0);
}
if (Boolean(values['embeddings-url']) !== Boolean(values['embeddings-model'])) {
  process.stderr.write(`--embeddings-url and --embeddings-model go together.\n\n${USAGE}\n`);
  process.exit(2);
}

const startedAt = Date.now();
const corpus = await loadCorpus();
const upstream = await new FakeOpenAI().start();
const embeddings = [
  { name: 'local-hashed-ngrams-v1 (built-in)', embedder: localEmbedder() },
  {
    name: 'fake-embed (tests/support/fake-openai)',
    embedder: remoteEmbedder({ baseURL: upstream.baseURL, model: 'fake-embed', apiKey: 'eval' }),
  },
  ...(values['embeddings-url'] && values['embeddings-model']
    ? [
        {
          name: `${values['embeddings-model']} (${values['embeddings-url']})`,
          embedder: remoteEmbedder({
            baseURL: values['embeddings-url'],
            model: values['embeddings-model'],
            apiKey: process.env.EMBEDDINGS_API_KEY || undefined,
          }),
        },
      ]
    : []),
];
const rows: Row[] = [];
const failures: string[] = [];
let chunks = 0;
try {
  for (const { name, embedder } of embeddings) {
    // The same ids for every embedding: ties are broken alike, and each run repeats.
    const restoreUuids = installSeededUuids();
    try {
      const index = await CorpusIndex.build(corpus, embedder);
      chunks = index.chunks;
      rows.push(...(await measure(corpus, name, index)));
      await index.close();
    } catch (error) {
      failures.push(`${name}: not measured (${(error as Error).message})`);
    } finally {
      restoreUuids();
    }
  }
} finally {
  await upstream.close();
}

const output = [
  `Retrieval over tests/fixtures/rag-corpus: ${corpus.documents.length} documents (${chunks} chunks at the default chunking), ${corpus.questions.length} questions.`,
  `recall@${RECALL_AT}: share of a question's expected documents among the first ${RECALL_AT} chunks (ragQuery's default k);`,
  `MRR@${MRR_DEPTH}: mean 1/rank of the first chunk from an expected document (0 when none is in the first ${MRR_DEPTH}).`,
  '',
  table(rows),
  ...failures,
  '',
  'Both embeddings measured here are lexical hashing, not language models: the built-in one hashes',
  'words, word pairs and character trigrams into 384 signed buckets; the fake upstream hashes',
  'lower-case words into 64 buckets (a wiring check for tests, with many collisions). Neither knows',
  'that two different words mean the same, so "vectors alone" here measures word overlap, not',
  'meaning. Pass --embeddings-url and --embeddings-model to measure a real embedding model.',
];
if (values.misses) {
  for (const row of rows.filter((candidate) => candidate.mode === 'hybrid')) {
    output.push('', `Missed by hybrid, ${row.embedding} (expected: first ${RECALL_AT} files):`);
    for (const miss of row.scores.misses) {
      output.push(
        `  ${miss.question.id} ${miss.question.question}`,
        `      expected ${miss.question.expected.join(', ')}; got ${[...new Set(miss.files.slice(0, RECALL_AT))].join(', ')}`,
      );
    }
  }
}
output.push('', `(${((Date.now() - startedAt) / 1000).toFixed(1)} s)`);
process.stdout.write(`${output.join('\n')}\n`);
