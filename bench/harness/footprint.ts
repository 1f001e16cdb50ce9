import type { Child } from './children.js';
import type { ProbeMethods } from './target-probe.js';

/**
 * What a crowd of idle clients costs a server: its memory after full collections, then the CPU
 * it spends over a quiet window (the idle and scale scenarios).
 */
export interface Footprint {
  clients: number;
  rssBytes: number;
  heapUsedBytes: number;
  /** CPU the server spent during the quiet window, as a share of one core. */
  idleCpuShare: number;
}

/**
 * Memory after two full collections, then CPU while `quiet` runs (a wait: `sleep(ms)`, or
 * something watching another side of the server over exactly the same window, whose result comes
 * back with the footprint).
 */
export async function footprint<T>(
  server: Child<ProbeMethods>,
  clients: number,
  quiet: () => Promise<T>,
): Promise<{ footprint: Footprint; during: T }> {
  await server.call('collectGarbage');
  const memory = await server.call('stats');
  await server.call('resetStats');
  const during = await quiet();
  const idle = await server.call('stats');
  return {
    footprint: {
      clients,
      rssBytes: memory.rssBytes,
      heapUsedBytes: memory.heapUsedBytes,
      idleCpuShare: idle.cpuMs / idle.elapsedMs,
    },
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
