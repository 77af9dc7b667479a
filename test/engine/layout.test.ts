// The one-definition layout (assembly/layout.ts) checked against itself and against
// the names the host derives from it: every record field lies inside its record,
// aligned to its width, and the reason/verdict names are the enum members' names.

import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import * as L from '../../assembly/layout.js';
import { REASON_NAMES, VERDICT_NAMES, kebab } from '../../src/engine/codec.js';
import type { ReasonName, VerdictName } from '../../src/engine/types.js';

const source = readFileSync(new URL('../../assembly/layout.ts', import.meta.url), 'utf8');
const constants = L as unknown as Record<string, unknown>;

// Width of a field from its comment: `u8`, `u16`, `u32`, `i32`, `f32`, `u64`, `f64`,
// `4 x u32`, or `(XX_SIZE bytes)` for an embedded key.
function fieldWidth(comment: string): { width: number; align: number } | null {
  const m = /^\s*(?:(\d+) x )?([uif])(8|16|32|64)\b/.exec(comment);
  const embedded = /\(([A-Z]+_SIZE) bytes\)/.exec(comment);
  if (!m) return embedded ? { width: constants[embedded[1]] as number, align: 4 } : null;
  const bytes = Number(m[3]) / 8;
  return { width: (m[1] ? Number(m[1]) : 1) * bytes, align: bytes };
}

interface Field { record: string; name: string; offset: number; comment: string }

function recordFields(): Field[] {
  const out: Field[] = [];
  for (const line of source.split('\n')) {
    const m = /^export const ([A-Z]+)_([A-Z0-9_]+) = (\d+);\s*(?:\/\/(.*))?$/.exec(line);
    if (!m || m[2] === 'SIZE' || m[2] === 'HEADER') continue;
    if (typeof constants[`${m[1]}_SIZE`] !== 'number') continue; // not a record's field (flags, limits)
    out.push({ record: m[1], name: `${m[1]}_${m[2]}`, offset: Number(m[3]), comment: m[4] ?? '' });
  }
  return out;
}

describe('assembly/layout.ts: records', () => {
  const fields = recordFields();

  it('finds the fields of every record (the parser reads the file as the compilers do)', () => {
    const records = new Set(fields.map((f) => f.record));
    for (const r of ['FK', 'PW', 'PD', 'VR', 'PO', 'SA', 'LV', 'EV']) expect(records, r).toContain(r);
    for (const f of fields) expect(constants[f.name], f.name).toBe(f.offset);
  });

  it('every field offset, plus the width its comment gives, fits in its record', () => {
    const outside: string[] = [];
    for (const f of fields) {
      const size = constants[`${f.record}_SIZE`] as number;
      const w = fieldWidth(f.comment);
      const end = f.offset + (w?.width ?? 1);
      if (end > size) outside.push(`${f.name} = ${f.offset} (+${w?.width ?? 1}) > ${f.record}_SIZE = ${size}`);
    }
    expect(outside).toEqual([]);
  });

  it('every field with a stated width is aligned to it (plain loads in the data plane)', () => {
    const misaligned = fields.filter((f) => {
      const w = fieldWidth(f.comment);
      return w !== null && f.offset % w.align !== 0;
    }).map((f) => `${f.name} = ${f.offset}: ${f.comment.trim()}`);
    expect(misaligned).toEqual([]);
  });
});

describe('reason and verdict names derive from the enums (R26)', () => {
  it('each Reason member has its kebab-case name at its value, and names are unique', () => {
    const members = Object.entries(L.Reason).filter(([, v]) => typeof v === 'number') as [string, number][];
    expect(members.length).toBeGreaterThan(30);
    for (const [name, value] of members) {
      expect(value).toBeLessThan(L.REASON_COUNT);
      expect(REASON_NAMES[value]).toBe(kebab(name));
    }
    const named = REASON_NAMES.filter((n) => n !== undefined);
    expect(new Set(named).size).toBe(members.length);
  });

  it('each Verdict member has its name at its value', () => {
    const members = Object.entries(L.Verdict).filter(([, v]) => typeof v === 'number') as [string, number][];
    expect(members).toHaveLength(L.VERDICT_COUNT);
    for (const [name, value] of members) expect(VERDICT_NAMES[value]).toBe(kebab(name));
  });

  it('the type-level names agree with kebab() on the awkward members', () => {
    // These lines compile only if ReasonName/VerdictName contain exactly these spellings.
    const awkward = ['l4-truncated', 'hop-by-hop-not-first', 'no-sa', 'bad-ihl', 'ext-chain-too-long'] satisfies ReasonName[];
    const verdicts = ['bypass', 'queued', 'malformed'] satisfies VerdictName[];
    for (const n of awkward) expect(REASON_NAMES).toContain(n);
    for (const n of verdicts) expect(VERDICT_NAMES).toContain(n);
    expect(kebab('L4Truncated')).toBe('l4-truncated');
    expect(kebab('HopByHopNotFirst')).toBe('hop-by-hop-not-first');
  });
});
