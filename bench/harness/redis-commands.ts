import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
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

/**
 * Commands the whole Redis server ran between `start()` and the `stop()` it returns, those that
 * scripts ran included: no MONITOR, so nothing is added to what is measured. Only meaningful
 * while nothing else uses the server.
 */
export async function serverCommands(redisUrl: string): Promise<() => Promise<number>> {
  const info = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 });
  info.on('error', () => {});
  await info.connect();
  const start = await totalProcessed(info);
  return async () => {
    try {
      // Less the INFO that read the start (the one reading the end is counted after it).
      return (await totalProcessed(info)) - start - 1;
    } finally {
      info.disconnect();
    }
  };
}

/** The port of a MONITOR source (`127.0.0.1:51234`, `[::1]:51234`); undefined for `lua` etc. */
function portOf(source: string): number | undefined {
  const match = /:(\d+)$/.exec(source);
  return match ? Number(match[1]) : undefined;
}

/** `+<time> [<db> <client address>] "<command>" …` (MONITOR escapes CR and LF inside values). */
const MONITOR_LINE = /^\+\d+\.\d+ \[\d+ ([^\]]+)\] "([^"]*)"/;

/**
 * MONITOR on a plain socket of its own, calling `onLine(source, command)` for every command Redis
 * runs. Not ioredis's `monitor()`: on a busy server the first lines can arrive before it has
 * switched the connection to monitor mode, and it fails with "Command queue state error".
 */
async function startMonitor(
  redisUrl: string,
  onLine: (source: string, command: string) => void,
): Promise<Socket> {
  const url = new URL(redisUrl);
  if (url.protocol !== 'redis:')
    throw new Error(`MONITOR needs a redis:// URL, not ${url.protocol}`);
  const socket = connect(Number(url.port || 6379), url.hostname);
  socket.on('error', () => {});
  await once(socket, 'connect');
  const auth = url.password
    ? `AUTH ${decodeURIComponent(url.username || 'default')} ${decodeURIComponent(url.password)}\r\n`
    : '';
  socket.write(`${auth}MONITOR\r\n`);
  let rest = '';
  let okToGo = auth ? 2 : 1;
  let monitoring: (error?: Error) => void = () => {};
  const started = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => monitoring(new Error('MONITOR did not start in 5 s')), 5_000);
    monitoring = (error) => {
      clearTimeout(timer);
      monitoring = () => {};
      if (error) reject(error);
      else resolve();
    };
  });
  socket.setEncoding('utf8');
  socket.on('close', () => monitoring(new Error('the MONITOR connection closed')));
  socket.on('data', (chunk: string) => {
    const lines = (rest + chunk).split('\r\n');
    rest = lines.pop() ?? '';
    for (const line of lines) {
      if (line.startsWith('-')) {
        monitoring(new Error(`MONITOR refused: ${line.slice(1, 200)}`));
        socket.destroy();
        return;
      }
      // AUTH's and MONITOR's own +OK: from MONITOR's on, every command is a line.
      if (line === '+OK' && okToGo > 0) {
        okToGo--;
        if (okToGo === 0) monitoring();
        continue;
      }
      const match = MONITOR_LINE.exec(line);
      if (match) onLine(match[1]!, match[2]!.toLowerCase());
    }
  });
  try {
    await started;
  } catch (error) {
    socket.destroy();
    throw error;
  }
  return socket;
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
  let monitor: Socket | undefined;
  try {
    const before = await ports();
    monitor = await startMonitor(redisUrl, (source, name) => {
      if (!counting) return;
      if (source === 'lua') {
        scripted++;
        return;
      }
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
    if (monitor.destroyed) throw new Error('the MONITOR connection closed during the window');
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
    monitor?.destroy();
    info.disconnect();
  }
}
