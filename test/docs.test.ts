// The documentation matches the code (issue 12, "the contract inside the project"):
//
//  - every rule number cited in code, tests or docs is a rule of docs/design.md, and
//    design.md keeps its numbering (R1 … R31, no gaps, no duplicates);
//  - the layout blocks of README.md and docs/architecture.md list exactly what is in
//    the tree, so a new room or data-plane file without documentation fails here;
//  - every size or limit the docs tie to a constant of assembly/layout.ts or
//    assembly/wire-defs.ts (a number followed by the constant's name in backquotes)
//    has that constant's value, and every "N-byte" size in the docs is so tied;
//  - src/ has no import cycle and no import up the room order;
//  - repository paths the docs name exist, and their links into architecture.md land
//    on a heading.
//
// Layout block convention (both files): a fenced block after the heading named
// below; one entry per line; its first word is the name, `dir/` for a directory or
// `file.ts`; entries at column 0 are top-level, entries indented by two spaces are
// inside the top-level directory above them; lines indented further continue a
// description and are ignored.
import { describe, expect, it } from 'vitest';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as layout from '../assembly/layout.js';
import * as wireDefs from '../assembly/wire-defs.js';
import { ROOM_ORDER, findCycles, importGraph, upwardImports } from '../scripts/import-graph.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const read = (rel: string) => readFileSync(path.join(root, rel), 'utf8');
const DESIGN = 'docs/design.md';
const ARCHITECTURE = 'docs/architecture.md';

function walk(rel: string): string[] {
  const abs = path.join(root, rel);
  if (!existsSync(abs)) return [];
  if (!statSync(abs).isDirectory()) return [rel];
  return readdirSync(abs).flatMap((name) => walk(path.posix.join(rel, name)));
}

const lineOf = (text: string, index: number) => text.slice(0, index).split('\n').length;

// ---------------------------------------------------------------------------
// Rules

interface Rule { id: string; text: string }

