// ClassBench rule files (Taylor & Turner's filter format) -> PolicySpec[], so that
// published classifier benchmarks can drive the SPD. One rule per line:
//
//   @SRC/LEN <tab> DST/LEN <tab> SPLO : SPHI <tab> DPLO : DPHI <tab> PROTO/MASK <tab> FLAGS/MASK <tab>
//
// ClassBench's precedence is line order (the first matching rule wins), which is
// exactly R1 with priority = line index: every rule gets a distinct priority, so
// insertion order never has to break a tie.

import { readFileSync } from 'node:fs';
import { parsePrefix, type Prefix } from '../common/addr.js';
import { LarvalError, show } from '../common/errors.js';
import { carriesPorts } from '../common/protocols.js';
import type { Direction, PolicySpec } from '../engine/types.js';

/** Options of loadClassBench()/parseClassBench(): the direction and action the rules get. */
export interface ClassBenchOptions {
  /** Direction of every generated policy. Default 'out'. */
  dir?: Direction;
  /**
   * Action of every rule, or a function of the rule's 0-based index giving its
   * action (and template, for 'protect'). Default 'bypass'.
   */
  action?: PolicySpec['action'] | ((index: number) => Pick<PolicySpec, 'action' | 'template'>);
  /** Stop after this many rules; the rest of the text is not read. */
  limit?: number;
  /**
   * What to do with a rule that gives a port range to a protocol that carries no
   * ports (ICMP, IGMP (2), protocol 7, GRE …; the published fw2/fw4 sets have them).
   * ClassBench matches such ports against the header it generates; R3 gives them no
   * meaning, so no selector expresses the rule exactly:
   * - 'drop-ports' (default): keep the rule without its port ranges — it then selects
   *   every packet of that protocol between its prefixes (wider than the rule);
   * - 'skip': leave the rule out (its index, and so every later rule's priority, is kept);
   * - 'refuse': an error naming the line (the behaviour before issue 15).
   * Either way `report` says how many rules were changed or skipped, and which lines.
   */
  portless?: 'drop-ports' | 'skip' | 'refuse';
  /** Called once with what the conversion did. */
  report?: (report: ClassBenchReport) => void;
}

/** What loading a ClassBench file changed (see ClassBenchOptions.portless). */
export interface ClassBenchReport {
  /** Rules read (including skipped ones). */
  rules: number;
  /** Rules kept with their port ranges dropped. */
  portsDropped: number;
  /** Rules left out. */
  skipped: number;
  /** 1-based line numbers of the rules changed or skipped (the first 100). */
  lines: number[];
}

const DIRECTIONS: readonly Direction[] = ['out', 'in', 'fwd'];
const ACTIONS: readonly PolicySpec['action'][] = ['protect', 'bypass', 'discard'];

/** Read and parse a ClassBench file; errors name `path` and the line. */
export function loadClassBench(path: string, options: ClassBenchOptions = {}): PolicySpec[] {
  return parseClassBench(readFileSync(path, 'utf8'), { ...options, source: path });
}

