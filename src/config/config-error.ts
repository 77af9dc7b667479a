// The error of every configuration file larval reads (setkey(8) files, swanctl.conf):
// `file:line:column: what was wrong and what was expected`, never a secret.

import { type ErrorCode, LarvalError } from '../common/errors.js';

export interface ConfigPosition {
  /** 1-based. */
  line: number;
  /** 1-based, in characters (a tab counts as one). */
  column: number;
}

/** A configuration error: `file:line:column: what was wrong and what was expected`. */
export class ConfigError extends LarvalError {
  declare readonly line: number;
  readonly column: number;
  readonly file?: string;
  /** The message without its `file:line:column:` prefix. */
  readonly reason: string;

  constructor(reason: string, pos: ConfigPosition, file?: string, details: { code?: ErrorCode; field?: string } = {}) {
    super(details.code ?? 'EINVAL', `${file ? `${file}:` : ''}${pos.line}:${pos.column}: ${reason}`, { field: details.field, line: pos.line });
    this.name = 'ConfigError';
    this.column = pos.column;
    this.file = file;
    this.reason = reason;
  }
}

/** A policy of an spdadd/spdupdate statement, with where it was written. */
