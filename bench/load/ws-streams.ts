import { serve } from '../harness/rpc.js';
import { SampleSet } from '../harness/stats.js';
import {
  connectClient,
  follow,
  type SocketClient,
  StreamCheck,
  type StreamSource,
} from '../harness/stream-client.js';

/**
 * Many graphql-ws sockets, one subscription each: the subscribers of the fanout scenario (which
 * collects every event) and the idle scenario (which only holds them open).
 */
export interface SubscribePlan {
  /** One source per subscription; subscription i uses socket i. */
  sources: StreamSource[];
  /** The text every stream must add up to. */
  expectedText: string;
  /** Deltas with a seq up to this are left out of the latency samples (warm-up). */
  warmupSeq: number;
}

export interface CollectResult {
  subscriptions: number;
  deltas: number;
  /** Delivered deltas' total text length, so coalesced deltas still count every token. */
  textChars: number;
  firstReceiptMs: number;
  lastReceiptMs: number;
  /** Receipt time minus the server's stamp (`at`), ms, per delta after the warm-up. */
  latenciesMs: Float64Array;
  /** Streams that were not whole (gap, repeat, wrong text, no end, error). */
  failed: number;
  firstFailure: string | undefined;
}

const sockets: SocketClient[] = [];
/** Sockets from this index on carry no subscription of the current batch yet. */
let nextFree = 0;
let checks: StreamCheck[] = [];
let failures: (string | undefined)[] = [];
let pendingStreams = 0;
let onAllDone: (() => void) | undefined;
let latencies = new SampleSet();
let deltas = 0;
let firstReceipt = Number.POSITIVE_INFINITY;
let lastReceipt = 0;

/** Opens `count` more sockets, `concurrency` handshakes at a time. */
async function connect(params: { url: string; count: number; concurrency: number }) {
  let failed = 0;
  let firstError: string | undefined;
  for (let opened = 0; opened < params.count; opened += params.concurrency) {
    const batch = Array.from({ length: Math.min(params.concurrency, params.count - opened) }, () =>
      connectClient(params.url),
    );
    const outcomes = await Promise.allSettled(batch.map((socket) => socket.connected));
    outcomes.forEach((outcome, index) => {
      if (outcome.status === 'fulfilled') sockets.push(batch[index]!);
      else {
        failed++;
        firstError ??= String(outcome.reason);
      }
    });
  }
  return { sockets: sockets.length, failed, firstError };
}

/**
 * Subscribes the next free sockets, one source each. Subscriptions made before the batch is
 * collected join it (the idle scenario grows its crowd in steps); `collect` frees the sockets.
 */
function subscribe(plan: SubscribePlan): number {
  if (nextFree === 0) {
    latencies = new SampleSet();
    deltas = 0;
    firstReceipt = Number.POSITIVE_INFINITY;
    lastReceipt = 0;
    checks = [];
    failures = [];
    pendingStreams = 0;
  }
  if (nextFree + plan.sources.length > sockets.length) {
    throw new Error(
      `only ${sockets.length - nextFree} free sockets for ${plan.sources.length} streams`,
    );
  }
  for (const source of plan.sources) {
    const index = checks.length;
    const socket = sockets[nextFree++]!;
    const check = new StreamCheck();
    checks.push(check);
    failures.push(undefined);
    pendingStreams++;
    follow(socket.client, source, {
      onEvent: (event, receivedAt) => {
        check.see(event);
        if (event.type !== 'delta') return;
        deltas++;
        if (receivedAt < firstReceipt) firstReceipt = receivedAt;
        if (receivedAt > lastReceipt) lastReceipt = receivedAt;
        if (event.seq > plan.warmupSeq) latencies.add(receivedAt - event.atMs);
      },
      onDone: (failure) => {
        failures[index] = failure ?? check.verdict(plan.expectedText);
        pendingStreams--;
        if (pendingStreams === 0) onAllDone?.();
      },
    });
  }
  return nextFree;
}

/** Waits for every stream to end (or `timeoutMs`), then reports what arrived. */
async function collect(params: { timeoutMs: number }): Promise<CollectResult> {
  if (pendingStreams > 0) {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, params.timeoutMs);
      onAllDone = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }
  onAllDone = undefined;
  nextFree = 0;
  const problems = checks.map(
    (check, index) => failures[index] ?? (check.ended ? undefined : 'timed out'),
  );
  return {
    subscriptions: checks.length,
    deltas,
    textChars: checks.reduce((sum, check) => sum + check.text.length, 0),
    firstReceiptMs: firstReceipt,
    lastReceiptMs: lastReceipt,
    latenciesMs: latencies.toArray(),
    failed: problems.filter((problem) => problem !== undefined).length,
    firstFailure: problems.find((problem) => problem !== undefined),
  };
}

async function closeAll(): Promise<void> {
  await Promise.all(sockets.map((socket) => socket.client.dispose()));
  sockets.length = 0;
  nextFree = 0;
}

const methods = { connect, subscribe, collect, closeAll, stop: closeAll };
export type WsStreamsMethods = typeof methods;
serve(methods);