/** Parse ClassBench text. `source` names the input in error messages. */
export function parseClassBench(text: string, options: ClassBenchOptions & { source?: string } = {}): PolicySpec[] {
  const source = options.source ?? '<classbench>';
  const dir = options.dir ?? 'out';
  if (!DIRECTIONS.includes(dir)) {
    throw new LarvalError('EINVAL', `${source}: options.dir: expected 'out', 'in' or 'fwd' (got ${show(dir)})`, { field: 'dir', value: dir });
  }
  const limit = options.limit ?? Infinity;
  if (limit !== Infinity && !(Number.isInteger(limit) && limit >= 0)) {
    throw new LarvalError('EINVAL', `${source}: options.limit: expected an integer >= 0 (got ${show(limit)})`, { field: 'limit', value: limit });
  }
  const actionFor = actionSource(options.action, source);
  const portless = options.portless ?? 'drop-ports';
  if (!['drop-ports', 'skip', 'refuse'].includes(portless)) {
    throw new LarvalError('EINVAL', `${source}: options.portless: expected 'drop-ports', 'skip' or 'refuse' (got ${show(portless)})`, { field: 'portless', value: portless });
  }
  const report: ClassBenchReport = { rules: 0, portsDropped: 0, skipped: 0, lines: [] };

  const policies: PolicySpec[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length && policies.length < limit; i++) {
    const line = lines[i].endsWith('\r') ? lines[i].slice(0, -1) : lines[i];
    if (line.trim() === '') {
      // Trailing blank lines are what editors and generators leave behind; a
      // blank line in the middle would silently shift every later priority
      // relative to the line numbers people cite, so refuse it.
      if (lines.slice(i + 1).every((rest) => rest.trim() === '')) break;
      throw lineError(source, i + 1, 1, 'rule', line, 'blank line between rules (priority is the rule index, so every line must be a rule)');
    }
    const rule = parseRule(line, source, i + 1, portless === 'refuse');
    const index = report.rules++;
    if (rule.portless) {
      if (report.lines.length < 100) report.lines.push(i + 1);
      if (portless === 'skip') {
        report.skipped++;
        continue;
      }
      report.portsDropped++;
      rule.srcPort = null;
      rule.dstPort = null;
    }
    const policy: PolicySpec = { dir, src: rule.src, dst: rule.dst, priority: index, action: 'bypass' };
    if (rule.proto !== null) policy.proto = rule.proto;
    if (rule.srcPort !== null) policy.srcPort = rule.srcPort;
    if (rule.dstPort !== null) policy.dstPort = rule.dstPort;
    const chosen = actionFor(index);
    policy.action = chosen.action;
    if (chosen.template !== undefined) policy.template = chosen.template;
    policies.push(policy);
  }
  options.report?.(report);
  return policies;
}

interface ParsedRule {
  src: string;
  dst: string;
  proto: number | null;
  srcPort: [number, number] | null;
  dstPort: [number, number] | null;
  /** A port range on a protocol that carries no ports (R3). */
  portless: boolean;
}

interface Column {
  text: string;
  /** 1-based character column of the field's first character. */
  column: number;
}

function parseRule(line: string, source: string, lineNo: number, refusePortless: boolean): ParsedRule {
  if (!line.startsWith('@')) throw lineError(source, lineNo, 1, 'rule', line, "a ClassBench rule starts with '@'");
  const columns: Column[] = [];
  let start = 1;
  for (const text of line.slice(1).split('\t')) {
    columns.push({ text, column: start + 1 });
    start += text.length + 1;
  }
  // The sixth column (TCP flags/mask) is deliberately not read: TCP flags are not
  // an IPsec selector (RFC 4301 §4.4.1.1 has none), so a rule like "SYN only"
  // becomes a policy over all packets of its 5-tuple. A missing flags column is
  // therefore harmless and accepted.
  const field = (i: number, name: string): Column => {
    if (i < columns.length) return columns[i];
    const last = columns[columns.length - 1];
    throw lineError(source, lineNo, last.column + last.text.length, name, '', 'missing; a rule has 5 tab-separated fields before the flags');
  };
  const srcCol = field(0, 'source prefix');
  const src = prefix(srcCol, 'source prefix', source, lineNo);
  const dstCol = field(1, 'destination prefix');
  const dst = prefix(dstCol, 'destination prefix', source, lineNo);
  if (src.family !== dst.family) {
    throw lineError(source, lineNo, dstCol.column, 'destination prefix', dstCol.text, `address family IPv${dst.family} differs from the source prefix's IPv${src.family}`);
  }
  const sportCol = field(2, 'source port range');
  const dportCol = field(3, 'destination port range');
  const protoCol = field(4, 'protocol');
  const srcPort = portRange(sportCol, 'source port range', source, lineNo);
  const dstPort = portRange(dportCol, 'destination port range', source, lineNo);
  const proto = protocol(protoCol, source, lineNo);
  // R3: ports select only TCP, UDP and SCTP; ICMP is selected by type/code and
  // never through the port fields. ClassBench has no type/code columns, so an
  // ICMP (or any other port-less protocol) rule with specific ports has no
  // faithful translation: the caller chooses (options.portless) to widen it, skip
  // it or refuse it, and the report counts it. Proto "any" with ports is
  // expressible (it matches TCP/UDP/SCTP only).
  let portless = false;
  if (proto !== null && !carriesPorts(proto)) {
    const offending = srcPort !== null ? sportCol : dstPort !== null ? dportCol : null;
    portless = offending !== null;
    if (offending !== null && refusePortless) {
      throw lineError(source, lineNo, offending.column, offending === sportCol ? 'source port range' : 'destination port range', offending.text,
        `protocol ${proto} carries no ports; only tcp, udp and sctp are selected by port (R3)`);
    }
  }
  return { src: srcCol.text.trim(), dst: dstCol.text.trim(), proto, srcPort, dstPort, portless };
}

