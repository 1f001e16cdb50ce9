import { OramaSearchIndex } from '../../src/infra/search/orama-index.js';
import type { SearchIndex } from '../../src/infra/search/types.js';
import { embedText } from '../../src/services/rag/local-embedding.js';
import { type CorpusSpan, chunkCounter, spanDocuments } from '../harness/rag-corpus.js';
import { serve } from '../harness/rpc.js';

/**
 * What Parley's search index alone holds per chunk, in a process that does nothing else:
 * OramaSearchIndex through its port, one replaceDocument per document, as IndexSync fills it.
 * The figure is the heap after full collections with the index built, minus the heap before any
 * of its chunks were made: the index keeps the texts and vectors it was given, so they count.
 */
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('start the process with --expose-gc');

function settledHeap(): number {
  gc!();
  gc!();
  return process.memoryUsage().heapUsed;
}

async function measure(span: CorpusSpan) {
  // A tokenizer loaded while the index fills would count as the index's.
  await chunkCounter(span.counting);
  const before = settledHeap();
  const index: SearchIndex = new OramaSearchIndex();
  let chunks = 0;
  for await (const document of spanDocuments(span)) {
    await index.replaceDocument(
      { principal: 'bench', collection: 'default' },
      `doc-${document.index}`,
      document.chunks.map((text, at) => ({
        id: `doc-${document.index}:${at}`,
        text,
        embedding: embedText(text),
      })),
    );
    chunks += document.chunks.length;
  }
  const after = settledHeap();
  // Read after the heap was: the index is alive through the reading.
  const documents = index.documentIds().length;
  return { chunks, documents, bytes: after - before, bytesPerChunk: (after - before) / chunks };
}

const methods = { measure };
export type IndexMemoryMethods = typeof methods;
serve(methods);
