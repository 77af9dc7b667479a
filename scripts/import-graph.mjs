// The import graph of src/ (value and type imports alike: a type import still ties
// two modules' layouts together), its cycles, and imports that go up the room order.
// Used by test/docs.test.ts (CI) and runnable by hand:
//   node scripts/import-graph.mjs        prints cycles and upward imports, exit 1 if any
import { readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';

/** Rooms of src/ from the bottom up: a room may import only from rooms before it (and itself). */
export const ROOM_ORDER = ['common', 'wire', 'io', 'esp', 'engine', 'gateway', 'config', 'reference', 'replay', 'page', 'ike', 'tun', 'cli', 'index.ts'];

function walk(dir) {
  return readdirSync(dir).flatMap((name) => {
    const p = path.join(dir, name);
    return statSync(p).isDirectory() ? walk(p) : p.endsWith('.ts') ? [p] : [];
  });
}

const SPEC = /(?:^|\n)\s*(?:import|export)\b[^'"]*?\bfrom\s*['"](\.{1,2}\/[^'"]+)['"]|\bimport\s*\(\s*['"](\.{1,2}\/[^'"]+)['"]\s*\)/g;

/** Map from each src/ module (repo-relative .ts path) to the src/ modules it imports. */
export function importGraph(root) {
  const graph = new Map();
  for (const file of walk(path.join(root, 'src'))) {
    const rel = path.relative(root, file);
    const text = readFileSync(file, 'utf8');
    const deps = new Set();
    for (const m of text.matchAll(SPEC)) {
      const spec = m[1] ?? m[2];
      const target = path.normalize(path.join(path.dirname(rel), spec)).replace(/\.js$/, '.ts');
      if (target.startsWith('src' + path.sep)) deps.add(target);
    }
    graph.set(rel, [...deps].sort());
  }
  return graph;
}

/** Every elementary cycle found by a depth-first search, each as a list of modules. */
export function findCycles(graph) {
  const cycles = [];
  const state = new Map();
  const stack = [];
  const visit = (node) => {
    state.set(node, 1);
    stack.push(node);
    for (const dep of graph.get(node) ?? []) {
      if (state.get(dep) === 1) cycles.push([...stack.slice(stack.indexOf(dep)), dep]);
      else if (!state.has(dep)) visit(dep);
    }
    stack.pop();
    state.set(node, 2);
  };
  for (const node of [...graph.keys()].sort()) if (!state.has(node)) visit(node);
  return cycles;
}

/** The room of a src/ module: its first directory under src/, or the file name at the top. */
export function roomOf(module) {
  const parts = module.split(path.sep);
  return parts.length > 2 ? parts[1] : parts[1];
}

/** Imports from a room to a room above it in ROOM_ORDER (or to a room not in the order). */
export function upwardImports(graph) {
  const bad = [];
  for (const [from, deps] of graph) {
    const a = ROOM_ORDER.indexOf(roomOf(from));
    for (const to of deps) {
      const b = ROOM_ORDER.indexOf(roomOf(to));
      if (a < 0 || b < 0 || b > a) bad.push(`${from} -> ${to}`);
    }
  }
  return bad;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const graph = importGraph(process.cwd());
  const cycles = findCycles(graph);
  const upward = upwardImports(graph);
  for (const c of cycles) console.log('cycle: ' + c.join(' -> '));
  for (const u of upward) console.log('upward import: ' + u);
  console.log(`${graph.size} modules, ${cycles.length} cycles, ${upward.length} upward imports`);
  process.exit(cycles.length || upward.length ? 1 : 0);
}
