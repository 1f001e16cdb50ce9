import type { YogaServerOptions } from 'graphql-yoga';

export interface CorsSettings {
  /** CORS_ORIGINS: exact origins, `*` for any origin (never with credentials). */
  origins: readonly string[] | undefined;
  production: boolean;
}

type CorsOption = NonNullable<YogaServerOptions<object, object>['cors']>;

const METHODS = ['GET', 'POST', 'OPTIONS'];
const ALLOWED_HEADERS = ['authorization', 'x-api-key', 'x-request-id', 'content-type', 'accept'];
const EXPOSED_HEADERS = [
  'RateLimit',
  'RateLimit-Policy',
  'RateLimit-Limit',
  'RateLimit-Remaining',
  'RateLimit-Reset',
  'Retry-After',
];

/**
 * Which browser origins may call the API. yoga's default reflects any Origin with credentials;
 * here a listed origin gets itself back with credentials, any other origin gets no CORS headers
 * at all (the browser keeps the answer from that page), unless `*` is listed (or, without
 * CORS_ORIGINS, outside production): then it may read answers, never with credentials. Without
 * CORS_ORIGINS in production only same-origin pages can, which need no CORS headers.
 */
export function corsPolicy(settings: CorsSettings): CorsOption {
  const listed = new Set(settings.origins?.filter((origin) => origin !== '*'));
  const anyOrigin = settings.origins ? settings.origins.includes('*') : !settings.production;
  const common = {
    methods: METHODS,
    allowedHeaders: ALLOWED_HEADERS,
    exposedHeaders: EXPOSED_HEADERS,
    maxAge: 600,
  };
  return (request: Request) => {
    const origin = request.headers.get('origin');
    if (origin === null) return false;
    // yoga answers a list with the request's own origin (and Vary: Origin), `*` with it too.
    if (listed.has(origin)) return { ...common, origin: [...listed], credentials: true };
    if (anyOrigin) return { ...common, origin: '*', credentials: false };
    return false;
  };
}
