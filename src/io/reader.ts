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
import type { CaptureError } from './capture-error.js';
import type { CaptureInfo } from './input.js';

export type { CaptureOptions, ReaderStats, SyncCaptureOptions } from './reader-core.js';
export { DEFAULT_CHUNK_SIZE, DEFAULT_BATCH_SIZE, readCaptureBytes } from './reader-core.js';
import { ReaderEngine as Engine, resolve, BATCH_READY, END, type CaptureOptions, type Resolved, type ReaderStats, type SyncCaptureOptions } from './reader-core.js';

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
