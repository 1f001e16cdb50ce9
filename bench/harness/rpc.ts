/**
 * Request/response over the IPC channel of a forked child: every bench process (server under
 * test, baseline, fake upstream, load generator) is a child that serves a few named methods. The
 * method map's type is shared (type-only) with the parent, so calls are checked end to end.
 */

/**
 * Methods a child serves: one structured-clonable argument in, one out. (`never` accepts every
 * handler signature; the parent recovers the real parameter types from the child's own map.)
 */
export type Methods = Record<string, (params: never) => unknown>;

export interface CallMessage {
  kind: 'call';
  id: number;
  method: string;
  params: unknown;
}

export type ChildMessage =
  | { kind: 'ready'; info: unknown }
  | { kind: 'reply'; id: number; ok: true; value: unknown }
  | { kind: 'reply'; id: number; ok: false; error: string };

/**
 * Child side: answers calls with `handlers`, announces `info` (e.g. the port it listens on), and
 * exits when the parent goes away so no bench process outlives the run. `stop` is the one
 * method every child has: it runs the child's own cleanup, replies, then exits.
 */
export function serve(
  handlers: Methods & { stop?: () => unknown },
  info: Record<string, unknown> = {},
): void {
  // A reply to a parent that has gone is dropped: 'disconnect' below ends this process anyway,
  // and without the callback the failed send would be an uncaught 'error'.
  const send = (message: ChildMessage) => {
    if (process.connected) process.send?.(message, undefined, {}, () => {});
  };
  process.on('message', (message: CallMessage) => {
    if (message?.kind !== 'call') return;
    const handler = handlers[message.method];
    const stopping = message.method === 'stop';
    Promise.resolve()
      .then(() => {
        if (handler) return (handler as (params: unknown) => unknown)(message.params);
        if (stopping) return undefined;
        throw new Error(`unknown method ${message.method}`);
      })
      .then(
        (value) => send({ kind: 'reply', id: message.id, ok: true, value }),
        (error: unknown) =>
          send({
            kind: 'reply',
            id: message.id,
            ok: false,
            error: error instanceof Error ? (error.stack ?? error.message) : String(error),
          }),
      )
      .finally(() => {
        if (stopping) setImmediate(() => process.exit(0));
      });
  });
  process.on('disconnect', () => process.exit(0));
  send({ kind: 'ready', info });
}
