import type { IncomingMessage, Server } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ExecutionArgs, ExecutionResult, GraphQLError } from 'graphql';
import {
  CloseCode,
  type Context,
  handleProtocols,
  makeServer,
  type WebSocket as ProtocolSocketShape,
  type ServerOptions,
} from 'graphql-ws';
import { isAsyncIterable } from 'graphql-yoga';
import { type WebSocket, WebSocketServer } from 'ws';
import type { Config } from '../config.js';
import { BadInput, isAppError } from '../errors.js';
import type { Logger } from '../infra/logger.js';
import { NO_TRACING, type Tracing } from '../infra/tracing.js';
import type { Principal } from '../model.js';
import { type Authenticator, credentialFromConnectionParams } from './auth.js';
import type { ClientIpResolver } from './client-ip.js';
import type { ErrorMapper } from './errors.js';
import type { SharedEventExecution } from './shared-execution.js';
import { type OperationTrace, startOperation } from './tracing.js';
import type { DocumentParams, TrustedDocuments } from './trusted-documents.js';
import {
  ConnectionAdmission,
  type ConnectionSlot,
  isRefusal,
  type Refusal,
} from './ws-admission.js';
import { FrameWriter } from './ws-frames.js';
import { SocketGuard, type SocketLabels, type WatchedSocket } from './ws-guard.js';
import type { YogaServer } from './yoga.js';

export interface WebSocketOptions {
  httpServer: Server;
  yoga: YogaServer;
  authenticator: Authenticator;
  errors: ErrorMapper;
  clientIps: ClientIpResolver;
  limits: Config['limits']['webSocket'];
  maxSubscriptionsPerSocket: number;
  /** TRUSTED_DOCUMENTS: yoga's parameter hooks do not run here, so the socket checks itself. */
  trustedDocuments?: TrustedDocuments;
  log: Logger;
  /** An operation's parent: its `extensions.traceparent`, the connection_init's, the upgrade's. */
  tracing?: Tracing;
  /** The streams' shared execution: its results are read past the per-event hooks. */
  sharedExecution?: SharedEventExecution;
}

type SocketExtra = {
  socket: WebSocket;
  request: IncomingMessage;
  slot: ConnectionSlot;
  watched: WatchedSocket;
  labels: SocketLabels;
  principal?: Principal;
  /** Set at connection_init: no operation can run before it. */
  context?: SocketContext;
};
type SocketContext = Context<Record<string, unknown> | undefined, SocketExtra>;

type EnvelopedRoot = {
  execute: (args: ExecutionArgs) => unknown;
  subscribe: (args: ExecutionArgs) => unknown;
  /** Set when tracing is on: the operation's span, ended once execute or subscribe settles. */
  operation?: OperationTrace;
};
type SubscribeHook = NonNullable<
  ServerOptions<Record<string, unknown> | undefined, SocketExtra>['onSubscribe']
>;

/** How long a refused or shut-down socket may take to answer its close frame. */
const CLOSE_HANDSHAKE_MS = 1_000;

/**
 * graphql-ws on the HTTP server's port and path. Every operation goes through yoga's envelop
 * pipeline (the same parse, validation rules, context and error masking as HTTP and SSE); a
 * document that fails to parse or validate is answered with an error for that operation only,
 * never by closing the socket and every other stream on it. Connection caps (ws-admission) and
 * per-socket limits (ws-guard) apply before graphql-ws sees a message.
 */
