// Files that ship with larval (build/, data/, examples/) are found relative to the
// package root, which is one level above src/ and two above dist/src/.

import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The first existing `relative` path in this module's directory or one of its ancestors, or null. */
export function findUp(relative: string, from = path.dirname(fileURLToPath(import.meta.url))): string | null {
  let dir = from;
  for (let i = 0; i < 5; i++) {
    const candidate = path.join(dir, relative);
    if (existsSync(candidate)) return candidate;
    const parent = path.dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  return null;
}

/** A bundled data file, e.g. dataFile('classbench/acl1_1k'). */
export function dataFile(name: string): string {
  const p = findUp(path.join('data', name));
  if (!p) throw new Error(`bundled data file data/${name} not found next to the larval package`);
  return p;
}
