import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gql, gqlData } from '../../support/client.js';
import { startServer, type TestServer } from '../../support/server.js';
import { DELETE, DOCUMENTS, GUIDE, INGEST, ingest, QUERY, query, refusal } from './operations.js';

const API_KEYS = 'alice:key-alice,bob:key-bob,reader:key-reader:chat';
const ALICE = { apiKey: 'key-alice' };
const BOB = { apiKey: 'key-bob' };

describe.each(['memory', 'redis'] as const)('retrieval on the %s backend', (backend) => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startServer({
      backend,
      env: {
        API_KEYS,
        RAG_CHUNK_TOKENS: '60',
        RAG_CHUNK_OVERLAP: '10',
        RAG_MAX_DOCUMENT_CHARS: '20000',
        RAG_MAX_DOCUMENTS_PER_PRINCIPAL: '100',
      },
    });
  });
  afterAll(() => server?.close());

  it('an ingested document is found by a query about it, best chunk first, with scores 0–1', async () => {
    const document = await ingest(
      server,
      { title: 'Guide', text: GUIDE, collection: 'docs' },
      ALICE,
    );
    expect(document).toMatchObject({ collection: 'docs', title: 'Guide', sourceId: null });
    expect(document.id).toMatch(/^doc_[0-9a-f]{32}$/);
    expect(document.chunkCount).toBeGreaterThanOrEqual(3);
    const result = await query(
      server,
      { query: 'emperor penguins winter', collection: 'docs' },
      ALICE,
    );
    expect(result.degraded).toBe(false);
    expect(result.chunks[0]?.text).toContain('Emperor penguins');
    expect(result.chunks[0]?.text.startsWith('# Parley guide\n## Penguins')).toBe(true);
    expect(result.chunks[0]?.document).toEqual({
      id: document.id,
      title: 'Guide',
      collection: 'docs',
    });
    const scores = result.chunks.map((chunk) => chunk.score);
    expect(scores).toEqual([...scores].sort((a, b) => b - a));
    for (const score of scores) expect(score).toBeGreaterThan(0);
    for (const score of scores) expect(score).toBeLessThanOrEqual(1);
    expect(result.chunks.length).toBeLessThanOrEqual(5);
  });

  it('a code block stays whole in one chunk', async () => {
    await ingest(server, { title: 'Code', text: GUIDE, collection: 'code' }, ALICE);
    const result = await query(
      server,
      { query: 'npm ci npm start', collection: 'code', k: 50 },
      ALICE,
    );
    const withFence = result.chunks.filter((chunk) => chunk.text.includes('```'));
    expect(withFence.length).toBe(1);
    expect(withFence[0]?.text).toContain('```bash\nnpm ci\nnpm start\n```');
  });

  it('without a collection every collection of the caller is searched; an unknown one is empty', async () => {
    await ingest(
      server,
      { title: 'Other', text: 'Walruses rest on ice floes.', collection: 'zoo' },
      ALICE,
    );
    const all = await query(server, { query: 'walruses ice', k: 50 }, ALICE);
    expect(all.chunks.some((chunk) => chunk.document.collection === 'zoo')).toBe(true);
    expect(new Set(all.chunks.map((chunk) => chunk.document.collection)).size).toBeGreaterThan(1);
    const unknown = await query(server, { query: 'walruses', collection: 'nowhere' }, ALICE);
    expect(unknown).toEqual({ degraded: false, chunks: [] });
  });

  it('re-ingesting a sourceId replaces the document: same id, only the new text is found', async () => {
    const input = { title: 'Policy', collection: 'policies', sourceId: 'policy.md' };
    const first = await ingest(server, { ...input, text: 'Refunds take thirty days.' }, ALICE);
    const second = await ingest(server, { ...input, text: 'Refunds now take seven days.' }, ALICE);
    expect(second.id).toBe(first.id);
    expect(second.createdAt).toBe(first.createdAt);
    const result = await query(
      server,
      { query: 'refunds days', collection: 'policies', k: 50 },
      ALICE,
    );
    expect(result.chunks.map((chunk) => chunk.text)).toEqual(['Refunds now take seven days.']);
    const listed = await gqlData<{ documents: { edges: { node: { id: string } }[] } }>(
      server,
      DOCUMENTS,
      { collection: 'policies' },
      ALICE,
    );
    expect(listed.documents.edges.map((edge) => edge.node.id)).toEqual([first.id]);
  });

  it('during a re-ingest every query sees exactly one version', async () => {
    const input = { title: 'Flip', collection: 'flip', sourceId: 'flip' };
    await ingest(server, { ...input, text: 'Version alpha of the flip text.' }, ALICE);
    let stop = false;
    const seen: number[] = [];
    const watcher = (async () => {
      while (!stop) {
        const result = await query(
          server,
          { query: 'version flip text', collection: 'flip', k: 50 },
          ALICE,
        );
        seen.push(result.chunks.length);
      }
    })();
    for (const name of ['beta', 'gamma', 'delta']) {
      await ingest(server, { ...input, text: `Version ${name} of the flip text.` }, ALICE);
    }
    stop = true;
    await watcher;
    expect(seen.length).toBeGreaterThan(0);
    expect(new Set(seen)).toEqual(new Set([1]));
  });

  it('a deleted document is found no more and is NOT_FOUND after', async () => {
    const document = await ingest(
      server,
      { title: 'Gone', text: 'Narwhals have tusks.', collection: 'gone' },
      ALICE,
    );
    expect(
      (await gqlData<{ deleteDocument: boolean }>(server, DELETE, { id: document.id }, ALICE))
        .deleteDocument,
    ).toBe(true);
    expect(
      (await query(server, { query: 'narwhals tusks', collection: 'gone' }, ALICE)).chunks,
    ).toEqual([]);
    expect((await refusal(server, DELETE, { id: document.id }, ALICE)).code).toBe('NOT_FOUND');
  });

  it('another principal never sees a document: not in results, NOT_FOUND to delete, absent from lists', async () => {
    const secret = await ingest(
      server,
      { title: 'Secret', text: 'Alice keeps the vault code 7741 in the drawer.' },
      ALICE,
    );
    const bobs = await query(server, { query: 'vault code 7741 drawer', k: 50 }, BOB);
    expect(bobs.chunks).toEqual([]);
    await ingest(server, { title: 'Bob', text: 'Bob writes about the vault drawer too.' }, BOB);
    const mixed = await query(server, { query: 'vault code 7741 drawer', k: 50 }, BOB);
    expect(mixed.chunks.every((chunk) => chunk.document.title === 'Bob')).toBe(true);
    expect((await refusal(server, DELETE, { id: secret.id }, BOB)).code).toBe('NOT_FOUND');
    const listed = await gqlData<{ documents: { edges: { node: { id: string } }[] } }>(
      server,
      DOCUMENTS,
      {},
      BOB,
    );
    expect(listed.documents.edges.map((edge) => edge.node.id)).not.toContain(secret.id);
    const node = await gql<{ node: unknown }>(
      server,
      'query ($id: ID!) { node(id: $id) { id } }',
      { id: secret.id },
      BOB,
    );
    expect(node.data?.node ?? null).toBeNull();
    // Same sourceId, other principal: a document of its own, not a replacement.
    const a = await ingest(
      server,
      { title: 'A', text: 'Shared source text.', sourceId: 'shared' },
      ALICE,
    );
    const b = await ingest(
      server,
      { title: 'B', text: 'Shared source text.', sourceId: 'shared' },
      BOB,
    );
    expect(b.id).not.toBe(a.id);
  });

  it('a key without the rag scope is FORBIDDEN', async () => {
    const denied = await refusal(
      server,
      QUERY,
      { input: { query: 'x' } },
      { apiKey: 'key-reader' },
    );
    expect(denied.code).toBe('FORBIDDEN');
  });

  it('documents pages newest first with cursors', async () => {
    const names = ['p1', 'p2', 'p3'];
    for (const name of names)
      await ingest(server, { title: name, text: `Page ${name}.`, collection: 'pages' }, ALICE);
    type Page = {
      documents: {
        edges: { cursor: string; node: { title: string } }[];
        pageInfo: { hasNextPage: boolean; endCursor: string };
      };
    };
    const first = await gqlData<Page>(server, DOCUMENTS, { collection: 'pages', first: 2 }, ALICE);
    expect(first.documents.edges.map((edge) => edge.node.title)).toEqual(['p3', 'p2']);
    expect(first.documents.pageInfo.hasNextPage).toBe(true);
    const next = await gqlData<Page>(
      server,
      DOCUMENTS,
      { collection: 'pages', first: 2, after: first.documents.pageInfo.endCursor },
      ALICE,
    );
    expect(next.documents.edges.map((edge) => edge.node.title)).toEqual(['p1']);
    expect((await refusal(server, DOCUMENTS, { first: 101 }, ALICE)).code).toBe('BAD_USER_INPUT');
  });

  describe('bad input is BAD_USER_INPUT and stores nothing', () => {
    const cases: [string, Record<string, unknown>][] = [
      ['empty text', { title: 'E', text: '   \n ' }],
      ['a NUL byte', { title: 'N', text: 'binary\u0000data' }],
      ['a lone surrogate', { title: 'S', text: 'broken \ud800 text' }],
      ['text over RAG_MAX_DOCUMENT_CHARS', { title: 'L', text: 'long '.repeat(5000) }],
      ['an empty title', { title: ' ', text: 'fine' }],
      ['a bad collection name', { title: 'C', text: 'fine', collection: 'a b/c' }],
    ];
    it.each(cases)('%s', async (_name, input) => {
      const before = await gqlData<{ documents: { edges: unknown[] } }>(
        server,
        DOCUMENTS,
        { first: 100 },
        BOB,
      );
      const refused = await refusal(server, INGEST, { input }, BOB);
      expect(refused.code).toBe('BAD_USER_INPUT');
      const after = await gqlData<{ documents: { edges: unknown[] } }>(
        server,
        DOCUMENTS,
        { first: 100 },
        BOB,
      );
      expect(after.documents.edges.length).toBe(before.documents.edges.length);
    });

    it.each([0, 51, -1])('k = %i', async (k) => {
      expect((await refusal(server, QUERY, { input: { query: 'x', k } }, ALICE)).code).toBe(
        'BAD_USER_INPUT',
      );
    });

    it('an empty query', async () => {
      expect((await refusal(server, QUERY, { input: { query: ' ' } }, ALICE)).code).toBe(
        'BAD_USER_INPUT',
      );
    });

    it('an id that is not a document id is NOT_FOUND before any key is read', async () => {
      for (const id of ['doc_x', 'ses_0123', '../../etc', `doc_${'a'.repeat(32)}:chunks`]) {
        expect((await refusal(server, DELETE, { id }, ALICE)).code).toBe('NOT_FOUND');
      }
    });

    it('a 10 MB text is refused at once with a 4xx, never a 5xx', async () => {
      const started = Date.now();
      const response = await gql(
        server,
        INGEST,
        { input: { title: 'Huge', text: 'x'.repeat(10 * 1024 * 1024) } },
        ALICE,
      );
      expect(response.status).toBeGreaterThanOrEqual(400);
      expect(response.status).toBeLessThan(500);
      expect(Date.now() - started).toBeLessThan(5_000);
    });
  });
});

