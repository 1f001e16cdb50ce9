import { Redis } from 'ioredis';
import { sleep } from './clock.js';

/**
 * How many commands one process sends Redis over a window. The bench's Redis is shared (other
 * runs, tests), so the server-wide `total_commands_processed` counts everyone's commands: the
 * figure comes from MONITOR instead, counting only lines whose client address is one of the
 * process's own connections (its local ports, from the probe's `localPortsTo`). Commands a Lua
 * script runs are not counted (MONITOR shows them as `lua`, not under the caller's address):
 * the figure is round trips, each EVAL/EVALSHA once. The server-wide delta is kept beside it.
 */
export interface CommandCount {
  windowMs: number;
  /** The process's commands over the window. */
  commands: number;
  /** The same by command name (lower case), to see which of them an idle server still sends. */
  byName: Record<string, number>;
  /** The process's connections the window saw (local ports, before and after). */
  connections: number;
  /** Every client's commands on the whole server over the window, less this counter's own. */
  serverWide: number;
  /** Commands scripts ran during the window, on the whole server (not attributable). */
  scriptedServerWide: number;
}

const totalProcessed = async (redis: Redis): Promise<number> =>
  Number(/total_commands_processed:(\d+)/.exec(await redis.info('stats'))?.[1] ?? Number.NaN);

/** The port of a MONITOR source (`127.0.0.1:51234`, `[::1]:51234`); undefined for `lua` etc. */
function portOf(source: string): number | undefined {
  const match = /:(\d+)$/.exec(source);
  return match ? Number(match[1]) : undefined;
}

/**
 * Watches Redis for `windowMs` and counts the commands sent from the connections `ports` lists
 * (asked before and after the window, since a connection may be replaced in between).
 */
export async function countCommands(
  redisUrl: string,
  ports: () => Promise<readonly number[]>,
  windowMs: number,
): Promise<CommandCount> {
  const info = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 });
  info.on('error', () => {});
  await info.connect();
  // Every source's count by command: the process's ports are only known for sure at the end.
  const bySource = new Map<string, Map<string, number>>();
  let scripted = 0;
  let counting = true;
  try {
    const before = await ports();
    const monitor = await info.monitor();
    monitor.on('error', () => {});
    try {
      monitor.on('monitor', (_time: string, args: string[], source: string) => {
        if (!counting) return;
        if (source === 'lua') {
          scripted++;
          return;
        }
        const name = String(args[0] ?? '').toLowerCase();
        let counts = bySource.get(source);
        if (!counts) {
          counts = new Map();
          bySource.set(source, counts);
        }
        counts.set(name, (counts.get(name) ?? 0) + 1);
      });
      const start = await totalProcessed(info);
      await sleep(windowMs);
      counting = false;
      const end = await totalProcessed(info);
      const own = new Set([...before, ...(await ports())]);
      const byName: Record<string, number> = {};
      let commands = 0;
      for (const [source, counts] of bySource) {
        const port = portOf(source);
        if (port === undefined || !own.has(port)) continue;
        for (const [name, count] of counts) {
          byName[name] = (byName[name] ?? 0) + count;
          commands += count;
        }
      }
      return {
        windowMs,
        commands,
        byName,
        connections: own.size,
        // The first INFO is counted in the second's figure.
        serverWide: end - start - 1,
        scriptedServerWide: scripted,
      };
    } finally {
      monitor.disconnect();
    }
  } finally {
    info.disconnect();
  }
}
