// A progress bar on a terminal (stderr), nothing when output is piped: long replays
// show how far they got without polluting what a program reads.

import type { WriteStream } from 'node:tty';

export class Progress {
  private readonly tty: boolean;
  private last = 0;
  private shown = false;

  constructor(private readonly stream: NodeJS.WriteStream | WriteStream, private readonly label: string, private readonly total: number) {
    this.tty = Boolean((stream as WriteStream).isTTY);
  }

  /** `done` units of `total` (e.g. bytes read). Redraws at most 10 times a second. */
  update(done: number): void {
    if (!this.tty) return;
    const now = Date.now();
    if (now - this.last < 100) return;
    this.last = now;
    const width = 30;
    const f = this.total > 0 ? Math.min(1, done / this.total) : 0;
    const filled = Math.round(f * width);
    this.stream.write(`\r${this.label.padEnd(10)} [${'#'.repeat(filled)}${' '.repeat(width - filled)}] ${(f * 100).toFixed(0).padStart(3)}%`);
    this.shown = true;
  }

  done(): void {
    if (this.shown) this.stream.write('\r\x1b[K');
    this.shown = false;
  }
}
