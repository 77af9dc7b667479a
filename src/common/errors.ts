// Typed errors. Every error names what was wrong: the field, the value and, for
// files, the line (R25). Codes are stable strings for programs to test.

/** The codes of LarvalError (stable strings for programs to test). */
export type ErrorCode =
  | 'EINVAL'        // an argument or config value is not valid
  | 'ETABLEFULL'    // a fixed-capacity table has no room (never a silent loss, R25)
  | 'ENOENT'        // no such policy or SA
  | 'EEXIST'        // duplicate, e.g. (SPI, dst) already installed (R17)
  | 'ENOMEM'        // the engine's tables do not fit in WebAssembly memory
  | 'EBUILD'        // the WebAssembly module is missing or could not be loaded
  | 'ESTALE';       // an install answers an ACQUIRE that is no longer pending or whose policy changed (R12)

/**
 * The one error family of larval. Every error larval throws on purpose is a
 * LarvalError or a subclass of it with its own code set: ConfigError (setkey and
 * swanctl files), CaptureError (capture files), TunError (TUN devices), SocketError
 * (socket calls). The message names what is wrong; `code` is for programs.
 */
export class LarvalError<Code extends string = ErrorCode> extends Error {
  readonly code: Code;
  readonly field?: string;
  readonly value?: unknown;
  readonly line?: number;

  constructor(code: Code, message: string, details: { field?: string; value?: unknown; line?: number } = {}) {
    super(message);
    this.name = 'LarvalError';
    this.code = code;
    this.field = details.field;
    this.value = details.value;
    this.line = details.line;
  }
}

// Render a value for an error message without dumping huge or binary inputs.
export function show(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 80 ? value.slice(0, 77) + '...' : value);
  if (typeof value === 'number' || typeof value === 'boolean' || value === null || value === undefined) return String(value);
  if (typeof value === 'bigint') return `${value}n`;
  if (value instanceof Uint8Array) return `<${value.length} bytes>`;
  if (Array.isArray(value)) return `[${value.slice(0, 4).map(show).join(', ')}${value.length > 4 ? ', ...' : ''}]`;
  try {
    const s = JSON.stringify(value);
    return s.length > 80 ? s.slice(0, 77) + '...' : s;
  } catch {
    return Object.prototype.toString.call(value);
  }
}

export function invalid(field: string, value: unknown, why: string): LarvalError {
  return new LarvalError('EINVAL', `${field}: ${why} (got ${show(value)})`, { field, value });
}

/**
 * How a command-line run ends on an error: the one line to print and the exit code.
 * Errors of larval's family (and Node's argument-parsing errors) print their message
 * alone: it already names the file, field or flag. Anything else is a bug in larval
 * and keeps its stack. Exit codes: 2 for usage errors (bad flags or values), 1 for
 * everything else (files, devices, the engine).
 */
export function describeFailure(err: unknown): { line: string; exitCode: number } {
  if (err instanceof LarvalError) return { line: err.message, exitCode: err.code === 'EINVAL' && err.field?.startsWith('--') ? 2 : 1 };
  const code = err instanceof Error ? (err as Error & { code?: unknown }).code : undefined;
  if (typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS')) {
    return { line: (err as Error).message, exitCode: 2 };
  }
  // An operating-system error on a file (Node's ENOENT, EISDIR, EACCES, ...) names
  // the path: one line, what happened and to which file.
  const sys = err as NodeJS.ErrnoException;
  if (typeof code === 'string' && typeof sys.syscall === 'string' && typeof sys.path === 'string') {
    const what: Record<string, string> = { ENOENT: 'no such file or directory', EISDIR: 'is a directory', EACCES: 'permission denied', ENOTDIR: 'not a directory', ENOSPC: 'no space left on the device', EROFS: 'read-only file system' };
    return { line: `${sys.path}: ${what[code] ?? code} (${sys.syscall})`, exitCode: 1 };
  }
  return { line: err instanceof Error ? (err.stack ?? err.message) : String(err), exitCode: 1 };
}