export function attachWebSocketServer(options: WebSocketOptions) {
  const { limits, log } = options;
  const wsServer = new WebSocketServer({
    server: options.httpServer,
    path: '/graphql',
    maxPayload: limits.maxPayloadBytes,
    handleProtocols,
  });
  // ws re-emits the HTTP server's errors here; listen() reports them, this keeps them handled.
  wsServer.on('error', (error) => log.warn({ err: error }, 'websocket server error'));
  const admission = new ConnectionAdmission(limits);
  const guard = new SocketGuard(limits, log);
  /**
   * Connected sockets' contexts, to let their operations send `complete` before shutdown closes
   * them. The context, not `ctx.subscriptions`: graphql-ws swaps that object on close.
   */
  const connected = new Set<SocketContext>();
  const frames = new FrameWriter(limits);
  const protocol = makeServer(graphqlWsOptions(options, admission, guard, connected, frames));

  wsServer.on('connection', (socket, request) => {
    socket.on('error', (error) => log.debug({ err: error }, 'websocket protocol error'));
    const clientIp = options.clientIps.resolve(
      request.socket.remoteAddress,
      request.headers['x-forwarded-for'],
    );
    const admitted = admission.admit(clientIp);
    if (isRefusal(admitted)) return refuse(socket, admitted, { clientIp }, log);
    const labels: SocketLabels = { clientIp };
    const watched = guard.watch(socket, labels, () => hasOperations(extra.context));
    const extra: SocketExtra = { socket, request, slot: admitted, labels, watched };
    const closed = protocol.opened(new ProtocolSocket(socket, guard, watched, log), extra);
    socket.once('close', (code, reason) => {
      admission.release(admitted);
      closed(code, String(reason)).catch((error: unknown) =>
        log.error({ err: error }, 'websocket close handling failed'),
      );
    });
  });

  return {
    wsServer,
    /** Sockets open now (before and after connection_init). */
    get openConnections() {
      return admission.open;
    },
    /** Sockets refused by a connection cap since start (1013 or 4429). */
    get refusedConnections() {
      return admission.refused;
    },
    /** Stream results serialised and frames written since start. */
    frames: frames.counts as Readonly<typeof frames.counts>,
    /** Sockets the guard ended since start, by reason. */
    closedByGuard: guard.closedBy as Readonly<typeof guard.closedBy>,
    /**
     * Closes every socket with 1001 (Going Away), which graphql-ws clients retry elsewhere, once
     * its operations have sent their `complete` (or after `graceMs`): a client that saw its
     * MessageEnd but no `complete` would subscribe again and get the events twice.
     */
    close: async (graceMs: number) => {
      const deadline = Date.now() + graceMs;
      const busy = () => [...connected].some((ctx) => hasOperations(ctx));
      while (busy() && Date.now() < deadline) await sleep(5);
      guard.stop();
      const stopped = new Promise<void>((resolve) => wsServer.close(() => resolve()));
      for (const socket of wsServer.clients) socket.close(1001, 'Going away');
      const force = setTimeout(() => {
        for (const socket of wsServer.clients) socket.terminate();
      }, CLOSE_HANDSHAKE_MS);
      await stopped;
      clearTimeout(force);
    },
  };
}

/**
 * A ws socket as graphql-ws speaks to it: the guard's limits on what is received and sent. A
 * class, not an object of closures: one per socket (each closure of an object literal is made
 * per socket; run through tsx, whose esbuild keeps function names, each also gets a property
 * dictionary of about 0.25 KB).
 */
class ProtocolSocket implements ProtocolSocketShape {
  readonly protocol: string;

  constructor(
    private readonly socket: WebSocket,
    private readonly guard: SocketGuard,
    private readonly watched: WatchedSocket,
    private readonly log: Logger,
  ) {
    this.protocol = socket.protocol;
  }

  send(data: string): Promise<void> {
    const { socket } = this;
    return new Promise((resolve) => {
      if (socket.readyState !== socket.OPEN || !this.guard.roomToSend(this.watched)) {
        return resolve();
      }
      // A send to a peer that just went away fails (EPIPE); its close ends the operations.
      socket.send(data, () => resolve());
    });
  }

  close(code?: number, reason?: string): void {
    this.socket.close(code, reason);
  }

  onMessage(received: (data: string) => Promise<void>): void {
    const { socket, guard, watched, log } = this;
    socket.on('message', (data) => {
      if (!guard.admitMessage(watched)) return;
      received(String(data)).catch((error: unknown) => {
        log.error({ err: error }, 'websocket message handling failed');
        socket.close(CloseCode.InternalServerError, 'Internal server error');
      });
    });
  }
}

