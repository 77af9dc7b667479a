// The one error type capture readers throw for anything wrong with a file's
// contents. Operating-system errors (ENOENT, EACCES, ...) are passed through
// unchanged as Node's own errors; they already name the path.

import { LarvalError } from '../common/errors.js';

/**
 * What kind of problem:
 *  - 'truncated':   the file ends inside a header, record or block;
 *  - 'malformed':   a field has an impossible value (length, magic, version, timestamp, ...);
 *  - 'unsupported': a valid file larval cannot use (e.g. a link type it cannot decode).
 */
export type CaptureErrorCode = 'truncated' | 'malformed' | 'unsupported';

/**
 * A capture file could not be read. The message always reads
 * `FILE: record N, byte OFFSET: REASON`, where N is the 0-based number of the packet
 * record the reader had got to (the record at fault, or the one that would have
 * come next for a file header or a pcapng non-packet block) and OFFSET the byte
 * offset in the file of the header or block at fault.
 */
export class CaptureError extends LarvalError<CaptureErrorCode> {
  /** The file name as given to the reader (or the name given for an in-memory capture). */
  readonly file: string;
  /** 0-based packet record number. */
  readonly record: number;
  /** Byte offset in the file of the header or block at fault. */
  readonly offset: number;
  /** The reason alone, without file, record and offset. */
  readonly reason: string;

  constructor(code: CaptureErrorCode, file: string, record: number, offset: number, reason: string) {
    super(code, `${file}: record ${record}, byte ${offset}: ${reason}`);
    this.name = 'CaptureError';
    this.file = file;
    this.record = record;
    this.offset = offset;
    this.reason = reason;
  }
}
