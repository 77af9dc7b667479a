// Streaming capture readers: pcap or pcapng, told apart by the first 4 bytes.
//
// The file is read in chunks (1 MiB by default) into one buffer; records are
// decoded straight out of it into a RecordBatch (typed arrays of offsets,
// lengths and timestamps), so the batch API costs no object, Promise or copy
// per record. A record or block that straddles the end of the buffer is moved
// to the front before the next read; one larger than the buffer makes it grow,
// up to the largest record a valid file may hold (256 KiB captured, 16 MiB for
// a pcapng block), checked before anything is allocated. Memory is therefore
// bounded whatever the file's size.

import { closeSync, openSync, readSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { RecordBatch, type CaptureRecord } from './batch.js';
import { CaptureError } from './capture-error.js';
import { Input, type CaptureInfo, type Parser } from './input.js';
import { PcapParser } from './pcap.js';
import { PcapngParser } from './pcapng.js';
import { BLOCK_SHB, isPcapMagic } from './formats.js';

export interface CaptureOptions {
  /** Bytes read at a time; default 1 MiB (minimum 16, for tests of the chunk seams). */
  chunkSize?: number;
  /** Most records per batch; default 8192. */
  batchSize?: number;
  /**
   * A file that ends inside a record or block (after a complete file header):
   * 'error' (default) throws a CaptureError with code 'truncated' once the complete
   * records before it have been delivered; 'stop' ends the capture there and leaves
   * that error in `truncation`.
   */
  onTruncated?: 'error' | 'stop';
}

export interface SyncCaptureOptions extends CaptureOptions {
  /** Name used in error messages for an in-memory capture; default "<memory>". */
  name?: string;
}

export const DEFAULT_CHUNK_SIZE = 1 << 20;
export const DEFAULT_BATCH_SIZE = 8192;

interface Resolved {
  chunkSize: number;
  batchSize: number;
  stop: boolean;
}

function resolve(options: CaptureOptions | undefined): Resolved {
  const o = options ?? {};
  if (typeof o !== 'object') throw new TypeError('capture options must be an object');
  const chunkSize = o.chunkSize ?? DEFAULT_CHUNK_SIZE;
  const batchSize = o.batchSize ?? DEFAULT_BATCH_SIZE;
  if (!Number.isInteger(chunkSize) || chunkSize < 16 || chunkSize > 1 << 30) {
    throw new RangeError(`capture options.chunkSize must be an integer in 16 .. 2^30, got ${String(chunkSize)}`);
  }
  if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > 1 << 20) {
    throw new RangeError(`capture options.batchSize must be an integer in 1 .. 2^20, got ${String(batchSize)}`);
  }
  if (o.onTruncated !== undefined && o.onTruncated !== 'error' && o.onTruncated !== 'stop') {
    throw new TypeError(`capture options.onTruncated must be 'error' or 'stop', got ${String(o.onTruncated)}`);
  }
  return { chunkSize, batchSize, stop: o.onTruncated === 'stop' };
}

/** Buffer statistics of a reader, for checking that memory stays bounded. */
export interface ReaderStats {
  /** Bytes read from the file so far. */
  bytesRead: number;
  /** Largest read buffer allocated. */
  maxBufferBytes: number;
  /** Read buffers allocated (1 in batch mode unless a record outgrew the buffer). */
  buffersAllocated: number;
}

const NEED_READ_MIN = 1; // step() result > 0: bytes needed
const BATCH_READY = 0;
const END = -1;

/** The format-independent state machine shared by the async and sync readers. */
class Engine {
  readonly input: Input;
  readonly batch: RecordBatch;
  parser: Parser | null = null;
  truncation: CaptureError | null = null;
  readonly stats: ReaderStats = { bytesRead: 0, maxBufferBytes: 0, buffersAllocated: 0 };
  private pending: CaptureError | null = null;

  constructor(file: string, private readonly options: Resolved, private readonly stable: boolean, bytes?: Uint8Array) {
    this.input = new Input(file, bytes ?? new Uint8Array(0));
    if (bytes !== undefined) {
      this.input.end = bytes.length;
      this.input.eof = true;
      this.stats.bytesRead = bytes.length;
    }
    this.batch = new RecordBatch(options.batchSize);
  }

  /** File offset where the next read goes. */
  get readPosition(): number {
    return this.input.base + this.input.end;
  }

