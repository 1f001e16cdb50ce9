import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

/**
 * Reads a .cpuprofile written by `npm run bench -- <scenario> --profile` and prints where the
 * time went: self time by area (our src/ files, each package, Node internals, GC) and by
 * function, and inclusive time of our own functions.
 *
 *   npx tsx bench/profile-summary.ts bench/results/fanout-redis-parley-paced.cpuprofile [--top=25]
 */
interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}

interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** Where a frame's code lives: `src/<file>`, a package, Node itself, or a V8 pseudo-frame. */
function areaOf(frame: CallFrame): string {
  const { url, functionName } = frame;
  if (!url) return functionName.startsWith('(') ? functionName : '(native)';
  if (url.startsWith('node:')) return 'node internals';
  const ours = /\/(src|bench|tests)\/(.+)$/.exec(url);
  if (ours && !url.includes('node_modules')) return `${ours[1]}/${ours[2]}`;
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  return pkg ? (pkg[1] ?? url) : url;
}

function describe(frame: CallFrame): string {
  return `${frame.functionName || '(anonymous)'} ${areaOf(frame)}:${frame.lineNumber + 1}`;
}

function top(totals: Map<string, number>, count: number, totalMs: number): string[] {
  return [...totals]
    .sort((a, b) => b[1] - a[1])
    .slice(0, count)
    .map(
      ([name, ms]) =>
        `${ms.toFixed(0).padStart(8)} ms ${((ms / totalMs) * 100).toFixed(1).padStart(5)}%  ${name}`,
    );
}

function summarizeProfile(path: string, count: number): string {
  const profile = JSON.parse(readFileSync(path, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const parentOf = new Map<number, number>();
  for (const node of profile.nodes)
    for (const child of node.children ?? []) parentOf.set(child, node.id);

  const selfByArea = new Map<string, number>();
  const selfByFunction = new Map<string, number>();
  const inclusiveOurs = new Map<string, number>();
  let totalMs = 0;
  let idleMs = 0;
  profile.samples.forEach((nodeId, index) => {
    const ms = (profile.timeDeltas[index] ?? 0) / 1000;
    const node = byId.get(nodeId);
    if (!node) return;
    if (node.callFrame.functionName === '(idle)') {
      idleMs += ms;
      return;
    }
    totalMs += ms;
    const area = areaOf(node.callFrame);
    selfByArea.set(area, (selfByArea.get(area) ?? 0) + ms);
    const name = describe(node.callFrame);
    selfByFunction.set(name, (selfByFunction.get(name) ?? 0) + ms);
    const seen = new Set<string>();
    for (let id: number | undefined = nodeId; id !== undefined; id = parentOf.get(id)) {
      const frame = byId.get(id)?.callFrame;
      if (!frame || !areaOf(frame).startsWith('src/')) continue;
      const ours = describe(frame);
      if (seen.has(ours)) continue;
      seen.add(ours);
      inclusiveOurs.set(ours, (inclusiveOurs.get(ours) ?? 0) + ms);
    }
  });
  return [
    `${path}: ${totalMs.toFixed(0)} ms on CPU, ${idleMs.toFixed(0)} ms idle`,
    '',
    'self time by area:',
    ...top(selfByArea, count, totalMs),
    '',
    'self time by function:',
    ...top(selfByFunction, count, totalMs),
    '',
    'inclusive time of src/ functions:',
    ...top(inclusiveOurs, count, totalMs),
  ].join('\n');
}

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { top: { type: 'string', default: '25' } },
});
if (positionals.length === 0) {
  process.stderr.write('usage: tsx bench/profile-summary.ts <file.cpuprofile>… [--top=N]\n');
  process.exit(1);
}
for (const path of positionals)
  process.stdout.write(`${summarizeProfile(path, Number(values.top))}\n\n`);