describe('documents per principal', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer({
      env: {
        API_KEYS,
        RAG_MAX_DOCUMENTS_PER_PRINCIPAL: '2',
        RAG_MAX_CHUNKS_PER_DOCUMENT: '3',
        RAG_CHUNK_TOKENS: '40',
        RAG_CHUNK_OVERLAP: '0',
      },
    });
  });
  afterAll(() => server?.close());

  it('past the limit an ingest is BAD_USER_INPUT; replacing a sourceId still works', async () => {
    await ingest(server, { title: '1', text: 'One.', sourceId: 'one' }, ALICE);
    await ingest(server, { title: '2', text: 'Two.' }, ALICE);
    const refused = await refusal(server, INGEST, { input: { title: '3', text: 'Three.' } }, ALICE);
    expect(refused.code).toBe('BAD_USER_INPUT');
    await ingest(server, { title: '1b', text: 'One again.', sourceId: 'one' }, ALICE);
    await ingest(server, { title: 'bob', text: 'Bob has his own room.' }, BOB);
  });

  it('a text of more chunks than RAG_MAX_CHUNKS_PER_DOCUMENT is BAD_USER_INPUT', async () => {
    const text = Array.from(
      { length: 20 },
      (_, index) => `Paragraph ${index} ${'word '.repeat(30)}`,
    ).join('\n\n');
    expect((await refusal(server, INGEST, { input: { title: 'many', text } }, BOB)).code).toBe(
      'BAD_USER_INPUT',
    );
  });
});