/** The rules of design.md: headings `### R<n> title` (or `R<n>a`), each with its text up to the next heading. */
function designRules(): Rule[] {
  const text = read(DESIGN);
  const heads = [...text.matchAll(/^#{2,6}[ \t]+(R\d+[a-z]?)\b.*$/gm)];
  return heads.map((m, i) => {
    const start = m.index! + m[0].length;
    const next = text.slice(start).search(/^#{1,6}[ \t]/m);
    return { id: m[1], text: text.slice(start, next < 0 ? undefined : start + next) };
  });
}

/** Files whose rule citations are checked: code, tests, benchmarks, examples, scripts and the docs. */
function citingFiles(): string[] {
  const dirs = ['src', 'assembly', 'test', 'bench', 'examples', 'scripts', 'docs'];
  return [...dirs.flatMap(walk), 'README.md'].filter((f) => /\.(ts|mts|mjs|js|md|py|sh|conf)$/.test(f));
}

describe('docs/design.md is the contract every rule citation points at', () => {
  const rules = designRules();
  const ids = new Set(rules.map((r) => r.id));

  it('numbers its rules R1 … R31 without gaps or duplicates (R7a is the one lettered rule)', () => {
    const numbered = rules.filter((r) => /^R\d+$/.test(r.id)).map((r) => Number(r.id.slice(1)));
    expect(numbered).toEqual(Array.from({ length: numbered.length }, (_, i) => i + 1));
    expect(numbered.length).toBeGreaterThanOrEqual(31);
    expect(rules.length).toBe(new Set(rules.map((r) => r.id)).size);
  });

  it('has every rule number cited in src/, assembly/, test/, bench/, examples/, scripts/, README.md and docs/', () => {
    const missing: string[] = [];
    let cited = 0;
    for (const file of citingFiles()) {
      const text = read(file);
      for (const m of text.matchAll(/\bR(\d+)([a-z]?)\b/g)) {
        cited++;
        const [id, n, letter] = [`R${m[1]}${m[2]}`, m[1], m[2]];
        if (ids.has(id)) continue;
        // R8a / R8b / R8c cite the cases (a), (b), (c) of R8.
        const base = rules.find((r) => r.id === `R${n}`);
        if (letter && base && base.text.includes(`(${letter})`)) continue;
        missing.push(`${file}:${lineOf(text, m.index!)}: ${id}`);
      }
    }
    expect(cited).toBeGreaterThan(500);
    expect(missing).toEqual([]);
  });

  it('has every section cited as "design.md §n"', () => {
    const sections = new Set([...read(DESIGN).matchAll(/^## §(\d+)\b/gm)].map((m) => m[1]));
    const missing: string[] = [];
    for (const file of citingFiles()) {
      const text = read(file);
      for (const m of text.matchAll(/design\.md\)? ?§(\d+)/g)) {
        if (!sections.has(m[1])) missing.push(`${file}:${lineOf(text, m.index!)}: §${m[1]}`);
      }
    }
    expect(sections.size).toBe(10);
    expect(missing).toEqual([]);
  });

  it('keeps no reference to a DESIGN.md outside the repository', () => {
    const stale = citingFiles().filter((f) => f !== 'test/docs.test.ts' && read(f).includes('DESIGN' + '.md'));
    expect(stale).toEqual([]);
  });
});

// ---------------------------------------------------------------------------
// Layout blocks

interface Entry { name: string; line: number }
interface Block { top: Entry[]; inside: Map<string, Entry[]> }

function layoutBlock(file: string, heading: string): Block {
  const lines = read(file).split('\n');
  const h = lines.findIndex((l) => l.trim() === heading);
  if (h < 0) throw new Error(`${file}: no heading "${heading}"`);
  const open = lines.findIndex((l, i) => i > h && l.startsWith('```'));
  const close = lines.findIndex((l, i) => i > open && l.startsWith('```'));
  if (open < 0 || close < 0) throw new Error(`${file}: no fenced block after "${heading}"`);
  const block: Block = { top: [], inside: new Map() };
  let current: string | null = null;
  for (let i = open + 1; i < close; i++) {
    const m = /^( *)(\S+)/.exec(lines[i]);
    if (!m) continue;
    const entry = { name: m[2], line: i + 1 };
    if (m[1].length === 0) {
      block.top.push(entry);
      current = entry.name;
    } else if (m[1].length === 2) {
      if (current === null || !current.endsWith('/')) throw new Error(`${file}:${i + 1}: "${entry.name}" is indented under no directory`);
      const list = block.inside.get(current) ?? [];
      list.push(entry);
      block.inside.set(current, list);
    }
  }
  return block;
}

/** Directories the repository holds at its top level (not hidden, not ignored build output). */
function topLevelDirs(): string[] {
  const ignored = new Set(read('.gitignore').split('\n').map((l) => l.trim().replace(/^\/|\/$/g, '')).filter(Boolean));
  return readdirSync(root)
    .filter((n) => !n.startsWith('.') && !ignored.has(n) && statSync(path.join(root, n)).isDirectory())
    .map((n) => n + '/');
}

/** What a layout block must list inside a directory: its subdirectories (`name/`) and its TypeScript files. */
function entriesOf(dir: string): string[] {
  return readdirSync(path.join(root, dir))
    .filter((n) => statSync(path.join(root, dir, n)).isDirectory() || /\.m?ts$/.test(n))
    .map((n) => (statSync(path.join(root, dir, n)).isDirectory() ? n + '/' : n));
}

describe.each([
  { file: 'README.md', heading: '## Repository', mustDetail: ['src/'] },
  { file: ARCHITECTURE, heading: '## Layout', mustDetail: ['src/', 'assembly/'] },
])('the layout block of $file matches the tree', ({ file, heading, mustDetail }) => {
  const block = layoutBlock(file, heading);

  it('lists every top-level directory, and nothing that does not exist', () => {
    const listed = block.top.map((e) => e.name);
    const dirs = topLevelDirs();
    expect(dirs.filter((d) => !listed.includes(d)), 'directories missing from the block').toEqual([]);
    expect(block.top.filter((e) => !existsSync(path.join(root, e.name))).map((e) => `${file}:${e.line}: ${e.name}`),
      'listed but not in the tree').toEqual([]);
  });

  it(`lists exactly what is in ${mustDetail.join(' and ')} (and in any other directory it details)`, () => {
    for (const dir of mustDetail) expect(block.inside.has(dir), `${file} lists the contents of ${dir}`).toBe(true);
    for (const [dir, entries] of block.inside) {
      const listed = entries.map((e) => e.name);
      const actual = existsSync(path.join(root, dir)) ? entriesOf(dir) : [];
      const notListed = actual.filter((n) => !listed.includes(n));
      const notInTree = listed.filter((n) => !actual.includes(n));
      expect(`${file}, ${dir}: not listed [${notListed.join(', ')}], listed but not in the tree [${notInTree.join(', ')}]`)
        .toBe(`${file}, ${dir}: not listed [], listed but not in the tree []`);
    }
  });

  it('lists the rooms of src/ in the room order of scripts/import-graph.mjs', () => {
    const listed = block.inside.get('src/')!.map((e) => e.name.replace(/\/$/, ''));
    expect(listed).toEqual(ROOM_ORDER.filter((r) => listed.includes(r)));
  });
});

describe('docs/architecture.md describes every room of src/', () => {
  it('has one "- **room**:" paragraph per room, in the room order', () => {
    const text = read(ARCHITECTURE);
    const section = text.slice(text.indexOf('## Rooms of `src/`'));
    const described = [...section.slice(0, section.indexOf('\n## ', 3)).matchAll(/^- \*\*([\w.]+)\*\*:/gm)].map((m) => m[1]);
    const rooms = entriesOf('src').map((e) => e.replace(/\/$/, ''));
    const expected = [...ROOM_ORDER.filter((r) => rooms.includes(r)), ...rooms.filter((r) => !ROOM_ORDER.includes(r))];
    expect(described).toEqual(expected);
  });
});

// ---------------------------------------------------------------------------
// Numbers

/** The constants both compilers read: the memory layout and the wire definitions. */
const constants = { ...layout, ...wireDefs } as unknown as Record<string, unknown>;
const DOCS = ['README.md', DESIGN, ARCHITECTURE];

/**
 * Numbers the docs tie to a layout constant: a number (decimal or 0x hex, optionally
 * "-byte"), up to five words, then the constant's name in backquotes, e.g.
 * "a 24-byte descriptor (`PD_SIZE`)" or "up to 4096 (`MAX_REPLAY_WINDOW`)".
 */
function statedConstants(file: string) {
  const text = read(file).replace(/\s+/g, ' ');
  const re = /(?<![\w.^])(0x[0-9a-fA-F]+|\d+)(?:-byte)?((?: [A-Za-z][\w-]*){0,5})[ ,(]+`([A-Z][A-Z0-9_]+)`/g;
  return [...text.matchAll(re)]
    .filter((m) => typeof constants[m[3]] === 'number')
    .map((m) => ({ file, at: m.index!, phrase: m[0], stated: Number(m[1]), name: m[3], actual: constants[m[3]] as number }));
}

describe('sizes and limits in the docs equal assembly/layout.ts and assembly/wire-defs.ts', () => {
  it('states the descriptor, verdict, event and lifetime record sizes with their constants', () => {
    const names = new Set(statedConstants(ARCHITECTURE).map((s) => s.name));
    for (const name of ['PD_SIZE', 'VR_SIZE', 'EV_SIZE', 'LT_SIZE']) expect(names, name).toContain(name);
  });

  it.each(DOCS)('%s: every number tied to a constant has its value', (file) => {
    const wrong = statedConstants(file).filter((s) => s.stated !== s.actual)
      .map((s) => `${s.file}: "${s.phrase}" says ${s.stated}, assembly/ has ${s.name} = ${s.actual}`);
    expect(wrong).toEqual([]);
  });

  it.each(DOCS)('%s: every "N-byte" size is tied to a constant', (file) => {
    const text = read(file).replace(/\s+/g, ' ');
    const tied = new Set(statedConstants(file).map((s) => s.at));
    const loose = [...text.matchAll(/(?<![\w.^])\d+-byte\b/g)]
      .filter((m) => !tied.has(m.index!))
      .map((m) => text.slice(Math.max(0, m.index! - 30), m.index! + 40));
    expect(loose).toEqual([]);
  });
});

// ---------------------------------------------------------------------------
// Import graph

describe('src/ imports flow down the rooms (scripts/import-graph.mjs)', () => {
  const graph = importGraph(root);

  it('reads the whole of src/', () => {
    expect(graph.size).toBe(walk('src').filter((f) => f.endsWith('.ts')).length);
    expect(graph.size).toBeGreaterThan(40);
  });

  it('has no import cycle (type imports included)', () => {
    expect(findCycles(graph).map((c) => c.join(' -> '))).toEqual([]);
  });

  it('has no import from a room to a room above it', () => {
    expect(upwardImports(graph)).toEqual([]);
  });

  it('knows the place of every room in ROOM_ORDER', () => {
    const rooms = entriesOf('src').map((e) => e.replace(/\/$/, ''));
    expect(rooms.filter((r) => !ROOM_ORDER.includes(r))).toEqual([]);
  });
});

// ---------------------------------------------------------------------------
// Paths and links

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens. */
const anchor = (heading: string) => heading.trim().toLowerCase().replace(/[^\p{L}\p{N}\s_-]/gu, '').replace(/\s/g, '-');

describe('paths and links in the docs resolve', () => {
  const docs = ['README.md', ...walk('docs').filter((f) => f.endsWith('.md'))];

  it.each(docs)('%s: every repository path it names exists', (file) => {
    const text = read(file);
    const re = /(?<![\w./-])((?:src|test|assembly|bench|docs|examples|scripts|data)\/[\w./-]*[\w/])/g;
    const missing = [...text.matchAll(re)]
      .filter((m) => !existsSync(path.join(root, m[1])))
      .map((m) => `${file}:${lineOf(text, m.index!)}: ${m[1]}`);
    expect(missing).toEqual([]);
  });

  it.each(docs)('%s: every link to an anchor of architecture.md or design.md lands on a heading', (file) => {
    const text = read(file);
    const missing: string[] = [];
    for (const m of text.matchAll(/\]\(((?:docs\/)?(architecture|design)\.md)#([^)]+)\)/g)) {
      const target = `docs/${m[2]}.md`;
      const anchors = new Set([...read(target).matchAll(/^#{1,6} (.+)$/gm)].map((h) => anchor(h[1])));
      if (!anchors.has(m[3])) missing.push(`${file}:${lineOf(text, m.index!)}: ${m[1]}#${m[3]}`);
    }
    expect(missing).toEqual([]);
  });
});