/** The graphql-ws hooks: authentication and the per-key cap at connection_init, operations. */
function graphqlWsOptions(
  options: WebSocketOptions,
  admission: ConnectionAdmission,
  guard: SocketGuard,
  connected: Set<SocketContext>,
  frames: FrameWriter,
): ServerOptions<Record<string, unknown> | undefined, SocketExtra> {
  const { yoga, authenticator, errors, log } = options;
  const tracing = options.tracing ?? NO_TRACING;
  // No HTTP status here: a refused operation is an error result on an open socket.
  const refuse = (error: unknown) => [errors.mapError(error)];
  return {
    connectionInitWaitTimeout: options.limits.initTimeoutMs,
    onConnect: (ctx) => {
      const { extra } = ctx;
      try {
        extra.principal = authenticator.authenticate(
          credentialFromConnectionParams(ctx.connectionParams),
        );
      } catch (error) {
        if (isAppError(error) && error.code === 'UNAUTHENTICATED') {
          extra.socket.close(CloseCode.Unauthorized, 'Unauthorized');
        }
        return false; // 4403 Forbidden, unless already closed with 4401
      }
      extra.labels.principal = extra.principal.id;
      const refusal = admission.authenticated(extra.slot, extra.principal);
      if (refusal) {
        log.debug({ reason: refusal.reason, ...extra.labels }, 'websocket refused');
        extra.socket.close(refusal.code, refusal.message);
        return false;
      }
      extra.context = ctx;
      connected.add(ctx);
      return true;
    },
    onSubscribe: traceOperations(tracing, async (ctx, _id, payload) => {
      guard.touch(ctx.extra.watched);
      // graphql-ws has already registered this operation: it counts itself.
      if (Object.keys(ctx.subscriptions).length > options.maxSubscriptionsPerSocket) {
        return refuse(
          new BadInput(
            `At most ${options.maxSubscriptionsPerSocket} operations may run on one socket.`,
          ),
        );
      }
      let query = payload.query;
      try {
        if (options.trustedDocuments) {
          query = options.trustedDocuments.resolve(payload as DocumentParams);
        }
      } catch (error) {
        return refuse(error);
      }
      const { schema, execute, subscribe, contextFactory, parse, validate } = yoga.getEnveloped({
        ...ctx,
        req: ctx.extra.request,
        socket: ctx.extra.socket,
        params: { ...payload, query },
        principal: ctx.extra.principal,
      });
      try {
        const document = parse(query);
        const validationErrors = validate(schema, document);
        if (validationErrors.length > 0)
          return validationErrors.map((error: GraphQLError) => errors.mapError(error));
        const root: EnvelopedRoot = { execute, subscribe };
        return {
          schema,
          document,
          operationName: payload.operationName,
          variableValues: payload.variables,
          contextValue: await contextFactory(),
          rootValue: root,
        };
      } catch (error) {
        return refuse(error);
      }
    }),
    // Streams write their frames themselves (each result serialised once for all its
    // subscribers). A send to a socket that is no longer open resolves at once, so a replay to a
    // peer that left would run to its end without a pause: the writer ends the operation instead.
    onOperation: (ctx, id, _payload, args, result) => {
      if (!isAsyncIterable<ExecutionResult>(result)) return;
      const { socket, watched } = ctx.extra;
      const direct = options.sharedExecution?.directResults(args.contextValue);
      return frames.frames(result, id, socket, () => guard.roomToSend(watched), direct);
    },
    // The idle clock starts when the last operation ends, not at the sweep that notices it.
    onComplete: (ctx) => guard.touch(ctx.extra.watched),
    onError: (ctx) => guard.touch(ctx.extra.watched),
    onClose: (ctx) => {
      connected.delete(ctx);
    },
    execute: (args) => inOperation(args, 'execute') as never,
    subscribe: (args) => inOperation(args, 'subscribe') as never,
  };
}

/**
 * A refused socket gets its close code at once and never reaches graphql-ws; one that does not
 * answer the close frame is cut off rather than kept for ws's 30 s closing timeout.
 */
function refuse(socket: WebSocket, refusal: Refusal, labels: SocketLabels, log: Logger): void {
  log.debug({ reason: refusal.reason, ...labels }, 'websocket refused');
  socket.close(refusal.code, refusal.message);
  const cutOff = setTimeout(() => socket.terminate(), CLOSE_HANDSHAKE_MS);
  socket.once('close', () => clearTimeout(cutOff));
}

/**
 * Each operation in a span of its own (tracing on): preparing it (parse, validate, context) runs
 * in the span, a refusal ends it failed, and an admitted operation carries it to its execution.
 */
function traceOperations(tracing: Tracing, prepare: SubscribeHook): SubscribeHook {
  if (!tracing.enabled) return prepare;
  return async (ctx, id, payload) => {
    const parent = tracing.extract(
      traceCarrier(payload.extensions, ctx.connectionParams, ctx.extra.request),
    );
    const operation = startOperation(tracing, parent, 'websocket');
    try {
      const prepared = await operation.run(() => prepare(ctx, id, payload));
      if (prepared && 'document' in prepared) {
        (prepared.rootValue as EnvelopedRoot).operation = operation;
      } else {
        operation.end(
          prepared ? String(prepared[0]?.extensions.code ?? 'INTERNAL_ERROR') : undefined,
        );
      }
      return prepared;
    } catch (error) {
      operation.end('INTERNAL_ERROR');
      throw error;
    }
  };
}

/** Runs an operation's execute or subscribe, in its span when it has one. */
function inOperation(args: ExecutionArgs, phase: 'execute' | 'subscribe'): unknown {
  const root = args.rootValue as EnvelopedRoot;
  const { operation } = root;
  if (!operation) return root[phase](args);
  try {
    const result = operation.run(() => root[phase](args));
    Promise.resolve(result).then(
      () => operation.end(),
      () => operation.end('INTERNAL_ERROR'),
    );
    return result;
  } catch (error) {
    operation.end('INTERNAL_ERROR');
    throw error;
  }
}

/** Where a WebSocket operation's W3C trace context comes from, the most specific first. */
function traceCarrier(
  extensions: Record<string, unknown> | undefined | null,
  connectionParams: Record<string, unknown> | undefined,
  request: IncomingMessage,
): { traceparent?: unknown; tracestate?: unknown } {
  if (typeof extensions?.traceparent === 'string') return extensions;
  if (typeof connectionParams?.traceparent === 'string') return connectionParams;
  return { traceparent: request.headers.traceparent, tracestate: request.headers.tracestate };
}

function hasOperations(ctx: SocketContext | undefined): boolean {
  if (!ctx) return false;
  for (const _id in ctx.subscriptions) return true;
  return false;
}
