// A pre-shared key (or any other secret bytes) that cannot leak by accident (R31).
//
// The bytes live in a private field: printing, logging, JSON.stringify, util.inspect
// and string interpolation all show `<secret N bytes>`. `bytes()` hands out a copy
// for the one place that needs them (the prf of AUTH, RFC 7296 §2.15); `equals()`
// compares in constant time for equal lengths.

import { timingSafeEqual } from 'node:crypto';
import { inspect } from 'node:util';

/**
 * What every holder of secret bytes shares (R31): printing, logging, JSON and
 * util.inspect show only `<LABEL N bytes>`. Secret (PSKs) and crypto.ts's KeyBytes
 * (SK_* keys) are the two kinds.
 */
export abstract class Redacted {
  abstract get length(): number;
  protected abstract readonly label: string;

  toString(): string {
    return `<${this.label} ${this.length} bytes>`;
  }

  toJSON(): string {
    return this.toString();
  }

  [inspect.custom](): string {
    return this.toString();
  }
}

export class Secret extends Redacted {
  readonly #bytes: Uint8Array;
  protected readonly label = 'secret';

  constructor(bytes: Uint8Array) {
    super();
    this.#bytes = Uint8Array.from(bytes);
  }

  /** The bytes of a UTF-8 string, e.g. a quoted PSK from swanctl.conf. */
  static fromString(text: string): Secret {
    return new Secret(new TextEncoder().encode(text));
  }

  get length(): number {
    return this.#bytes.length;
  }

  /** A copy: callers may zero it when done. */
  bytes(): Uint8Array {
    return Uint8Array.from(this.#bytes);
  }

  /** Constant time for equal lengths; a length difference is not hidden (it is not secret here). */
  equals(other: Secret): boolean {
    if (!(other instanceof Secret)) return false;
    const a = this.#bytes;
    const b = other.#bytes;
    if (a.length !== b.length) {
      timingSafeEqual(a, a); // spend comparable time either way
      return false;
    }
    return timingSafeEqual(a, b);
  }

  /** Overwrite the bytes with zeros (e.g. when a configuration is unloaded). */
  wipe(): void {
    this.#bytes.fill(0);
  }

  get [Symbol.toStringTag](): string {
    return 'Secret';
  }
}
