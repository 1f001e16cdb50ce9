import { NotFound } from '../errors.js';
import { builder } from './builder.js';

/** Retrieval types referenced by Message.sources; ingestion and queries arrive with RAG. */

export interface DocumentRecord {
  id: string;
  collection: string;
  title: string;
  chunkCount: number;
  createdAt: string;
}

export interface RetrievedChunkRecord {
  id: string;
  document: DocumentRecord;
  text: string;
  score: number;
}

export const DocumentRef = builder.objectRef<DocumentRecord>('Document');

builder.node(DocumentRef, {
  id: { resolve: (document) => document.id },
  loadOne: (id) => {
    throw new NotFound('Document', id);
  },
  fields: (t) => ({
    collection: t.exposeString('collection'),
    title: t.exposeString('title'),
    chunkCount: t.exposeInt('chunkCount'),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
  }),
});

export const RetrievedChunkRef = builder
  .objectRef<RetrievedChunkRecord>('RetrievedChunk')
  .implement({
    fields: (t) => ({
      id: t.exposeID('id'),
      document: t.expose('document', { type: DocumentRef }),
      text: t.exposeString('text'),
      score: t.exposeFloat('score'),
    }),
  });
