import type { Child } from './children.js';
import type { ProbeMethods, ProcessStats } from './target-probe.js';

/** A server's memory at one moment. */
type Memory = Pick<ProcessStats, 'rssBytes' | 'heapUsedBytes' | 'heapTotalBytes'>;

/**
 * What a crowd of idle clients costs a server: its memory once it has settled (after the quiet
 * window and two more full collections: the figures), then the CPU it spent over that window
 * (the idle and scale scenarios).
 */
export interface Footprint extends Memory {
  clients: number;
  /**
   * The same right after the crowd arrived (two full collections, no wait). V8 still holds the
   * pages the arrival's garbage grew the heap to: Parley's RSS on Redis at 10,000 sockets was
   * 424 MB in one run and 562 MB in the next with about the same live heap (225 and 230 MB),
   * 125 MB of it committed and unused, and 430-458 MB a quiet window later. Kept to show it.
   */
  atArrival: Memory;
  /** CPU the server spent during the quiet window, as a share of one core. */
  idleCpuShare: number;
}

const memoryOf = (stats: Memory): Memory => ({
  rssBytes: stats.rssBytes,
  heapUsedBytes: stats.heapUsedBytes,
  heapTotalBytes: stats.heapTotalBytes,
});

/**
 * Memory after two full collections, then CPU while `quiet` runs (a wait: `sleep(ms)`, or
 * something watching another side of the server over exactly the same window, whose result comes
 * back with the footprint), then memory again after two more: the same rule for Parley and for
 * the bare stack.
 */
export async function footprint<T>(
  server: Child<ProbeMethods>,
  clients: number,
  quiet: () => Promise<T>,
): Promise<{ footprint: Footprint; during: T }> {
  await server.call('collectGarbage');
  const atArrival = memoryOf(await server.call('stats'));
  await server.call('resetStats');
  const during = await quiet();
  const idle = await server.call('stats');
  await server.call('collectGarbage');
  const settled = memoryOf(await server.call('stats'));
  return {
    footprint: { clients, ...settled, atArrival, idleCpuShare: idle.cpuMs / idle.elapsedMs },
    during,
  };
}

/** The cost of one connection at `clients`: the growth over the empty server, divided. */
export function perConnection(footprints: readonly Footprint[], clients: number) {
  const none = footprints.find((footprint) => footprint.clients === 0);
  const crowd = footprints.find((footprint) => footprint.clients === clients);
  if (!none || !crowd) throw new Error(`no footprint at 0 and at ${clients} clients`);
  return {
    rss: (crowd.rssBytes - none.rssBytes) / clients,
    heap: (crowd.heapUsedBytes - none.heapUsedBytes) / clients,
    idleCpuPercent: crowd.idleCpuShare * 100,
  };
}
