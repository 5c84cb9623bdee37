import type { Logger } from '@phudge/core';

/** Seconds between progress log lines when stderr is not a terminal. */
const LOG_INTERVAL_MS = 10_000;
/** Redraws of the terminal bar, at most this often. */
const DRAW_INTERVAL_MS = 100;

/**
 * Progress of a long grading run: a bar on stderr when it is a terminal, periodic log lines
 * otherwise (CI logs, files), never on stdout where results may go.
 */
export class Progress {
  private items = 0;
  private lastDraw = 0;
  private readonly started = performance.now();
  private readonly timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly logger: Logger,
    private readonly source: { totalBytes: number | undefined; bytesRead: () => number },
    private readonly terminal = Boolean(process.stderr.isTTY),
  ) {
    if (!terminal) {
      this.timer = setInterval(() => this.log(), LOG_INTERVAL_MS);
      this.timer.unref();
    }
  }

  tick(): void {
    this.items += 1;
    if (!this.terminal) return;
    const now = performance.now();
    if (now - this.lastDraw < DRAW_INTERVAL_MS) return;
    this.lastDraw = now;
    process.stderr.write(`\r${this.line()}\u001b[K`);
  }

  done(): void {
    if (this.timer) clearInterval(this.timer);
    if (this.terminal) process.stderr.write(`\r${this.line()}\u001b[K\n`);
  }

  private fraction(): number | undefined {
    const { totalBytes } = this.source;
    return totalBytes ? Math.min(1, this.source.bytesRead() / totalBytes) : undefined;
  }

  private rate(): number {
    const seconds = (performance.now() - this.started) / 1000;
    return seconds > 0 ? this.items / seconds : 0;
  }

  private line(): string {
    const fraction = this.fraction();
    const rate = `${this.items} items, ${this.rate().toFixed(1)} items/s`;
    if (fraction === undefined) return `grading: ${rate}`;
    const width = 30;
    const filled = Math.round(fraction * width);
    return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${(fraction * 100).toFixed(0).padStart(3)}% ${rate}`;
  }

  private log(): void {
    const fraction = this.fraction();
    this.logger.info(
      {
        items: this.items,
        itemsPerSecond: Number(this.rate().toFixed(2)),
        ...(fraction !== undefined ? { percent: Math.round(fraction * 100) } : {}),
      },
      'grading progress',
    );
  }
}
