import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { HealthService } from '../services/health.js';
import type { YogaServer } from './yoga.js';

export interface HttpOptions {
  yoga: YogaServer;
  health: HealthService;
  /** True once shutdown began: readiness fails so load balancers stop sending work. */
  isDraining: () => boolean;
}

const JSON_BODY = /^application\/(json|graphql-response\+json)\s*(;|$)/i;

function sendJson(response: ServerResponse, status: number, body: unknown): void {
  response.writeHead(status, { 'content-type': 'application/json; charset=utf-8' });
  response.end(JSON.stringify(body));
}

/**
 * One node:http server for everything: probes as plain HTTP, and /graphql for yoga (HTTP, SSE
 * and GraphiQL); the WebSocket server attaches to the same server's upgrades.
 */
export function createHttpServer(options: HttpOptions): Server {
  const handle = async (request: IncomingMessage, response: ServerResponse) => {
    const path = (request.url ?? '/').split('?', 1)[0];
    if (path === '/health') return sendJson(response, 200, { status: 'ok' });
    if (path === '/ready') {
      const ready = !options.isDraining() && (await options.health.backendReady());
      return sendJson(response, ready ? 200 : 503, { status: ready ? 'ready' : 'not ready' });
    }
    // A form or text POST is a CORS "simple request" a foreign page can send (CSRF): JSON only.
    if (request.method === 'POST' && !JSON_BODY.test(request.headers['content-type'] ?? '')) {
      return sendJson(response, 415, {
        errors: [
          {
            message: 'POST bodies must be application/json.',
            extensions: { code: 'BAD_USER_INPUT' },
          },
        ],
      });
    }
    return options.yoga(request, response);
  };
  const server = createServer((request, response) => {
    handle(request, response).catch(() => {
      if (!response.headersSent) sendJson(response, 500, { status: 'error' });
      else response.destroy();
    });
  });
  // Longer than the usual client and proxy idle timeouts (60 s), so the server is never the one
  // closing a keep-alive connection just as a client reuses it (a "socket hang up" for it).
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;
  return server;
}
