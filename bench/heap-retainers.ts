import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';

/**
 * Who holds the objects a heap snapshot gained over an earlier one of the same process (node ids
 * are stable within a process): for the new nodes of one `type:name` (as bench/heap-diff.ts
 * prints them), a histogram of their retainer chains, `depth` links up, by bytes. Closures are
 * named by where they were defined (script:line), so anonymous arrows can be told apart.
 *
 *   npx tsx bench/heap-retainers.ts <before.heapsnapshot> <after.heapsnapshot> \
 *     --key='array:(object properties)' [--depth=2] [--top=30] [--per=1000]
 */
const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    key: { type: 'string' },
    depth: { type: 'string', default: '2' },
    top: { type: 'string', default: '30' },
    /** Divides bytes and counts (the number of sockets the later snapshot added). */
    per: { type: 'string', default: '1' },
    /**
     * Instead of chains: each new node (of `key`, or all) counted under its nearest named holder
     * (a closure with a location, or an object of a named class), up to `depth` links up.
     */
    owner: { type: 'boolean', default: false },
  },
});
const [beforePath, afterPath] = positionals;
if (!beforePath || !afterPath) throw new Error('usage: heap-retainers.ts <before> <after> --key=');

interface Raw {
  snapshot: {
    meta: {
      node_fields: string[];
      node_types: [string[]];
      edge_fields: string[];
      edge_types: [string[]];
      location_fields: string[];
    };
  };
  nodes: number[];
  edges: number[];
  locations: number[];
  strings: string[];
}

const load = async (path: string) => JSON.parse(await readFile(path, 'utf8')) as Raw;

const before = await load(beforePath);
const knownIds = new Set<number>();
{
  const width = before.snapshot.meta.node_fields.length;
  const idAt = before.snapshot.meta.node_fields.indexOf('id');
  for (let node = 0; node < before.nodes.length; node += width)
    knownIds.add(before.nodes[node + idAt]!);
}
const raw = await load(afterPath);
const meta = raw.snapshot.meta;
const nodeWidth = meta.node_fields.length;
const edgeWidth = meta.edge_fields.length;
const nodeTypes = meta.node_types[0];
const edgeTypes = meta.edge_types[0];
const [typeAt, nameAt, idAt, sizeAt, edgeCountAt] = [
  'type',
  'name',
  'id',
  'self_size',
  'edge_count',
].map((field) => meta.node_fields.indexOf(field)) as [number, number, number, number, number];
const nodeCount = raw.nodes.length / nodeWidth;

// Where each closure was defined: script id, line and column.
const locationOf = new Map<number, { script: number; line: number; column: number }>();
for (let at = 0; at < raw.locations.length; at += meta.location_fields.length) {
  locationOf.set(raw.locations[at]! / nodeWidth, {
    script: raw.locations[at + 1]!,
    line: raw.locations[at + 2]! + 1,
    column: raw.locations[at + 3]! + 1,
  });
}

const firstEdge = new Uint32Array(nodeCount + 1);
for (let node = 0, edge = 0; node < nodeCount; node++) {
  firstEdge[node] = edge;
  edge += raw.nodes[node * nodeWidth + edgeCountAt]!;
}
firstEdge[nodeCount] = raw.edges.length / edgeWidth;

// Reverse edges, without weak ones: the first strong retainer of each node.
const retainerCount = new Uint32Array(nodeCount + 1);
for (let edge = 0; edge < raw.edges.length; edge += edgeWidth) {
  if (edgeTypes[raw.edges[edge]!] === 'weak') continue;
  retainerCount[raw.edges[edge + 2]! / nodeWidth]!++;
}
const retainerStart = new Uint32Array(nodeCount + 1);
for (let node = 0; node < nodeCount; node++)
  retainerStart[node + 1] = retainerStart[node]! + retainerCount[node]!;
const retainers = new Uint32Array(retainerStart[nodeCount]!);
const retainerEdges = new Uint32Array(retainerStart[nodeCount]!);
const filled = new Uint32Array(nodeCount);
/** The slot of `node`'s first retainer that is not a system object, or of its first one. */
function retainerSlotOf(node: number): number {
  for (let slot = retainerStart[node]!; slot < retainerStart[node + 1]!; slot++) {
    if (!keyOf(retainers[slot]!).startsWith('hidden:')) return slot;
  }
  return retainerStart[node]!;
}

for (let node = 0; node < nodeCount; node++) {
  for (let edge = firstEdge[node]!; edge < firstEdge[node + 1]!; edge++) {
    const at = edge * edgeWidth;
    if (edgeTypes[raw.edges[at]!] === 'weak') continue;
    const to = raw.edges[at + 2]! / nodeWidth;
    const slot = retainerStart[to]! + filled[to]!++;
    retainers[slot] = node;
    retainerEdges[slot] = edge;
  }
}

