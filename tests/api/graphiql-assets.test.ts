import { request } from 'node:http';
import { brotliDecompressSync, gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { preferredEncoding } from '../../src/server/static-assets.js';
import { startServer, type TestServer } from '../support/server.js';

const BROWSER_ACCEPT = 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8';

async function graphiqlPage(server: TestServer): Promise<Response> {
  return fetch(server.httpUrl, { headers: { accept: BROWSER_ACCEPT } });
}

function assetUrls(html: string): string[] {
  return [...html.matchAll(/\/graphiql\/assets\/[a-z-]+-[0-9a-f]{16}\.[a-z]+/g)].map(
    (match) => match[0],
  );
}

/** node's fetch decodes bodies itself: raw bytes and headers come from node:http here. */
async function getRaw(
  server: TestServer,
  path: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; headers: Headers; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const outgoing = request(
      { host: '127.0.0.1', port: server.port, path, headers },
      (incoming) => {
        const chunks: Buffer[] = [];
        incoming.on('data', (chunk: Buffer) => chunks.push(chunk));
        incoming.on('end', () => {
          const responseHeaders = new Headers();
          for (const [name, value] of Object.entries(incoming.headers)) {
            if (typeof value === 'string') responseHeaders.set(name, value);
          }
          resolve({
            status: incoming.statusCode ?? 0,
            headers: responseHeaders,
            body: Buffer.concat(chunks),
          });
        });
      },
    );
    outgoing.on('error', reject);
    outgoing.end();
  });
}

describe('GraphiQL: a small page and separate, cacheable, compressed assets', () => {
  let server: TestServer;
  let production: TestServer;
  let assets: string[];

  beforeAll(async () => {
    server = await startServer();
    production = await startServer({ env: { NODE_ENV: 'production', API_KEYS: 'ops:key-ops' } });
    assets = assetUrls(await (await graphiqlPage(server)).text());
  });
  afterAll(async () => {
    await server?.close();
    await production?.close();
  });

  it('the page is under 50 KB and names its script, style, favicon and workers by hash', async () => {
    const page = await graphiqlPage(server);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toContain('text/html');
    const html = await page.text();
    expect(Buffer.byteLength(html)).toBeLessThan(50_000);
    const kinds = new Set(assetUrls(html).map((url) => url.replace(/-[0-9a-f]{16}/, '')));
    expect([...kinds].sort()).toEqual(
      [
        '/graphiql/assets/editor-worker.js',
        '/graphiql/assets/favicon.ico',
        '/graphiql/assets/graphiql.css',
        '/graphiql/assets/graphiql.js',
        '/graphiql/assets/graphql-worker.js',
        '/graphiql/assets/json-worker.js',
      ].sort(),
    );
  });

  it('assets are immutable for a year, with an ETag and Vary: Accept-Encoding', async () => {
    for (const path of assets) {
      const response = await getRaw(server, path);
      expect(response.status).toBe(200);
      expect(response.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
      expect(response.headers.get('etag')).toMatch(/^"[0-9a-f]{16}"$/);
      expect(response.headers.get('vary')).toBe('Accept-Encoding');
      expect(response.headers.get('content-encoding')).toBeNull();
      expect(Number(response.headers.get('content-length'))).toBe(response.body.length);
    }
  });

  it('brotli when accepted, else gzip, each the same bytes once decoded', async () => {
    const script = assets.find((path) => path.includes('/graphiql-') && path.endsWith('.js'))!;
    const plain = await getRaw(server, script);
    expect(plain.headers.get('content-type')).toBe('text/javascript; charset=utf-8');

    const br = await getRaw(server, script, { 'accept-encoding': 'gzip, deflate, br' });
    expect(br.headers.get('content-encoding')).toBe('br');
    expect(br.body.length).toBeLessThan(plain.body.length / 2);
    expect(brotliDecompressSync(br.body).equals(plain.body)).toBe(true);

    const gz = await getRaw(server, script, { 'accept-encoding': 'gzip, br;q=0' });
    expect(gz.headers.get('content-encoding')).toBe('gzip');
    expect(gunzipSync(gz.body).equals(plain.body)).toBe(true);
    expect(gz.headers.get('etag')).not.toBe(br.headers.get('etag'));
  });

  it('answers 304 with no body to a matching If-None-Match', async () => {
    const css = assets.find((path) => path.endsWith('.css'))!;
    const first = await getRaw(server, css, { 'accept-encoding': 'br' });
    const again = await getRaw(server, css, {
      'accept-encoding': 'br',
      'if-none-match': `W/"0000000000000000", ${first.headers.get('etag')}`,
    });
    expect(again.status).toBe(304);
    expect(again.body.length).toBe(0);
    expect(again.headers.get('cache-control')).toContain('immutable');
    const stale = await getRaw(server, css, { 'if-none-match': '"0000000000000000"' });
    expect(stale.status).toBe(200);
  });

  it('an unknown asset path is 404', async () => {
    expect((await getRaw(server, '/graphiql/assets/graphiql-0000000000000000.js')).status).toBe(
      404,
    );
    expect((await getRaw(server, '/graphiql/assets/../../package.json')).status).toBe(404);
  });

  it('in production (introspection off) neither the page nor its assets are served', async () => {
    const page = await graphiqlPage(production);
    expect(await page.text()).not.toContain('YogaGraphiQL');
    for (const path of assets) expect((await getRaw(production, path)).status).toBe(404);
  });

  it('reads Accept-Encoding weights: q=0 refuses a coding, * allows the rest', () => {
    expect(preferredEncoding(undefined)).toBe('identity');
    expect(preferredEncoding('gzip;q=0.5, br;q=0')).toBe('gzip');
    expect(preferredEncoding('*')).toBe('br');
    expect(preferredEncoding('*;q=0, identity')).toBe('identity');
    expect(preferredEncoding('deflate')).toBe('identity');
  });
});
