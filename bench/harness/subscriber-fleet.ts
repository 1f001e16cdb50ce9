import type { CollectResult, WsStreamsMethods } from '../load/ws-streams.js';
import type { Child } from './children.js';
import { pollUntil, sleep } from './clock.js';
import type { StreamSource } from './stream-client.js';
import type { ProbeMethods } from './target-probe.js';
import { startLoad } from './targets.js';

/**
 * graphql-ws subscribers spread over several load-generator processes (one Node process cannot
 * read tens of thousands of events a second and still time them fairly), driven as one.
 */
export interface FleetResult {
  subscriptions: number;
  deltas: number;
  textChars: number;
  /** Time from the first delta received to the last, over every process, ms. */
  spanMs: number;
  latencies: Float64Array[];
  failed: number;
  firstFailure: string | undefined;
}

export class SubscriberFleet {
  private readonly socketCounts: number[];
  /** Sockets of each process already subscribed in the current batch. */
  private readonly busyCounts: number[];

  private constructor(
    private readonly url: string,
    private readonly loads: Child<WsStreamsMethods>[],
  ) {
    this.socketCounts = loads.map(() => 0);
    this.busyCounts = loads.map(() => 0);
  }

  static async start(url: string, processes: number): Promise<SubscriberFleet> {
    const loads = await Promise.all(
      Array.from({ length: processes }, (_unused, index) =>
        startLoad<WsStreamsMethods>(`subscribers-${index}`, 'load/ws-streams.ts'),
      ),
    );
    return new SubscriberFleet(url, loads);
  }

  get sockets(): number {
    return this.socketCounts.reduce((sum, count) => sum + count, 0);
  }

  /** Opens `count` more sockets, split evenly over the processes. */
  async connect(count: number): Promise<void> {
    await Promise.all(
      this.loads.map(async (load, index) => {
        const share =
          Math.floor(count / this.loads.length) + (index < count % this.loads.length ? 1 : 0);
        const outcome = await load.call('connect', {
          url: this.url,
          count: share,
          concurrency: 50,
        });
        if (outcome.failed > 0) {
          throw new Error(`${outcome.failed} sockets failed to connect: ${outcome.firstError}`);
        }
        this.socketCounts[index] = outcome.sockets;
      }),
    );
  }

  /**
   * One subscription per free socket, dealt out over the processes in proportion to their free
   * sockets. Until `collect`, further calls add to the same batch.
   */
  async subscribe(sources: readonly StreamSource[], expectedText: string, warmupSeq: number) {
    const free = this.loads.map(
      (_load, index) => this.socketCounts[index]! - this.busyCounts[index]!,
    );
    const totalFree = free.reduce((sum, count) => sum + count, 0);
    if (sources.length > totalFree)
      throw new Error(`${sources.length} streams for ${totalFree} free sockets`);
    let offset = 0;
    await Promise.all(
      this.loads.map((load, index) => {
        const isLast = index === this.loads.length - 1;
        const count = isLast
          ? sources.length - offset
          : Math.round((sources.length * free[index]!) / totalFree);
        const share = sources.slice(offset, offset + count);
        offset += share.length;
        this.busyCounts[index]! += share.length;
        return load.call('subscribe', { sources: share, expectedText, warmupSeq });
      }),
    );
  }

  async collect(timeoutMs: number): Promise<FleetResult> {
    const results: CollectResult[] = await Promise.all(
      this.loads.map((load) => load.call('collect', { timeoutMs }, timeoutMs + 30_000)),
    );
    this.busyCounts.fill(0);
    const first = Math.min(...results.map((result) => result.firstReceiptMs));
    const last = Math.max(...results.map((result) => result.lastReceiptMs));
    return {
      subscriptions: results.reduce((sum, result) => sum + result.subscriptions, 0),
      deltas: results.reduce((sum, result) => sum + result.deltas, 0),
      textChars: results.reduce((sum, result) => sum + result.textChars, 0),
      spanMs: last - first,
      latencies: results.map((result) => result.latenciesMs),
      failed: results.reduce((sum, result) => sum + result.failed, 0),
      firstFailure: results.find((result) => result.firstFailure)?.firstFailure,
    };
  }

  async stop(): Promise<void> {
    await Promise.all(this.loads.map((load) => load.stop()));
  }
}

/**
 * Waits until the server reports `count` open subscriptions, then lets them settle for
 * `settleMs`.
 */
export async function waitForSubscriptions(
  server: Child<ProbeMethods>,
  count: number,
  timeoutMs = 20_000,
  settleMs = 500,
): Promise<void> {
  await pollOpenSubscriptions(server, (open) => open >= count, `${count} subscriptions`, timeoutMs);
  // Counted when the operation starts; its pub/sub subscription lands a moment later.
  await sleep(settleMs);
}

/**
 * Waits until the server has closed every subscription of the last batch: a client completes
 * on its last event, and the server counts that down a moment later, so a count taken before
 * then would mix two batches.
 */
export async function waitForNoSubscriptions(
  server: Child<ProbeMethods>,
  timeoutMs = 20_000,
): Promise<void> {
  await pollOpenSubscriptions(server, (open) => open === 0, 'no subscriptions', timeoutMs);
}

async function pollOpenSubscriptions(
  server: Child<ProbeMethods>,
  done: (open: number) => boolean,
  wanted: string,
  timeoutMs: number,
): Promise<void> {
  let open = 0;
  await pollUntil(
    async () => {
      open = (await server.call('counters')).openSubscriptions ?? 0;
      return done(open);
    },
    () => `server has ${open} open subscriptions, wanted ${wanted}`,
    timeoutMs,
    50,
  );
}
