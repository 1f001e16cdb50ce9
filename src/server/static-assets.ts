import { createHash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { promisify } from 'node:util';
import { brotliCompress, constants, gzip } from 'node:zlib';

/**
 * Immutable files served from memory, each compressed once (brotli and gzip) when the set is
 * built. Their URLs carry a hash of their content, so they are cached for a year without
 * revalidation, and a new release gets new URLs.
 */
export interface StaticAsset {
  /** The URL path, content-hashed: `/graphiql/assets/app-1a2b3c4d5e6f7a8b.js`. */
  path: string;
  contentType: string;
  /** Identity, brotli and gzip bodies; ETags per encoding (a cache keeps each apart). */
  bodies: Record<Encoding, Buffer>;
  etag: string;
}

export interface AssetSource {
  name: string;
  extension: string;
  contentType: string;
  body: Buffer;
}

type Encoding = 'identity' | 'br' | 'gzip';

const brotli = promisify(brotliCompress);
const gzipAsync = promisify(gzip);
const IMMUTABLE = 'public, max-age=31536000, immutable';

/**
 * Brotli quality 6 and gzip 9: within a few percent of brotli's best here at a tenth of its time
 * (5 MB of GraphiQL in about half a second instead of 18 s), on the thread pool, not the loop.
 */
export async function buildAssets(prefix: string, sources: AssetSource[]): Promise<StaticAsset[]> {
  return Promise.all(
    sources.map(async (source) => {
      const hash = createHash('sha256').update(source.body).digest('hex').slice(0, 16);
      const [br, gzipped] = await Promise.all([
        brotli(source.body, {
          params: {
            [constants.BROTLI_PARAM_QUALITY]: 6,
            [constants.BROTLI_PARAM_SIZE_HINT]: source.body.length,
          },
        }),
        gzipAsync(source.body, { level: 9 }),
      ]);
      return {
        path: `${prefix}${source.name}-${hash}.${source.extension}`,
        contentType: source.contentType,
        bodies: { identity: source.body, br, gzip: gzipped },
        etag: hash,
      };
    }),
  );
}

/** Answers GET or HEAD for one asset: the best accepted encoding, 304 on a matching ETag. */
export function sendAsset(
  request: IncomingMessage,
  response: ServerResponse,
  asset: StaticAsset,
): void {
  if (request.method !== 'GET' && request.method !== 'HEAD') {
    response.writeHead(405, { allow: 'GET, HEAD' });
    response.end();
    return;
  }
  const encoding = preferredEncoding(request.headers['accept-encoding']);
  const etag = `"${asset.etag}${encoding === 'identity' ? '' : `-${encoding}`}"`;
  const headers: Record<string, string> = {
    'cache-control': IMMUTABLE,
    etag,
    vary: 'Accept-Encoding',
  };
  if (etagMatches(request.headers['if-none-match'], etag)) {
    response.writeHead(304, headers);
    response.end();
    return;
  }
  const body = asset.bodies[encoding];
  response.writeHead(200, {
    ...headers,
    'content-type': asset.contentType,
    'content-length': String(body.length),
    ...(encoding === 'identity' ? {} : { 'content-encoding': encoding }),
    'x-content-type-options': 'nosniff',
  });
  response.end(request.method === 'HEAD' ? undefined : body);
}

/** Brotli, then gzip, then none, among what Accept-Encoding allows (`q=0` refuses one). */
export function preferredEncoding(header: string | undefined): Encoding {
  const weights = new Map<string, number>();
  for (const entry of (header ?? '').toLowerCase().split(',')) {
    const [token = '', ...params] = entry.split(';').map((part) => part.trim());
    if (!token) continue;
    const q = params.find((param) => param.startsWith('q='));
    const weight = q === undefined ? 1 : Number(q.slice(2));
    weights.set(token, Number.isFinite(weight) ? weight : 0);
  }
  const allowed = (coding: string) => (weights.get(coding) ?? weights.get('*') ?? 0) > 0;
  if (allowed('br')) return 'br';
  if (allowed('gzip')) return 'gzip';
  return 'identity';
}

/** If-None-Match is a list (or `*`); a weak validator matches too, as RFC 9110 asks for GET. */
function etagMatches(header: string | undefined, etag: string): boolean {
  if (!header) return false;
  return header
    .split(',')
    .map((tag) => tag.trim().replace(/^W\//, ''))
    .some((tag) => tag === '*' || tag === etag);
}