const typeOf = (node: number) => nodeTypes[raw.nodes[node * nodeWidth + typeAt]!]!;
const rawName = (node: number) => raw.strings[raw.nodes[node * nodeWidth + nameAt]!]!;
function keyOf(node: number): string {
  const type = typeOf(node);
  let name = rawName(node);
  if (type === 'string' || type === 'concatenated string' || type === 'sliced string') name = '';
  if (type === 'code' || type === 'number' || type === 'hidden') name = name.slice(0, 40);
  if (type === 'closure') name = `${name}()`;
  return `${type}:${name}`;
}

// Script ids to names: a closure's `shared` edge leads to its SharedFunctionInfo, whose
// `script_or_debug_info` edge leads to a Script node named by the file's URL.
const scriptNames = new Map<number, string>();
function edgeTo(node: number, name: string): number | undefined {
  for (let edge = firstEdge[node]!; edge < firstEdge[node + 1]!; edge++) {
    const at = edge * edgeWidth;
    const type = edgeTypes[raw.edges[at]!];
    const label = type === 'element' || type === 'hidden' ? '' : raw.strings[raw.edges[at + 1]!];
    if (label === name) return raw.edges[at + 2]! / nodeWidth;
  }
  return undefined;
}
function scriptName(closure: number, scriptId: number): string {
  const known = scriptNames.get(scriptId);
  if (known !== undefined) return known;
  const shared = edgeTo(closure, 'shared');
  const script = shared === undefined ? undefined : edgeTo(shared, 'script_or_debug_info');
  const text = script === undefined ? `script ${scriptId}` : rawName(script);
  const short = text
    .replace(/^file:\/\//, '')
    .replace(/.*\/node_modules\//, '')
    .replace(/.*\/(src|bench)\//, '$1/');
  scriptNames.set(scriptId, short);
  return short;
}
function describe(node: number): string {
  const key = keyOf(node);
  const location = locationOf.get(node);
  if (typeOf(node) !== 'closure' || !location) return key;
  // tsx's output of a file is one line: the column tells its closures apart.
  return `${key}@${scriptName(node, location.script)}:${location.line}:${location.column}`;
}
function edgeLabel(edge: number): string {
  const at = edge * edgeWidth;
  const type = edgeTypes[raw.edges[at]!]!;
  const nameOrIndex = raw.edges[at + 1]!;
  if (type === 'element' || type === 'hidden') return `[${nameOrIndex}]`;
  return `.${raw.strings[nameOrIndex]}`;
}

const ANONYMOUS = new Set([
  'object:Object',
  'object:Array',
  'object:system / Context',
  'closure:()',
]);
const isNamedHolder = (node: number) => {
  const type = typeOf(node);
  if (type === 'closure') return locationOf.has(node);
  if (type !== 'object') return false;
  return !ANONYMOUS.has(keyOf(node)) && knownIds.has(raw.nodes[node * nodeWidth + idAt]!) === false;
};

const depth = Number(values.depth);
const per = Number(values.per);
const chains = new Map<string, { count: number; bytes: number }>();
let matched = 0;
const countUnder = (chain: string, node: number) => {
  const entry = chains.get(chain) ?? { count: 0, bytes: 0 };
  entry.count++;
  entry.bytes += raw.nodes[node * nodeWidth + sizeAt]!;
  chains.set(chain, entry);
};
for (let node = 0; node < nodeCount; node++) {
  if (knownIds.has(raw.nodes[node * nodeWidth + idAt]!)) continue;
  if (values.key && keyOf(node) !== values.key && describe(node) !== values.key) continue;
  matched++;
  if (values.owner) {
    let at = node;
    let holder = isNamedHolder(node) ? describe(node) : undefined;
    for (let level = 0; level < depth && holder === undefined; level++) {
      if (retainerCount[at] === 0) break;
      at = retainers[retainerSlotOf(at)]!;
      if (isNamedHolder(at)) holder = describe(at);
    }
    countUnder(holder ?? `(no named holder) ${describe(node)}`, node);
    continue;
  }
  const parts = [describe(node)];
  let at = node;
  for (let level = 0; level < depth; level++) {
    if (retainerCount[at] === 0) break;
    const pick = retainerSlotOf(at);
    parts.push(`${edgeLabel(retainerEdges[pick]!)} of ${describe(retainers[pick]!)}`);
    at = retainers[pick]!;
  }
  countUnder(parts.join('  <-  '), node);
}
const rows = [...chains.entries()].sort((a, b) => b[1].bytes - a[1].bytes);
console.log(`${matched} new nodes${values.key ? ` of ${values.key}` : ''}`);
for (const [chain, entry] of rows.slice(0, Number(values.top))) {
  console.log(
    `${(entry.bytes / per).toFixed(1).padStart(10)} B ${(entry.count / per).toFixed(2).padStart(7)}x  ${chain}`,
  );
}
