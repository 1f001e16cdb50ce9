import type { ExecutionResult } from 'graphql';
import { isAsyncIterable, type Plugin } from 'graphql-yoga';
import type { Logger } from '../infra/logger.js';
import { isGraphQLError } from './errors.js';

/**
 * Apollo Client's own HTTP transport for subscriptions (the "multipart subscription" protocol of
 * Apollo Router): the client asks with `Accept: multipart/mixed;subscriptionSpec=1.0`, and each
 * result arrives as a JSON part `{"payload": <result>}`, idle gaps as heartbeat parts `{}`, and a
 * failure of the stream itself as `{"payload": null, "errors": [...]}`. Yoga's own multipart
 * processor speaks incremental delivery (no `payload`, no heartbeats), and refuses
 * subscriptions with 406.
 *
 * Only the encoding is ours: the result reaching this hook has been through authentication,
 * cost limits, error masking and the contract codes like any other. A refusal before the stream
 * starts (a single result, not a stream) is left to yoga's JSON answer when the client accepts
 * JSON, so it keeps its HTTP status (401, 429 with Retry-After); Apollo Client 4 accepts
 * `application/graphql-response+json` too.
 */
export interface MultipartSubscriptionOptions {
  /** Idle time after which a heartbeat part is sent (Apollo Router's 5 s by default). */
  heartbeatMs?: number;
  log: Logger;
}

const BOUNDARY = 'graphql';
const CONTENT_TYPE = `multipart/mixed; boundary="${BOUNDARY}"; subscriptionSpec="1.0"`;
const DELIMITER = `\r\n--${BOUNDARY}`;
/**
 * Each part is followed by its delimiter at once: a client (Apollo included) takes a part as
 * complete only when the next delimiter arrives, so a part left open would wait for the next
 * event or heartbeat.
 */
const partOf = (json: string) =>
  `\r\nContent-Type: application/json; charset=utf-8\r\n\r\n${json}${DELIMITER}`;
const CLOSE = '--\r\n';
const DEFAULT_HEARTBEAT_MS = 5_000;

type StreamedResult = ExecutionResult & { extensions?: Record<string, unknown> };

export function useMultipartSubscriptions(options: MultipartSubscriptionOptions): Plugin {
  const heartbeatMs = options.heartbeatMs ?? DEFAULT_HEARTBEAT_MS;
  return {
    onResultProcess({ request, result, setResultProcessor }) {
      if (!prefersMultipartSubscription(request)) return;
      // A single result (a refusal) keeps yoga's JSON answer when the client takes JSON; one
      // that asked for multipart alone gets it as one part rather than a 406.
      if (!isAsyncIterable(result) && (acceptsJson(request) || Array.isArray(result))) return;
      setResultProcessor(
        (input, fetchAPI) =>
          new fetchAPI.Response(
            encodeParts(
              asStream(input as StreamedResult | AsyncIterable<StreamedResult>),
              heartbeatMs,
              options.log,
            ),
            {
              status: 200,
              headers: { 'content-type': CONTENT_TYPE, 'cache-control': 'no-cache' },
            },
          ),
        'multipart/mixed',
      );
    },
  };
}

/**
 * True when the Accept header names `multipart/mixed` with `subscriptionSpec=1.0` (quoted or
 * not, any case), ahead of `text/event-stream` if both are listed.
 */
