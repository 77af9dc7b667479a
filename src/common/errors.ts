// Typed errors. Every error names what was wrong: the field, the value and, for
// files, the line (R25). Codes are stable strings for programs to test.

export type ErrorCode =
  | 'EINVAL'        // an argument or config value is not valid
  | 'ETABLEFULL'    // a fixed-capacity table has no room (never a silent loss, R25)
  | 'ENOENT'        // no such policy or SA
  | 'EEXIST'        // duplicate, e.g. (SPI, dst) already installed (R17)
  | 'ENOMEM'        // the engine's tables do not fit in WebAssembly memory
  | 'EBUILD'        // the WebAssembly module is missing or could not be loaded
  | 'ESTALE';       // an install answers an ACQUIRE that is no longer pending or whose policy changed (R12)

export class LarvalError extends Error {
  readonly code: ErrorCode;
  readonly field?: string;
  readonly value?: unknown;
  readonly line?: number;

  constructor(code: ErrorCode, message: string, details: { field?: string; value?: unknown; line?: number } = {}) {
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
