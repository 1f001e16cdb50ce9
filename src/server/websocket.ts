import type { Server } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { type ExecutionArgs, GraphQLError } from 'graphql';
import { CloseCode } from 'graphql-ws';
import { useServer } from 'graphql-ws/use/ws';
import { type WebSocket, WebSocketServer } from 'ws';
import { isAppError } from '../errors.js';
import type { Principal } from '../model.js';
import { type Authenticator, credentialFromConnectionParams } from './auth.js';
import type { ErrorMapper } from './errors.js';
import type { YogaServer } from './yoga.js';

export interface WebSocketOptions {
  httpServer: Server;
  yoga: YogaServer;
  authenticator: Authenticator;
  errors: ErrorMapper;
  maxSubscriptionsPerSocket: number;
}

type SocketExtra = { principal?: Principal };

type EnvelopedRoot = {
  execute: (args: ExecutionArgs) => unknown;
  subscribe: (args: ExecutionArgs) => unknown;
};

/**
 * graphql-ws on the HTTP server's port and path. Every operation goes through yoga's envelop
 * pipeline (the same parse, validation rules, context and error masking as HTTP and SSE); a
 * document that fails to parse or validate is answered with an error for that operation only,
 * never by closing the socket and every other stream on it.
 */
export function attachWebSocketServer(options: WebSocketOptions) {
  const { yoga, authenticator, errors } = options;
  const wsServer = new WebSocketServer({ server: options.httpServer, path: '/graphql' });

  // Registered before graphql-ws's own listener, so every socket is wrapped before it sends.
  wsServer.on('connection', quietSendFailures);
  const refuse = (error: unknown) => [errors.mapRequestError(error)];
  /**
   * Connected sockets' contexts, to let their operations send `complete` before shutdown closes
   * them. The context, not `ctx.subscriptions`: graphql-ws swaps that object on close.
   */
  const connected = new Set<{ readonly subscriptions: Readonly<Record<string, unknown>> }>();

  const disposable = useServer<Record<string, unknown> | undefined, SocketExtra>(
    {
      connectionInitWaitTimeout: 10_000,
      onConnect: (ctx) => {
        try {
          ctx.extra.principal = authenticator.authenticate(
            credentialFromConnectionParams(ctx.connectionParams),
          );
          connected.add(ctx);
          return true;
        } catch (error) {
          if (isAppError(error) && error.code === 'UNAUTHENTICATED') {
            ctx.extra.socket.close(CloseCode.Unauthorized, 'Unauthorized');
          }
          return false; // 4403 Forbidden, unless already closed with 4401
        }
      },
      onSubscribe: async (ctx, _id, payload) => {
        // graphql-ws has already registered this operation: it counts itself.
        if (Object.keys(ctx.subscriptions).length > options.maxSubscriptionsPerSocket) {
          return [
            new GraphQLError(
              `At most ${options.maxSubscriptionsPerSocket} operations may run on one socket.`,
              { extensions: { code: 'BAD_USER_INPUT' } },
            ),
          ];
        }
        const { schema, execute, subscribe, contextFactory, parse, validate } = yoga.getEnveloped({
          ...ctx,
          req: ctx.extra.request,
          socket: ctx.extra.socket,
          params: payload,
          principal: ctx.extra.principal,
        });
        try {
          const document = parse(payload.query);
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
      },
      // graphql-ws resolves a send to a socket that is no longer open at once, so a replay to a
      // peer that left would run to its end without a pause: end the operation instead.
      onNext: (ctx, id) => {
        if (ctx.extra.socket.readyState !== ctx.extra.socket.OPEN) {
          const operation = ctx.subscriptions[id];
          if (operation && 'return' in operation) void operation.return(undefined);
        }
      },
      onClose: (ctx) => {
        connected.delete(ctx);
      },
      execute: (args) => (args.rootValue as EnvelopedRoot).execute(args) as never,
      subscribe: (args) => (args.rootValue as EnvelopedRoot).subscribe(args) as never,
    },
    wsServer,
  );

  return {
    wsServer,
    /**
     * Closes every socket with 1001 (Going Away), which graphql-ws clients retry elsewhere, once
     * its operations have sent their `complete` (or after `graceMs`): a client that saw its
     * MessageEnd but no `complete` would subscribe again and get the events twice.
     */
    close: async (graceMs: number) => {
      const deadline = Date.now() + graceMs;
      const busy = () => [...connected].some((ctx) => Object.keys(ctx.subscriptions).length > 0);
      while (busy() && Date.now() < deadline) await sleep(5);
      await disposable.dispose();
    },
  };
}

/**
 * A send to a peer that just went away fails (EPIPE); graphql-ws would print it with a stack
 * through console.error and close with 1011. The socket's own close event already ends its
 * operations, so the failed write is simply dropped.
 */
function quietSendFailures(socket: WebSocket): void {
  const send = socket.send.bind(socket) as (...args: unknown[]) => void;
  Object.assign(socket, {
    send: (...args: unknown[]) => {
      const callback = args.at(-1);
      if (typeof callback !== 'function') return send(...args);
      return send(...args.slice(0, -1), () => callback());
    },
  });
}
