// Argument handling shared by the commands: flags, values and files. Every mistake
// becomes one LarvalError line that names the flag (or file), the value and what
// would be accepted (R25), with a "did you mean" for misspellings; the entry point
// (main.ts) prints it without a stack and exits non-zero.

import { accessSync, constants, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { LarvalError, show } from '../common/errors.js';

export interface FlagSpec {
  type: 'string' | 'boolean';
  short?: string;
  default?: string | boolean;
  /** What the value is, for messages: FILE, TIME, N. */
  value?: string;
}

export type FlagSpecs = Record<string, FlagSpec>;

export interface ParsedArgs {
  values: Record<string, string | boolean | undefined>;
  positionals: string[];
}

/** A usage error: exit code 2 (describeFailure), one line. */
export function usage(flag: string, message: string, value?: unknown): LarvalError {
  return new LarvalError('EINVAL', message, { field: flag.startsWith('--') ? flag : `--${flag}`, value });
}

/** Edit distance (Levenshtein), for "did you mean". */
export function distance(a: string, b: string): number {
  const d = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = d[0];
    d[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cur = d[j];
      d[j] = Math.min(d[j] + 1, d[j - 1] + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = cur;
    }
  }
  return d[b.length];
}

/** The closest of `known` to `word`, if it is close enough to be a misspelling. */
export function closest(word: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestD = Infinity;
  for (const k of known) {
    const dist = k.startsWith(word) && word.length >= 3 ? 1 : distance(word, k);
    if (dist < bestD) {
      best = k;
      bestD = dist;
    }
  }
  return best !== undefined && bestD <= Math.max(2, Math.floor(best.length / 3)) ? best : undefined;
}

const didYouMean = (word: string, known: readonly string[], prefix = '') => {
  const c = closest(word, known);
  return c ? `; did you mean ${prefix}${c}?` : '';
};

/**
 * Parse `argv` against `specs`: `--flag value`, `--flag=value`, `-x value`, booleans
 * without a value, `--` ends the flags. A string flag takes the next argument as its
 * value even when it starts with '-' (so `--km-delay -5` is judged as a time).
 */
export function parseFlags(argv: readonly string[], specs: FlagSpecs, command: string): ParsedArgs {
  const values: Record<string, string | boolean | undefined> = {};
  for (const [name, spec] of Object.entries(specs)) if (spec.default !== undefined) values[name] = spec.default;
  const positionals: string[] = [];
  const names = Object.keys(specs);
  const help = `see larval ${command} --help`;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--') {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (!arg.startsWith('-') || arg === '-') {
      positionals.push(arg);
      continue;
    }
    let name: string;
    let inline: string | undefined;
    if (arg.startsWith('--')) {
      const eq = arg.indexOf('=');
      name = eq < 0 ? arg.slice(2) : arg.slice(2, eq);
      inline = eq < 0 ? undefined : arg.slice(eq + 1);
    } else {
      const short = arg.slice(1, 2);
      const found = names.find((n) => specs[n].short === short);
      if (!found || arg.length > 2) throw usage(arg, `${command}: unknown option ${arg}${didYouMean(arg.replace(/^-+/, ''), names, '--')} (${help})`, arg);
      name = found;
    }
    const spec = specs[name];
    if (!spec) throw usage(`--${name}`, `${command}: unknown option --${name}${didYouMean(name, names, '--')} (${help})`, arg);
    if (spec.type === 'boolean') {
      if (inline !== undefined) throw usage(`--${name}`, `--${name}: takes no value (got ${show(inline)})`, inline);
      values[name] = true;
      continue;
    }
    let value = inline;
    if (value === undefined) {
      if (i + 1 >= argv.length) throw usage(`--${name}`, `--${name}: expects a value${spec.value ? ` (${spec.value})` : ''} after it (${help})`);
      value = argv[++i];
    }
    values[name] = value;
  }
  return { values, positionals };
}

/** One of a fixed set of words, with "did you mean". */
export function choice<T extends string>(value: string, flag: string, allowed: readonly T[]): T {
  if ((allowed as readonly string[]).includes(value)) return value as T;
  throw usage(flag, `${flag}: expected one of ${allowed.join(', ')} (got ${show(value)})${didYouMean(value, allowed)}`, value);
}

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

