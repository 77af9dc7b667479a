// Shared plumbing of the wire views: network-order integer access and the errors
// that every checked constructor throws. Kept apart so that each header module
// reads as its field table plus accessors.

import { parseAddress } from '../common/addr.js';
import { LarvalError, invalid } from '../common/errors.js';

export function readU16(bytes: Uint8Array, at: number): number {
  return (bytes[at] << 8) | bytes[at + 1];
}

export function readU32(bytes: Uint8Array, at: number): number {
  return ((bytes[at] << 24) | (bytes[at + 1] << 16) | (bytes[at + 2] << 8) | bytes[at + 3]) >>> 0;
}

export function writeU16(bytes: Uint8Array, at: number, value: number): void {
  bytes[at] = (value >>> 8) & 0xff;
  bytes[at + 1] = value & 0xff;
}

export function writeU32(bytes: Uint8Array, at: number, value: number): void {
  bytes[at] = (value >>> 24) & 0xff;
  bytes[at + 1] = (value >>> 16) & 0xff;
  bytes[at + 2] = (value >>> 8) & 0xff;
  bytes[at + 3] = value & 0xff;
}

/** A header needs `needed` bytes where only `available` are present. */
export function tooShort(header: string, needed: number, available: number): LarvalError {
  return new LarvalError('EINVAL', `${header}: needs ${needed} bytes, only ${available} available`, {
    field: header,
    value: available,
  });
}

/** A header field holds a value the format does not allow. */
export function badField(header: string, field: string, value: number, why: string): LarvalError {
  return new LarvalError('EINVAL', `${header} ${field}: ${why} (got ${value})`, { field: `${header}.${field}`, value });
}

/**
 * Validate where a view starts. Returns the bytes available from there, so that a
 * view's `check` can compare them with what its header needs.
 */
export function availableFrom(header: string, bytes: Uint8Array, offset: number): number {
  if (!(bytes instanceof Uint8Array)) throw invalid(header, bytes, 'expected a Uint8Array');
  if (!Number.isInteger(offset) || offset < 0 || offset > bytes.length) {
    throw invalid(`${header} offset`, offset, `must be an integer 0..${bytes.length}`);
  }
  return bytes.length - offset;
}

/** Bytes of an address given as a string or as raw bytes of the expected size. */
export function addressBytes(value: string | Uint8Array, family: 4 | 6, field: string): Uint8Array {
  const size = family === 4 ? 4 : 16;
  if (value instanceof Uint8Array) {
    if (value.length !== size) throw invalid(field, value, `an IPv${family} address has ${size} bytes`);
    return value;
  }
  const addr = parseAddress(value, field);
  if (addr.family !== family) throw invalid(field, value, `expected an IPv${family} address`);
  const out = new Uint8Array(size);
  for (let i = 0; i < size / 4; i++) writeU32(out, i * 4, addr.words[i]);
  return out;
}

/** Address bytes (4 or 16) -> the four-word form of src/common/addr.ts. */
export function addressWords(bytes: Uint8Array): Uint32Array {
  const words = new Uint32Array(4);
  for (let i = 0; i < bytes.length / 4; i++) words[i] = readU32(bytes, i * 4);
  return words;
}

export function requireRange(field: string, value: unknown, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw invalid(field, value, `must be an integer ${min}..${max}`);
  }
  return value;
}

/** Room check for emitters: writing `length` bytes at `offset` must stay inside `buffer`. */
export function requireRoom(header: string, buffer: Uint8Array, offset: number, length: number): void {
  const available = availableFrom(header, buffer, offset);
  if (length > available) throw tooShort(`${header} (emit)`, length, available);
}
