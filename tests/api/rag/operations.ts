import { expect } from 'vitest';
import { type CallOptions, gql, gqlData } from '../../support/client.js';
import type { TestServer } from '../../support/server.js';

export const INGEST = /* GraphQL */ `
  mutation ($input: IngestDocumentInput!) {
    ingestDocument(input: $input) { id collection title chunkCount sourceId createdAt }
  }
`;
export const QUERY = /* GraphQL */ `
  query ($input: RagQueryInput!) {
    ragQuery(input: $input) { degraded chunks { id text score document { id title collection } } }
  }
`;
export const QUERY_WITH_ANSWER = /* GraphQL */ `
  query ($input: RagQueryInput!) {
    ragQuery(input: $input) { answer chunks { text score document { title } } }
  }
`;
export const DELETE = 'mutation ($id: ID!) { deleteDocument(id: $id) }';
export const DOCUMENTS = /* GraphQL */ `
  query ($collection: String, $first: Int, $after: String) {
    documents(collection: $collection, first: $first, after: $after) {
      edges { cursor node { id title collection chunkCount } }
      pageInfo { hasNextPage endCursor }
    }
  }
`;

export interface Chunk {
  id: string;
  text: string;
  score: number;
  document: { id: string; title: string; collection: string };
}
export interface IngestedDocument {
  id: string;
  collection: string;
  title: string;
  chunkCount: number;
  sourceId: string | null;
  createdAt: string;
}

export async function ingest(
  server: Pick<TestServer, 'httpUrl'>,
  input: Record<string, unknown>,
  options: CallOptions = {},
): Promise<IngestedDocument> {
  const data = await gqlData<{ ingestDocument: IngestedDocument }>(
    server,
    INGEST,
    { input },
    options,
  );
  return data.ingestDocument;
}

export async function query(
  server: Pick<TestServer, 'httpUrl'>,
  input: Record<string, unknown>,
  options: CallOptions = {},
): Promise<{ degraded: boolean; chunks: Chunk[] }> {
  const data = await gqlData<{ ragQuery: { degraded: boolean; chunks: Chunk[] } }>(
    server,
    QUERY,
    { input },
    options,
  );
  return data.ragQuery;
}

/** The code of the one error an operation got, with data absent or null. */
export async function refusal(
  server: Pick<TestServer, 'httpUrl'>,
  document: string,
  variables: Record<string, unknown>,
  options: CallOptions = {},
): Promise<{ status: number; code: string | undefined; message: string }> {
  const response = await gql(server, document, variables, options);
  expect(response.errors?.length).toBe(1);
  return {
    status: response.status,
    code: response.errors?.[0]?.extensions?.code,
    message: response.errors?.[0]?.message ?? '',
  };
}

export const GUIDE = `# Parley guide

Parley streams answers from language models over GraphQL.

## Installing

Run \`npm ci\` and then \`npm start\`; the server listens on port 4000.

\`\`\`bash
npm ci
npm start
\`\`\`

## Penguins

Emperor penguins huddle together through the Antarctic winter to keep warm.
`;
