import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gqlData } from '../../support/client.js';
import { deleteKeys, SHARED_REDIS_URL } from '../../support/redis.js';
import { startServer, type TestServer } from '../../support/server.js';
import { DELETE, ingest, query } from './operations.js';

const env = { API_KEYS: 'alice:key-alice', RAG_CHUNK_TOKENS: '60', RAG_CHUNK_OVERLAP: '10' };
const ALICE = { apiKey: 'key-alice' };

/** Polls `check` every 20 ms; resolves with the milliseconds it took to hold. */
async function msUntil(check: () => Promise<boolean>, timeoutMs = 2_000): Promise<number> {
  const started = Date.now();
  while (!(await check())) {
    if (Date.now() - started > timeoutMs) throw new Error(`not within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return Date.now() - started;
}

describe('retrieval across instances (redis)', () => {
  const keyPrefix = `test:${randomUUID()}:`;
  let a: TestServer;
  let b: TestServer;
  const started: TestServer[] = [];

  beforeAll(async () => {
    a = await startServer({ backend: 'redis', keyPrefix, env });
    b = await startServer({ backend: 'redis', keyPrefix, env });
    started.push(a, b);
  });
  afterAll(async () => {
    await Promise.all(started.map((server) => server.close()));
    await deleteKeys(SHARED_REDIS_URL, keyPrefix);
  });

  it('a document ingested on A is searchable on B within 2 s, and a delete on A reaches B too', async () => {
    const document = await ingest(
      a,
      { title: 'Feed', text: 'Axolotls regrow their limbs.' },
      ALICE,
    );
    const found = await msUntil(async () =>
      (await query(b, { query: 'axolotls regrow limbs' }, ALICE)).chunks.some(
        (chunk) => chunk.document.id === document.id,
      ),
    );
    console.info(`ingest on A searchable on B after ${found} ms`);
    await gqlData(a, DELETE, { id: document.id }, ALICE);
    const gone = await msUntil(async () =>
      (await query(b, { query: 'axolotls regrow limbs' }, ALICE)).chunks.every(
        (chunk) => chunk.document.id !== document.id,
      ),
    );
    console.info(`delete on A gone from B after ${gone} ms`);
  });

  it('a re-ingest on B replaces the version A searches', async () => {
    const input = { title: 'Swap', sourceId: 'swap', collection: 'swap' };
    const first = await ingest(a, { ...input, text: 'Capybaras enjoy warm baths.' }, ALICE);
    const second = await ingest(b, { ...input, text: 'Capybaras enjoy cold rivers.' }, ALICE);
    expect(second.id).toBe(first.id);
    await msUntil(async () => {
      const texts = (
        await query(a, { query: 'capybaras enjoy', collection: 'swap', k: 50 }, ALICE)
      ).chunks.map((chunk) => chunk.text);
      return texts.length === 1 && texts[0] === 'Capybaras enjoy cold rivers.';
    });
  });

  it('a new instance builds its index from Redis at start', async () => {
    const document = await ingest(
      a,
      { title: 'Old', text: 'Pangolins are covered in scales.' },
      ALICE,
    );
    const c = await startServer({ backend: 'redis', keyPrefix, env });
    started.push(c);
    const result = await query(c, { query: 'pangolins scales' }, ALICE);
    expect(result.chunks[0]?.document.id).toBe(document.id);
  });
});
