// setkey(8) files -> statements of tokens with their positions: `;` ends a
// statement, `#` a line outside quotes; tokens are separated by white space.

import { ConfigError, type ConfigPosition } from './config-error.js';

// ---------------------------------------------------------------------------
// Tokens

export interface Token extends ConfigPosition {
  /** The text; for a quoted string, without the quotes. */
  text: string;
  quoted: boolean;
  /** Column just after the token. */
  endColumn: number;
}

export interface Statement {
  tokens: Token[];
  /** The terminating `;`. */
  end: ConfigPosition;
}

export function tokenize(text: string, file: string | undefined): Statement[] {
  const out: Statement[] = [];
  let tokens: Token[] = [];
  let line = 1;
  let col = 1;
  let i = 0;
  const n = text.length;
  while (i < n) {
    const ch = text[i];
    if (ch === '\n') {
      line++;
      col = 1;
      i++;
      continue;
    }
    if (ch === ' ' || ch === '\t' || ch === '\r' || ch === '\f' || ch === '\v') {
      i++;
      col++;
      continue;
    }
    if (ch === '#') {
      while (i < n && text[i] !== '\n') i++;
      continue;
    }
    if (ch === ';') {
      if (tokens.length === 0) throw new ConfigError("unexpected ';': an empty statement (expected add, spdadd, flush, ...)", { line, column: col }, file);
      out.push({ tokens, end: { line, column: col } });
      tokens = [];
      i++;
      col++;
      continue;
    }
    if (ch === '"') {
      const start = { line, column: col };
      let j = i + 1;
      let l = line;
      let c = col + 1;
      while (j < n && text[j] !== '"') {
        if (text[j] === '\n') {
          l++;
          c = 1;
        } else c++;
        j++;
      }
      if (j >= n) throw new ConfigError('unterminated quoted string: expected a closing \'"\' (contents not shown)', start, file);
      tokens.push({ text: text.slice(i + 1, j), quoted: true, ...start, endColumn: c + 1 });
      line = l;
      col = c + 1;
      i = j + 1;
      continue;
    }
    let j = i;
    while (j < n && !/[\s;#"]/.test(text[j])) j++;
    tokens.push({ text: text.slice(i, j), quoted: false, line, column: col, endColumn: col + (j - i) });
    col += j - i;
    i = j;
  }
  if (tokens.length > 0) {
    const last = tokens[tokens.length - 1];
    throw new ConfigError(
      `missing ';' at the end of the file: the ${shown(tokens[0])} statement at ${tokens[0].line}:${tokens[0].column} is not terminated`,
      { line: last.line, column: last.endColumn },
      file,
    );
  }
  return out;
}

/** Text as an error message may show it, quoted: never anything that could be key material. */
export function quote(text: string): string {
  if (/^(0x)?[0-9a-f]{17,}/i.test(text)) return 'a long hex string (not shown: it may be a key)';
  if (text.length > 60) return `'${text.slice(0, 24)}...'`;
  return `'${text}'`;
}

/** A token as an error message may show it (quoted strings never: they may be keys). */
export function shown(t: Token): string {
  return t.quoted ? 'a quoted string (not shown)' : quote(t.text);
}

export function at(t: Token, offset = 0): ConfigPosition {
  return { line: t.line, column: t.column + offset };
}

/** Where a Cursor's errors come from: the parser, which knows the file name. */
export interface ErrorSource {
  error(pos: ConfigPosition, reason: string): ConfigError;
}

export class Cursor {
  private i = 0;
  constructor(readonly tokens: Token[], readonly end: ConfigPosition, private readonly p: ErrorSource) {}

  peek(): Token | undefined {
    return this.tokens[this.i];
  }

  next(): Token | undefined {
    return this.tokens[this.i++];
  }

  /** The next token, or an error at the `;` naming what was expected. */
  expect(what: string): Token {
    const t = this.tokens[this.i++];
    if (!t) throw this.p.error(this.end, `expected ${what} before ';'`);
    return t;
  }

  /** No tokens may be left. */
  done(what: string): void {
    const t = this.peek();
    if (t) throw this.p.error(at(t), `unexpected ${shown(t)}: expected ';' (${what})`);
  }
}
