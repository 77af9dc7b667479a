// Issue 18: the replay's core — capture reading from bytes, setkey parsing from text,
// the engine, the gateway, the scripted key manager, the replay world and report,
// and the page itself — imports no `node:` module, directly or through anything it
// imports (type imports included), so that the same code runs in the browser.
// Node-only parts (files, TUN, node:crypto ESP, wasm from disk) are adapters.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { importGraph } from '../../scripts/import-graph.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export const CORE = [
  'src/io/reader-core.ts',
  'src/config/setkey-parser.ts',
  'src/config/setkey-types.ts',
  'src/engine/engine.ts',
  'src/engine/platform.ts',
  'src/esp/unsealed.ts',
  'src/gateway/gateway.ts',
  'src/gateway/scripted-km.ts',
  'src/replay/replay.ts',
  'src/replay/report.ts',
  'src/replay/run.ts',
  'src/page/replay-page.ts',
  'src/page/app.ts',
];

const NODE = /(?:^|\n)\s*(?:import|export)\b[^'"]*?\bfrom\s*['"](node:[^'"]+)['"]|\bimport\s*\(\s*['"](node:[^'"]+)['"]\s*\)|\brequire\s*\(\s*['"]([^'"]+)['"]\s*\)/g;

function closure(graph: Map<string, string[]>, roots: string[]): Map<string, string[]> {
  // module -> the path by which the roots reach it
  const via = new Map<string, string[]>();
  const queue = roots.map((r) => [r]);
  while (queue.length) {
    const chain = queue.shift()!;
    const m = chain[chain.length - 1];
    if (via.has(m)) continue;
    via.set(m, chain);
    for (const d of graph.get(m) ?? []) queue.push([...chain, d]);
  }
  return via;
}

describe('the platform-neutral core (issue 18)', () => {
  const graph = importGraph(root) as Map<string, string[]>;

  it('every core module exists in the graph', () => {
    for (const m of CORE) expect(graph.has(m.split('/').join(path.sep)), m).toBe(true);
  });

  it('imports no node: module, directly or transitively', () => {
    const reached = closure(graph, CORE.map((m) => m.split('/').join(path.sep)));
    const offenders: string[] = [];
    for (const [m, chain] of reached) {
      const text = readFileSync(path.join(root, m), 'utf8');
      for (const hit of text.matchAll(NODE)) offenders.push(`${chain.join(' -> ')} imports ${hit[1] ?? hit[2] ?? hit[3]}`);
      // Node globals the browser lacks.
      if (/\bBuffer\.(from|alloc|allocUnsafe|concat)\b|\bprocess\.(env|stdout|stderr|argv|exit)\b/.test(text)) offenders.push(`${chain.join(' -> ')} uses a Node global (Buffer or process)`);
    }
    expect(offenders).toEqual([]);
    // The check has teeth: the Node adapters are outside the core and do import node:.
    expect(reached.has(path.join('src', 'engine', 'wasm.ts'))).toBe(false);
    expect(reached.has(path.join('src', 'esp', 'node-crypto.ts'))).toBe(false);
    expect(readFileSync(path.join(root, 'src/esp/node-crypto.ts'), 'utf8')).toMatch(NODE);
  });
});