const formatMs = (ms: number) => (ms === 0 ? '0' : ms % 3_600_000 === 0 ? `${ms / 3_600_000}h` : ms % 60_000 === 0 ? `${ms / 60_000}m` : ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`);

/**
 * A time like 200ms, 30s, 2m or 1h (a plain number is ms), in [min, max] ms. The
 * error names the flag, the value and the range.
 */
export function duration(value: string, flag: string, range: { min?: number; max?: number } = {}): number {
  const min = range.min ?? 0;
  const max = range.max ?? 86_400_000;
  const allowed = `${formatMs(min)} to ${formatMs(max)}`;
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(value.trim());
  if (!m) throw usage(flag, `${flag}: expected a time from ${allowed}, like 200ms, 30s or 2m (got ${show(value)})`, value);
  const n = Number(m[1]) * UNITS[m[2] ?? 'ms'];
  if (!Number.isFinite(n) || n < min || n > max) throw usage(flag, `${flag}: ${value} is out of range: allowed ${allowed}`, value);
  return n;
}

/** An integer in [min, max]. */
export function integerFlag(value: string, flag: string, min: number, max: number): number {
  const n = /^-?\d+$/.test(value.trim()) ? Number(value) : NaN;
  if (!Number.isSafeInteger(n)) throw usage(flag, `${flag}: expected an integer from ${min} to ${max} (got ${show(value)})`, value);
  if (n < min || n > max) throw usage(flag, `${flag}: ${value} is out of range: allowed ${min} to ${max}`, value);
  return n;
}

/** Why `file` cannot be read, as a one-line error naming it and what to do. */
export function inputFile(file: string, what: string): string {
  let st;
  try {
    st = statSync(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') throw new LarvalError('ENOENT', `${what} ${file}: no such file; check the path`);
    throw new LarvalError('ENOENT', `${what} ${file}: cannot be read (${code ?? (err as Error).message})`);
  }
  if (st.isDirectory()) throw new LarvalError('EINVAL', `${what} ${file}: is a directory; give a file`);
  try {
    accessSync(file, constants.R_OK);
  } catch {
    throw new LarvalError('ENOENT', `${what} ${file}: permission denied; check its permissions`);
  }
  return file;
}

const CAPTURE_MAGICS = [0xa1b2c3d4, 0xd4c3b2a1, 0xa1b23c4d, 0x4d3cb2a1, 0x0a0d0d0a];

/** True when `file` starts like a pcap or pcapng capture (or holds binary data). */
export function looksBinary(file: string): 'capture' | 'binary' | null {
  let head: Buffer;
  try {
    head = readFileSync(file).subarray(0, 4096);
  } catch {
    return null;
  }
  if (head.length >= 4 && CAPTURE_MAGICS.includes(head.readUInt32BE(0))) return 'capture';
  return head.includes(0) ? 'binary' : null;
}

/**
 * Check before the work starts that `file` can be written: its directory exists and
 * is writable, and it is not itself a directory (unless `directoryOk`). Returns
 * 'directory' when it is an existing directory and that is allowed.
 */
export function outputPath(file: string, flag: string, directoryOk = false): 'file' | 'directory' {
  let st;
  try {
    st = statSync(file);
  } catch {
    st = null;
  }
  if (st?.isDirectory()) {
    if (!directoryOk) throw usage(flag, `${flag} ${file}: is a directory; give a file name`, file);
    try {
      accessSync(file, constants.W_OK);
    } catch {
      throw usage(flag, `${flag} ${file}: directory is not writable; choose another`, file);
    }
    return 'directory';
  }
  const dir = path.dirname(path.resolve(file));
  let dst;
  try {
    dst = statSync(dir);
  } catch {
    throw usage(flag, `${flag} ${file}: directory ${path.dirname(file)} does not exist; create it or choose another path`, file);
  }
  if (!dst.isDirectory()) throw usage(flag, `${flag} ${file}: ${path.dirname(file)} is not a directory; choose another path`, file);
  try {
    accessSync(dir, constants.W_OK);
    if (st) accessSync(file, constants.W_OK);
  } catch {
    throw usage(flag, `${flag} ${file}: not writable; check permissions or choose another path`, file);
  }
  return 'file';
}

/** A warning on stderr, one line. */
export function warn(message: string): void {
  process.stderr.write(`larval: warning: ${message}\n`);
}
