import { builder } from '../schema/builder.js';
import { pagedConnection } from '../schema/cost-directives.js';
import { assertPageSize, decodeKeyCursor, encodeKeyCursor } from '../schema/pagination.js';
import {
  DEFAULT_K,
  DocumentConnectionRef,
  DocumentRef,
  IngestDocumentInput,
  RagQueryInput,
  RagResultRef,
} from '../schema/rag.js';

export const DEFAULT_DOCUMENT_PAGE = 20;

builder.queryFields((t) => ({
  ragQuery: t.field({
    type: RagResultRef,
    description:
      'The caller’s chunks that best match `query` (BM25 and vector similarity, fused by reciprocal rank).',
    authScopes: { rag: true },
    directives: {
      listSize: {
        slicingArguments: ['input.k'],
        sizedFields: ['chunks'],
        assumedSize: DEFAULT_K,
        requireOneSlicingArgument: false,
      },
    },
    args: { input: t.arg({ type: RagQueryInput, required: true }) },
    resolve: async (_root, { input }, { services, principal }) => {
      const retrieval = await services.rag.retrieve(principal, input);
      return { query: input.query, ...retrieval };
    },
  }),
  documents: t.field({
    type: DocumentConnectionRef,
    description: `The caller’s documents, newest first; ${DEFAULT_DOCUMENT_PAGE} per page unless \`first\` says otherwise (at most 100).`,
    authScopes: { rag: true },
    directives: pagedConnection(DEFAULT_DOCUMENT_PAGE, ['first']),
    args: { collection: t.arg.string(), first: t.arg.int(), after: t.arg.string() },
    resolve: async (_root, args, { services, principal }) => {
      assertPageSize(args);
      const first = args.first ?? DEFAULT_DOCUMENT_PAGE;
      const rows = await services.rag.listDocuments(principal, {
        collection: args.collection,
        beforeKey: args.after ? decodeKeyCursor(args.after) : undefined,
        limit: first + 1,
      });
      const edges = rows
        .slice(0, first)
        .map(({ entry, document }) => ({ cursor: encodeKeyCursor(entry.key), node: document }));
      return {
        edges,
        pageInfo: {
          hasNextPage: rows.length > first,
          hasPreviousPage: Boolean(args.after),
          startCursor: edges[0]?.cursor ?? null,
          endCursor: edges.at(-1)?.cursor ?? null,
        },
      };
    },
  }),
}));

builder.mutationFields((t) => ({
  ingestDocument: t.field({
    type: DocumentRef,
    description:
      'Chunks, embeds and indexes the text before returning. The same sourceId in a collection replaces that document.',
    authScopes: { rag: true },
    args: { input: t.arg({ type: IngestDocumentInput, required: true }) },
    resolve: (_root, { input }, { services, principal }) => services.rag.ingest(principal, input),
  }),
  deleteDocument: t.boolean({
    description: 'Removes the document and its chunks from every index.',
    authScopes: { rag: true },
    args: { id: t.arg.id({ required: true }) },
    resolve: (_root, { id }, { services, principal }) => services.rag.deleteDocument(principal, id),
  }),
}));
