import { timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Registry } from 'prom-client';
import type { HealthService } from '../services/health.js';
import { refusalBody } from './errors.js';
import { GRAPHIQL_ASSETS_PREFIX, sendGraphiQLAsset } from './graphiql.js';
import type { YogaServer } from './yoga.js';

export interface HttpLimits {
  /** Largest request body read; larger ones are 413 before anything reads them. */
  maxBodyBytes: number;
  /** Time a client has to send its request headers. */
  headersTimeoutMs: number;
  /** Time a client has to send its whole request, body included (not the response's time). */
  requestTimeoutMs: number;
}

export interface HttpOptions {
  yoga: YogaServer;
  health: HealthService;
  /** True once shutdown began: readiness fails so load balancers stop sending work. */
  isDraining: () => boolean;
  limits: HttpLimits;
  /** Prometheus text at GET /metrics; with `token`, only for `Authorization: Bearer <token>`. */
  metrics: { registry: Registry; token: string | undefined; requireToken: boolean };
  /** GraphiQL's assets under /graphiql/assets/, served while GraphiQL is on (introspection). */
  graphiql?: boolean;
}

const JSON_BODY = /^application\/(json|graphql-response\+json)\s*(;|$)/i;

/**
 * Longer than the usual client and proxy idle timeouts (60 s), so the server is never the one
 * closing a keep-alive connection just as a client reuses it (a "socket hang up" for it). Node
 * applies the headers and request timeouts to requests in progress only, not to idle sockets.
 */
const KEEP_ALIVE_TIMEOUT_MS = 65_000;

function sendJson(
  response: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  response.writeHead(status, { 'content-type': 'application/json; charset=utf-8', ...headers });
  response.end(JSON.stringify(body));
}

function sendRefusal(response: ServerResponse, status: number, message: string, close = false) {
  sendJson(
    response,
    status,
    refusalBody(message),
    // The body is left unread: closing after the answer is cheaper than draining it.
    close ? { connection: 'close' } : {},
  );
}

/**
 * A body over the limit is refused from its Content-Length, before a byte of it is read; a body
 * without one (chunked) is refused too, as its size is unknown until it has been read. Node
 * itself refuses a malformed or contradictory Content-Length (400).
 */
function bodyRefusal(
  request: IncomingMessage,
  maxBodyBytes: number,
): { status: number; message: string } | undefined {
  const length = request.headers['content-length'];
  if (length !== undefined) {
    return Number(length) > maxBodyBytes
      ? { status: 413, message: `Request bodies are limited to ${maxBodyBytes} bytes.` }
      : undefined;
  }
  if (request.headers['transfer-encoding'] !== undefined) {
    return { status: 411, message: 'A request body needs a Content-Length header.' };
  }
  return undefined;
}

/**
 * In production /metrics answers only the bearer of METRICS_TOKEN (403 while none is set): what
 * it shows (operation names, breakers, load) maps the deployment for an attacker.
 */
async function sendMetrics(
  request: IncomingMessage,
  response: ServerResponse,
  metrics: HttpOptions['metrics'],
): Promise<void> {
  const { token, requireToken, registry } = metrics;
  const given = request.headers.authorization?.replace(/^Bearer\s+/i, '');
  if ((requireToken || token) && (!token || !given || !safeEqual(given, token))) {
    return sendJson(response, token ? 401 : 403, {
      status: token ? 'unauthorized' : 'set METRICS_TOKEN',
    });
  }
  response.writeHead(200, { 'content-type': registry.contentType });
  response.end(await registry.metrics());
}

function safeEqual(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

/**
 * One node:http server for everything: probes as plain HTTP, and /graphql for yoga (HTTP, SSE
 * and GraphiQL); the WebSocket server attaches to the same server's upgrades.
 */
export function createHttpServer(options: HttpOptions): Server {
  const { limits } = options;
  const handle = async (request: IncomingMessage, response: ServerResponse) => {
    const tooLarge = bodyRefusal(request, limits.maxBodyBytes);
    if (tooLarge) return sendRefusal(response, tooLarge.status, tooLarge.message, true);
    const path = (request.url ?? '/').split('?', 1)[0];
    if (path === '/health') return sendJson(response, 200, { status: 'ok' });
    if (path === '/metrics') return sendMetrics(request, response, options.metrics);
    if (path === '/ready') {
      const ready = !options.isDraining() && (await options.health.backendReady());
      return sendJson(response, ready ? 200 : 503, { status: ready ? 'ready' : 'not ready' });
    }
    if (path?.startsWith(GRAPHIQL_ASSETS_PREFIX)) {
      const sent = options.graphiql && (await sendGraphiQLAsset(request, response, path));
      if (!sent) sendJson(response, 404, { status: 'not found' });
      return;
    }
    // A form or text POST is a CORS "simple request" a foreign page can send (CSRF): JSON only.
    if (request.method === 'POST' && !JSON_BODY.test(request.headers['content-type'] ?? '')) {
      return sendRefusal(response, 415, 'POST bodies must be application/json.');
    }
    return options.yoga(request, response);
  };
  // Node refuses headersTimeout above requestTimeout; slow clients are cut within about a
  // quarter of the headers timeout after it passes (node checks every 30 s by default).
  const headersTimeout = Math.min(limits.headersTimeoutMs, limits.requestTimeoutMs);
  const server = createServer(
    {
      headersTimeout,
      requestTimeout: limits.requestTimeoutMs,
      connectionsCheckingInterval: Math.max(25, Math.min(1_000, Math.floor(headersTimeout / 4))),
    },
    (request, response) => {
      handle(request, response).catch(() => {
        if (!response.headersSent) sendJson(response, 500, { status: 'error' });
        else response.destroy();
      });
    },
  );
  server.keepAliveTimeout = KEEP_ALIVE_TIMEOUT_MS;
  return server;
}
