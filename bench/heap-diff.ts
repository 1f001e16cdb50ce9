import { readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { stopAllChildren } from './harness/children.js';
import { startHeldAnswers } from './harness/parley-api.js';
import type { StreamSource } from './harness/stream-client.js';
import { SubscriberFleet, waitForSubscriptions } from './harness/subscriber-fleet.js';
import type { ProbeMethods } from './harness/target-probe.js';
import {
  type BackendKind,
  type ServerTarget,
  startBareWs,
  startParley,
  startUpstream,
} from './harness/targets.js';

/**
 * What one idle subscribed socket keeps alive, by constructor: the scale scenario's crowd (each
 * socket one subscription to a held stream) at N and at 2N, a heap snapshot of the server at
 * each, and the difference per socket. Snapshots count objects, not load, so one run tells.
 *
 *   npx tsx bench/heap-diff.ts [--backend=memory|redis] [--target=parley|bare] [--count=1000]
 *     [--top=40]
 *
 * Not a scenario (it takes no part in `npm run bench`): a tool to decide what to cut.
 */
const { values } = parseArgs({
  options: {
    backend: { type: 'string', default: 'memory' },
    target: { type: 'string', default: 'parley' },
    count: { type: 'string', default: '1000' },
    top: { type: 'string', default: '40' },
    /** Keeps the two snapshots (their paths are printed) for bench/heap-retainers.ts. */
    keep: { type: 'boolean', default: false },
  },
});
const backend = values.backend as BackendKind;
const count = Number(values.count);
const top = Number(values.top);
const STREAMS = 100;
const redisUrl = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';

interface Snapshot {
  snapshot: { meta: { node_fields: string[]; node_types: [string[]] } };
  nodes: number[];
  strings: string[];
}

/** Self size and count per "type:name" (name is the constructor for objects). */
async function tally(path: string): Promise<Map<string, { count: number; bytes: number }>> {
  const data = JSON.parse(await readFile(path, 'utf8')) as Snapshot;
  const fields = data.snapshot.meta.node_fields;
  const types = data.snapshot.meta.node_types[0];
  const width = fields.length;
  const typeAt = fields.indexOf('type');
  const nameAt = fields.indexOf('name');
  const sizeAt = fields.indexOf('self_size');
  const totals = new Map<string, { count: number; bytes: number }>();
  for (let node = 0; node < data.nodes.length; node += width) {
    const type = types[data.nodes[node + typeAt]!]!;
    let name = data.strings[data.nodes[node + nameAt]!]!;
    // Strings and code are named by their contents: group them by type alone.
    if (type === 'string' || type === 'concatenated string' || type === 'sliced string') name = '';
    if (type === 'code' || type === 'number' || type === 'hidden') name = name.slice(0, 40);
    if (type === 'closure') name = `${name}()`;
    const key = `${type}:${name}`;
    const entry = totals.get(key) ?? { count: 0, bytes: 0 };
    entry.count++;
    entry.bytes += data.nodes[node + sizeAt]!;
    totals.set(key, entry);
  }
  return totals;
}

async function sources(target: ServerTarget<ProbeMethods>): Promise<StreamSource[]> {
  if (values.target === 'bare') {
    return Array.from(
      { length: STREAMS },
      (_unused, index): StreamSource => ({ kind: 'bare', streamId: `heap-${index}` }),
    );
  }
  const ids = await startHeldAnswers(target.httpUrl, STREAMS, 'heap');
  return ids.map((messageId): StreamSource => ({ kind: 'parley', messageId }));
}

const upstream = await startUpstream();
const options = { backend, redisUrl, upstreamBaseURL: upstream.baseURL };
const target: ServerTarget<ProbeMethods> =
  values.target === 'bare' ? await startBareWs(options) : await startParley(options);
const paths = [1, 2].map((step) => join(tmpdir(), `heap-diff-${process.pid}-${step}.heapsnapshot`));
const fleet = await SubscriberFleet.start(target.wsUrl, 2);
try {
  const streams = await sources(target);
  for (const [step, path] of paths.entries()) {
    await fleet.connect(count);
    await fleet.subscribe(
      Array.from({ length: count }, (_unused, index) => streams[index % streams.length]!),
      '',
      0,
    );
    await waitForSubscriptions(target.child, count * (step + 1), 60_000, 1_000);
    await target.child.call('heapSnapshot', path, 300_000);
  }
  const [before, after] = await Promise.all(paths.map(tally));
  const rows = [...after!.entries()].map(([key, entry]) => {
    const old = before!.get(key) ?? { count: 0, bytes: 0 };
    return {
      key,
      count: (entry.count - old.count) / count,
      bytes: (entry.bytes - old.bytes) / count,
    };
  });
  rows.sort((a, b) => b.bytes - a.bytes);
  const total = rows.reduce((sum, row) => sum + row.bytes, 0);
  console.log(
    `${values.target} on ${backend}: ${total.toFixed(0)} bytes per subscribed socket (self sizes, ${count} → ${2 * count})`,
  );
  console.log('bytes/socket  objects/socket  type:name');
  for (const row of rows.slice(0, top)) {
    console.log(
      `${row.bytes.toFixed(1).padStart(12)}  ${row.count.toFixed(2).padStart(14)}  ${row.key}`,
    );
  }
} finally {
  await fleet.stop();
  await upstream.child.call('release').catch(() => {});
  await target.stop();
  await upstream.child.stop();
  if (values.keep) console.log(`snapshots: ${paths.join(' ')}`);
  else await Promise.all(paths.map((path) => rm(path, { force: true })));
  await stopAllChildren();
}
