import type { DocumentRecord, RetrievedChunkRecord } from '../model.js';
import { builder } from './builder.js';

/** Retrieval types: documents, retrieved chunks, ragQuery's result, and their inputs. */

export type { DocumentRecord, RetrievedChunkRecord };

/** What ragQuery returns; `answer` is generated from `chunks` only when selected. */
export interface RagResultRecord {
  query: string;
  chunks: RetrievedChunkRecord[];
  degraded: boolean;
}

/** An answer is a model call: it costs what sendMessage costs. */
export const ANSWER_WEIGHT = 50;
export const DEFAULT_K = 5;

export const DocumentRef = builder.objectRef<DocumentRecord>('Document');

builder.node(DocumentRef, {
  description:
    'A text ingested for retrieval, split into chunks; owned by the principal that ingested it.',
  id: { resolve: (document) => document.id },
  loadOne: (id, context) =>
    context.services.rag.ownedDocument(context.principal, id).catch(() => null),
  fields: (t) => ({
    collection: t.exposeString('collection'),
    title: t.exposeString('title'),
    chunkCount: t.exposeInt('chunkCount'),
    sourceId: t.exposeString('sourceId', { nullable: true }),
    metadata: t.expose('metadata', { type: 'JSON', nullable: true }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
  }),
});

export const RetrievedChunkRef = builder
  .objectRef<RetrievedChunkRecord>('RetrievedChunk')
  .implement({
    description: 'A chunk of a document, as retrieved for a query.',
    fields: (t) => ({
      id: t.exposeID('id'),
      document: t.expose('document', { type: DocumentRef }),
      text: t.exposeString('text', {
        description: 'The chunk, starting with the heading trail it sits under.',
      }),
      score: t.exposeFloat('score', {
        description:
          'Reciprocal rank fusion of its BM25 and vector ranks, divided by the best possible: 1 is first in both lists, about 0.5 first in one and absent from the other. Compares chunks of one result, not across queries.',
      }),
    }),
  });

export const RagResultRef = builder.objectRef<RagResultRecord>('RagResult').implement({
  fields: (t) => ({
    chunks: t.expose('chunks', {
      type: [RetrievedChunkRef],
      description: 'Best first, at most `k`.',
    }),
    answer: t.string({
      nullable: true,
      description:
        'The model’s answer from `chunks`, citing them as [1], [2]… in their order. Generated only when selected; costs what a message costs.',
      directives: { cost: { weight: ANSWER_WEIGHT } },
      resolve: (result, _args, { services }) => services.rag.answer(result.query, result.chunks),
    }),
    degraded: t.exposeBoolean('degraded', {
      description:
        'True when vector search was skipped because the embeddings endpoint is down: the chunks come from BM25 alone.',
    }),
  }),
});

export const RagQueryInput = builder.inputType('RagQueryInput', {
  fields: (t) => ({
    query: t.string({ required: true }),
    collection: t.string({
      description: 'One collection; all of the caller’s when omitted. Unknown: no chunks.',
    }),
    k: t.int({ description: `How many chunks, 1–50; ${DEFAULT_K} when omitted.` }),
  }),
});

export const IngestDocumentInput = builder.inputType('IngestDocumentInput', {
  fields: (t) => ({
    collection: t.string({
      description: 'Letters, digits, "_", "." and "-"; "default" when omitted.',
    }),
    title: t.string({ required: true }),
    text: t.string({ required: true, description: 'Markdown or plain text.' }),
    metadata: t.field({ type: 'JSON' }),
    sourceId: t.string({
      description:
        'Your id for the source: ingesting the same sourceId in a collection again replaces that document (same id).',
    }),
  }),
});

export const DocumentConnectionRef = builder.connectionObject(
  { type: DocumentRef, name: 'DocumentConnection' },
  { name: 'DocumentEdge' },
);
