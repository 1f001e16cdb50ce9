import { Socket } from 'node:net';

type SocketWrite = (this: Socket, ...args: unknown[]) => unknown;

/**
 * Counts the writes handed to the kernel (net.Socket's `_write` and `_writev`, one syscall each)
 * on the sockets `counted` picks while `run` runs.
 */
export async function countSocketWrites(
  counted: (socket: Socket) => boolean,
  run: () => Promise<unknown>,
): Promise<number> {
  const prototype = Socket.prototype as unknown as Record<'_write' | '_writev', SocketWrite>;
  const originals = { _write: prototype._write, _writev: prototype._writev };
  let writes = 0;
  for (const name of ['_write', '_writev'] as const) {
    const original = originals[name];
    prototype[name] = function (this: Socket, ...args: unknown[]) {
      if (counted(this)) writes++;
      return original.apply(this, args);
    };
  }
  try {
    await run();
  } finally {
    Object.assign(prototype, originals);
  }
  return writes;
}
