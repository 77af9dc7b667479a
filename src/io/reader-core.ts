// The capture reader's state machine, platform-neutral (issue 18): it decodes pcap
// and pcapng records from bytes it is given; io/reader.ts feeds it from files in
// Node, and readCaptureBytes() from bytes in memory (the page: a dropped file).

import { RecordBatch } from './batch.js';
import { CaptureError } from './capture-error.js';
import { Input, type Parser } from './input.js';
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

export interface Resolved {
  chunkSize: number;
  batchSize: number;
  stop: boolean;
}

export function resolve(options: CaptureOptions | undefined): Resolved {
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

export const NEED_READ_MIN = 1; // step() result > 0: bytes needed
export const BATCH_READY = 0;
export const END = -1;

/** The format-independent state machine shared by the async and sync readers. */
export class ReaderEngine {
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


/**
 * The records of a whole capture held in memory, in batches (each valid until the
 * generator is resumed). `name` names it in errors.
 */
export function* readCaptureBytes(bytes: Uint8Array, name = '<memory>', options?: CaptureOptions): Generator<RecordBatch, void, undefined> {
  const engine = new ReaderEngine(name, resolve(options), false, bytes);
  for (;;) {
    const need = engine.step();
    if (need === BATCH_READY) yield engine.batch;
    else if (need === END) return;
    else throw new Error('unreachable: in-memory capture asked for more input');
  }
}