export function prefersMultipartSubscription(request: Request): boolean {
  const accept = request.headers.get('accept') ?? '';
  for (const entry of accept.split(',')) {
    const [mediaType = '', ...params] = entry.split(';').map((part) => part.trim().toLowerCase());
    if (mediaType === 'text/event-stream') return false;
    if (mediaType !== 'multipart/mixed') continue;
    if (params.some((param) => param.replace(/"/g, '') === 'subscriptionspec=1.0')) return true;
  }
  return false;
}

/**
 * The stream itself, not a generator around it: a generator's `return()` waits for a pending
 * `next()`, so a client leaving an idle stream would not end its subscription until the next
 * event.
 */
const JSON_MEDIA_TYPES = new Set([
  'application/json',
  'application/graphql-response+json',
  'application/*',
  '*/*',
]);

function acceptsJson(request: Request): boolean {
  const accept = request.headers.get('accept') ?? '';
  return accept.split(',').some((entry) => {
    const [mediaType = '', ...params] = entry.split(';').map((part) => part.trim().toLowerCase());
    return JSON_MEDIA_TYPES.has(mediaType) && !params.some((param) => /^q=0(\.0*)?$/.test(param));
  });
}

function asStream(
  input: StreamedResult | AsyncIterable<StreamedResult>,
): AsyncIterable<StreamedResult> {
  if (isAsyncIterable(input)) return input;
  return (async function* single() {
    yield input;
  })();
}

/**
 * Pull-based: the next result is read only once the previous part has been taken (the node
 * adapter waits for the socket to drain), so a client that stops reading leaves its events in
 * the subscription's own bounded buffer, not in an unbounded queue here.
 */
function encodeParts(
  results: AsyncIterable<StreamedResult>,
  heartbeatMs: number,
  log: Logger,
): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  const iterator = results[Symbol.asyncIterator]();
  let heartbeat: NodeJS.Timeout | undefined;
  let finished = false;
  let lastWrite = Date.now();
  const write = (controller: ReadableStreamDefaultController<Uint8Array>, json: string) => {
    lastWrite = Date.now();
    controller.enqueue(encoder.encode(partOf(json)));
  };
  const close = (controller: ReadableStreamDefaultController<Uint8Array>) => {
    finished = true;
    clearInterval(heartbeat);
    controller.enqueue(encoder.encode(CLOSE));
    controller.close();
  };
  return new ReadableStream<Uint8Array>({
    start(controller) {
      // The headers and a first heartbeat go out at once: proxies and browsers may hold a
      // response back until its first bytes, and Apollo skips empty parts.
      controller.enqueue(encoder.encode(`${DELIMITER}${partOf('{}')}`));
      // A reader that stopped reading gets no heartbeats piling up (desiredSize <= 0).
      heartbeat = setInterval(
        () => {
          if (finished || (controller.desiredSize ?? 0) <= 0) return;
          if (Date.now() - lastWrite >= heartbeatMs) write(controller, '{}');
        },
        Math.max(10, Math.floor(heartbeatMs / 2)),
      );
    },
    async pull(controller) {
      try {
        const next = await iterator.next();
        if (finished) return;
        if (next.done) return close(controller);
        write(controller, JSON.stringify({ payload: forClient(next.value) }));
      } catch (error) {
        if (finished) return;
        // The stream itself failed (not one event): Apollo's transport error, masked.
        log.error({ err: error }, 'multipart subscription stream failed');
        write(
          controller,
          JSON.stringify({
            payload: null,
            errors: [
              { message: 'Unexpected error.', extensions: { code: 'INTERNAL_SERVER_ERROR' } },
            ],
          }),
        );
        close(controller);
      }
    },
    cancel() {
      finished = true;
      clearInterval(heartbeat);
      return iterator.return?.().then(() => undefined);
    },
  });
}

/** What yoga's serialiser would send: `extensions.http` (status, headers) stays on the server. */
function forClient(result: StreamedResult): Record<string, unknown> {
  const { http: _http, ...extensions } = result.extensions ?? {};
  return {
    ...(result.errors ? { errors: result.errors.map(errorForClient) } : {}),
    ...('data' in result ? { data: result.data } : {}),
    ...(Object.keys(extensions).length > 0 ? { extensions } : {}),
  };
}

function errorForClient(error: unknown): unknown {
  if (!isGraphQLError(error)) return error;
  const { extensions, ...rest } = error.toJSON();
  const { http: _http, unexpected: _unexpected, ...kept } = extensions ?? {};
  return { ...rest, ...(Object.keys(kept).length > 0 ? { extensions: kept } : {}) };
}