  /** BATCH_READY: the batch holds records; END; or the bytes needed before calling again (after room() and a read). */
  step(): number {
    if (this.pending !== null) {
      const e = this.pending;
      this.pending = null;
      throw e;
    }
    const inp = this.input;
    const b = this.batch;
    b.count = 0;
    b.bytes = inp.buf;
    let need = 0;
    try {
      if (this.parser === null) need = this.detect(); // sets the parser once 4 bytes are in
      if (this.parser !== null) {
        b.firstIndex = this.parser.record;
        need = this.parser.fill(b);
      }
    } catch (e) {
      if (e instanceof CaptureError && b.count > 0) {
        this.pending = e;
        return BATCH_READY;
      }
      throw e;
    }
    if (b.count > 0) return BATCH_READY;
    if (need < NEED_READ_MIN) throw new Error(`capture reader: parser made no progress (need ${need})`);
    if (!inp.eof) return need;
    const parser = this.parser;
    if (parser !== null && inp.pos === inp.end && parser.atBoundary()) return END;
    if (parser === null) {
      const avail = inp.end - inp.pos;
      throw inp.error('truncated', 0, 0, avail === 0 ? 'the file is empty' : `the file is ${avail} bytes long, too short for a capture file header`);
    }
    const err = parser.truncated(need);
    if (this.options.stop && parser.atBoundary()) {
      this.truncation = err;
      return END;
    }
    throw err;
  }

  private detect(): number {
    const inp = this.input;
    if (inp.end - inp.pos < 4) return 4;
    const magic = inp.dv.getUint32(inp.pos, true);
    if (magic === BLOCK_SHB) {
      this.parser = new PcapngParser(inp);
    } else if (isPcapMagic(magic)) {
      this.parser = new PcapParser(inp);
    } else {
      const hex = [...inp.buf.subarray(inp.pos, inp.pos + 4)].map((x) => x.toString(16).padStart(2, '0')).join(' ');
      throw inp.error('malformed', 0, 0, `not a pcap or pcapng file: it starts with ${hex}`);
    }
    return 0;
  }

  /**
   * Makes room for at least `need` bytes from input.pos (moving the unparsed tail to
   * the front, or into a new buffer) and returns where to read: [offset, length].
   */
  room(need: number): [offset: number, length: number] {
    const inp = this.input;
    const tail = inp.end - inp.pos;
    const free = inp.buf.length - inp.end;
    if (this.stable && inp.buf.length - inp.pos >= need && free * 8 >= inp.buf.length) {
      // Records already handed out keep their bytes: read on into the free space.
      return [inp.end, free];
    }
    const capacity = Math.max(this.options.chunkSize, need);
    if (this.stable || inp.buf.length < capacity) {
      const buf = new Uint8Array(capacity);
      buf.set(inp.buf.subarray(inp.pos, inp.end));
      inp.setBuffer(buf);
      this.stats.buffersAllocated++;
      if (capacity > this.stats.maxBufferBytes) this.stats.maxBufferBytes = capacity;
    } else if (inp.pos > 0) {
      inp.buf.copyWithin(0, inp.pos, inp.end);
    }
    inp.base += inp.pos;
    inp.pos = 0;
    inp.end = tail;
    return [tail, inp.buf.length - tail];
  }

  /** Records a read of n bytes (0: end of file). */
  added(n: number): void {
    if (n === 0) this.input.eof = true;
    this.input.end += n;
    this.stats.bytesRead += n;
  }
}

/** A capture file, read as it is iterated. Each iteration reads the file anew. */
// What both readers tell about their most recent iteration.
abstract class CaptureState {
  protected engine: Engine | null = null;

  /** What the most recent iteration learnt of the file so far (null before any). */
  get info(): CaptureInfo | null {
    return this.engine?.parser?.info() ?? null;
  }

  /** With onTruncated: 'stop', why the most recent iteration ended early; else null. */
  get truncation(): CaptureError | null {
    return this.engine?.truncation ?? null;
  }

  /** Buffer statistics of the most recent iteration. */
  get stats(): ReaderStats | null {
    return this.engine?.stats ?? null;
  }
}

export class Capture extends CaptureState implements AsyncIterable<CaptureRecord> {
  private readonly options: Resolved;

  constructor(readonly path: string, options?: CaptureOptions) {
    super();
    if (typeof path !== 'string' || path === '') throw new TypeError('capture path must be a non-empty string');
    this.options = resolve(options);
  }

