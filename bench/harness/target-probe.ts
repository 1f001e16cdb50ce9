import { writeFile } from 'node:fs/promises';
import { Session } from 'node:inspector/promises';
import { Socket } from 'node:net';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { writeHeapSnapshot } from 'node:v8';
import { type ThreadCpu, threadCpu, threadCpuSince } from './thread-cpu.js';

/**
 * What every server process (ours and the baselines) reports about itself, measured from the
 * inside so no product endpoint is needed: memory, event-loop delay, CPU time and open handles
 * since the last reset.
 */
export interface ProcessStats {
  rssBytes: number;
  heapUsedBytes: number;
  heapTotalBytes: number;
  externalBytes: number;
  /** Event-loop delay since the last reset, in ms. */
  eventLoopDelay: { p50: number; p99: number; max: number };
  /** CPU time (user + system) since the last reset, in ms, and the wall time it spans. */
  cpuMs: number;
  /** The same CPU time split two ways: user and system, and by thread (see thread-cpu.ts). */
  cpuUserMs: number;
  cpuSystemMs: number;
  threadCpu: ThreadCpu | undefined;
  elapsedMs: number;
  /** Active libuv handles and requests by type (process.getActiveResourcesInfo). */
  handles: Record<string, number>;
  handleCount: number;
  /** Server-specific counters (open subscriptions ...). */
  counters: Record<string, number>;
}

export interface ProbeOptions {
  counters?: () => Record<string, number>;
}

const NS_PER_MS = 1e6;

/**
 * The local ports of this process's open TCP connections to `remotePort` (its Redis
 * connections), so the runner can tell this process's commands from everyone else's on a shared
 * Redis. Node has no public list of sockets: `_getActiveHandles` is the one there is.
 */
function localPortsTo(remotePort: number): number[] {
  const handles =
    (process as unknown as { _getActiveHandles?: () => unknown[] })._getActiveHandles?.() ?? [];
  return handles.flatMap((handle) =>
    handle instanceof Socket && handle.remotePort === remotePort && handle.localPort !== undefined
      ? [handle.localPort]
      : [],
  );
}

/** The RPC methods every server under measurement offers (see harness/targets.ts). */
export function probeMethods(options: ProbeOptions = {}) {
  const delay = monitorEventLoopDelay({ resolution: 5 });
  delay.enable();
  let cpuMark = process.cpuUsage();
  let threadMark = threadCpu();
  let timeMark = performance.now();
  let profiler: Session | undefined;

  const counters = (): Record<string, number> => options.counters?.() ?? {};

  const stats = (): ProcessStats => {
    const memory = process.memoryUsage();
    const cpu = process.cpuUsage(cpuMark);
    const handles: Record<string, number> = {};
    for (const type of process.getActiveResourcesInfo()) handles[type] = (handles[type] ?? 0) + 1;
    return {
      rssBytes: memory.rss,
      heapUsedBytes: memory.heapUsed,
      heapTotalBytes: memory.heapTotal,
      externalBytes: memory.external,
      eventLoopDelay: {
        p50: delay.percentile(50) / NS_PER_MS,
        p99: delay.percentile(99) / NS_PER_MS,
        max: delay.max / NS_PER_MS,
      },
      cpuMs: (cpu.user + cpu.system) / 1000,
      cpuUserMs: cpu.user / 1000,
      cpuSystemMs: cpu.system / 1000,
      threadCpu: threadCpuSince(threadCpu(), threadMark),
      elapsedMs: performance.now() - timeMark,
      handles,
      handleCount: Object.values(handles).reduce((sum, count) => sum + count, 0),
      counters: counters(),
    };
  };

  return {
    stats,
    /**
     * The counters alone, for the runner's polls (every 50 ms, some inside measured windows):
     * stats also reads memory and every thread's CPU, which a poll has no use for.
     */
    counters,
    resetStats: () => {
      delay.reset();
      cpuMark = process.cpuUsage();
      threadMark = threadCpu();
      timeMark = performance.now();
    },
    localPortsTo,
    /** Full collections (needs --expose-gc), so memory figures hold live data, not garbage. */
    collectGarbage: () => {
      const gc = (globalThis as { gc?: () => void }).gc;
      if (!gc) throw new Error('start the process with --expose-gc');
      gc();
      gc();
    },
    /**
     * A heap snapshot after full collections, written to `path` (bench/heap-diff.ts compares two
     * of them). It stops the process for seconds: never inside a measured window.
     */
    heapSnapshot: (path: string) => {
      const gc = (globalThis as { gc?: () => void }).gc;
      gc?.();
      gc?.();
      return writeHeapSnapshot(path);
    },
    /** Samples CPU from now until `profileStop` (a narrower window than --cpu-prof's whole life). */
    profileStart: async () => {
      profiler = new Session();
      profiler.connect();
      await profiler.post('Profiler.enable');
      await profiler.post('Profiler.setSamplingInterval', { interval: 250 });
      await profiler.post('Profiler.start');
    },
    profileStop: async (path: string) => {
      if (!profiler) return;
      const { profile } = await profiler.post('Profiler.stop');
      profiler.disconnect();
      profiler = undefined;
      await writeFile(path, JSON.stringify(profile));
    },
  };
}

export type ProbeMethods = ReturnType<typeof probeMethods>;