function prefix(col: Column, field: string, source: string, lineNo: number): Prefix {
  try {
    return parsePrefix(col.text.trim(), field);
  } catch (err) {
    if (!(err instanceof LarvalError)) throw err;
    // parsePrefix's message starts with "<field>: "; keep only its reason.
    const why = err.message.startsWith(`${field}: `) ? err.message.slice(field.length + 2) : err.message;
    throw lineError(source, lineNo, col.column, field, col.text, why.replace(/ \(got .*\)$/, ''));
  }
}

const PORT_RANGE = /^\s*(\d{1,5})\s*:\s*(\d{1,5})\s*$/;

/** 'LO : HI' -> [lo, hi], or null for the full range 0 : 65535 (any). */
function portRange(col: Column, field: string, source: string, lineNo: number): [number, number] | null {
  const m = PORT_RANGE.exec(col.text);
  if (!m) throw lineError(source, lineNo, col.column, field, col.text, "expected 'LO : HI'");
  const lo = Number(m[1]);
  const hi = Number(m[2]);
  if (lo > 65535 || hi > 65535) throw lineError(source, lineNo, col.column, field, col.text, 'ports are 0..65535');
  if (lo > hi) throw lineError(source, lineNo, col.column, field, col.text, 'the low port exceeds the high port');
  return lo === 0 && hi === 65535 ? null : [lo, hi];
}

const PROTO_MASK = /^\s*0x([0-9a-fA-F]{1,2})\/0x([0-9a-fA-F]{1,2})\s*$/;

/** '0xNN/0xFF' -> NN; '0xNN/0x00' -> null (any). Other masks are not selectors. */
function protocol(col: Column, source: string, lineNo: number): number | null {
  const m = PROTO_MASK.exec(col.text);
  if (!m) throw lineError(source, lineNo, col.column, 'protocol', col.text, "expected '0xNN/0xFF' (exact) or '0x00/0x00' (any)");
  const value = parseInt(m[1], 16);
  const mask = parseInt(m[2], 16);
  if (mask === 0x00) return null;
  if (mask === 0xff) return value;
  // An IPsec selector's protocol is one value or any; a partial mask would match
  // an arbitrary set of protocol numbers that no SPD can express.
  throw lineError(source, lineNo, col.column, 'protocol', col.text, 'the mask must be 0xFF (exact) or 0x00 (any)');
}

function actionSource(action: ClassBenchOptions['action'], source: string): (index: number) => Pick<PolicySpec, 'action' | 'template'> {
  if (typeof action === 'function') {
    return (index) => {
      const chosen = action(index);
      if (!chosen || !ACTIONS.includes(chosen.action)) {
        throw new LarvalError('EINVAL', `${source}: options.action(${index}) returned ${show(chosen)}; expected { action: 'protect' | 'bypass' | 'discard', template? }`,
          { field: 'action', value: chosen });
      }
      return chosen;
    };
  }
  const fixed = action ?? 'bypass';
  if (!ACTIONS.includes(fixed)) {
    throw new LarvalError('EINVAL', `${source}: options.action: expected 'protect', 'bypass', 'discard' or a function (got ${show(fixed)})`, { field: 'action', value: fixed });
  }
  if (fixed === 'protect') {
    // A protect policy is useless without a template, and one template for
    // every rule cannot be guessed here.
    throw new LarvalError('EINVAL', `${source}: options.action: 'protect' needs a template; pass a function returning { action: 'protect', template }`, { field: 'action', value: fixed });
  }
  const chosen = { action: fixed };
  return () => chosen;
}

function lineError(source: string, line: number, column: number, field: string, text: string, why: string): LarvalError {
  return new LarvalError('EINVAL', `${source}:${line}:${column}: ${field}: ${why} (got ${show(text)})`, { field, value: text, line });
}