  /**
   * The records in batches. The batch object and the buffer its offsets point into
   * are reused: a batch is valid until the iterator is resumed.
   */
  batches(): AsyncGenerator<RecordBatch, void, undefined> {
    return this.run(false);
  }

  /** The records one by one; each record's data and ip stay valid after iteration moves on. */
  async *records(): AsyncGenerator<CaptureRecord, void, undefined> {
    for await (const b of this.run(true)) {
      for (let i = 0; i < b.count; i++) yield b.record(i);
    }
  }

  [Symbol.asyncIterator](): AsyncGenerator<CaptureRecord, void, undefined> {
    return this.records();
  }

  private async *run(stable: boolean): AsyncGenerator<RecordBatch, void, undefined> {
    const fh = await open(this.path, 'r');
    try {
      const engine = new Engine(this.path, this.options, stable);
      this.engine = engine;
      for (const step of steps(engine)) {
        if (step instanceof RecordBatch) yield step;
        else engine.added((await fh.read(engine.input.buf, step.offset, step.length, step.position)).bytesRead);
      }
    } finally {
      await fh.close();
    }
  }
}

/** A read the engine needs before it can go on: `length` bytes at file `position` into its buffer at `offset`. */
interface ReadRequest {
  position: number;
  offset: number;
  length: number;
}

// The one driving loop of both readers: batches as they fill, and the reads the
// engine needs in between. The async reader answers the reads with await, the sync
// one with readSync; the caller reports each read's byte count with engine.added().
function* steps(engine: Engine): Generator<RecordBatch | ReadRequest, void, undefined> {
  for (;;) {
    const need = engine.step();
    if (need === BATCH_READY) {
      yield engine.batch;
      continue;
    }
    if (need === END) return;
    const position = engine.readPosition;
    const [offset, length] = engine.room(need);
    yield { position, offset, length };
  }
}

/** Opens a capture file for streaming reads; nothing is read until it is iterated. */
export function openCapture(path: string, options?: CaptureOptions): Capture {
  return new Capture(path, options);
}

/**
 * A capture read synchronously: from a file (in chunks, like Capture) or from
 * bytes in memory (used in place, not copied).
 */
export class CaptureSync extends CaptureState implements Iterable<CaptureRecord> {
  private readonly options: Resolved;
  readonly name: string;

  constructor(readonly source: string | Uint8Array, options?: SyncCaptureOptions) {
    super();
    if (typeof source === 'string') {
      if (source === '') throw new TypeError('capture path must be a non-empty string');
      this.name = source;
    } else if (source instanceof Uint8Array) {
      this.name = options?.name ?? '<memory>';
    } else {
      throw new TypeError('capture source must be a path or a Uint8Array');
    }
    this.options = resolve(options);
  }

  /** The records in batches; a batch is valid until the iterator is resumed. */
  batches(): Generator<RecordBatch, void, undefined> {
    return this.run(false);
  }

  *records(): Generator<CaptureRecord, void, undefined> {
    for (const b of this.run(true)) {
      for (let i = 0; i < b.count; i++) yield b.record(i);
    }
  }

  [Symbol.iterator](): Generator<CaptureRecord, void, undefined> {
    return this.records();
  }

  private *run(stable: boolean): Generator<RecordBatch, void, undefined> {
    const source = this.source;
    if (typeof source !== 'string') {
      const engine = new Engine(this.name, this.options, stable, source);
      this.engine = engine;
      for (;;) {
        const need = engine.step();
        if (need === BATCH_READY) yield engine.batch;
        else if (need === END) return;
        else throw new Error('unreachable: in-memory capture asked for more input');
      }
    }
    const fd = openSync(source, 'r');
    try {
      const engine = new Engine(this.name, this.options, stable);
      this.engine = engine;
      for (const step of steps(engine)) {
        if (step instanceof RecordBatch) yield step;
        else engine.added(readSync(fd, engine.input.buf, step.offset, step.length, step.position));
      }
    } finally {
      closeSync(fd);
    }
  }
}

/** Opens a capture for synchronous reading (a path, read in chunks, or bytes in memory). */
export function openCaptureSync(source: string | Uint8Array, options?: SyncCaptureOptions): CaptureSync {
  return new CaptureSync(source, options);
}
