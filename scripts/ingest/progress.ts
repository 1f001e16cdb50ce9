const BAR_WIDTH = 24;
const REDRAW_MS = 100;

/**
 * A one-line progress bar (files, chunks/s, ETA) redrawn in place on a terminal; on anything
 * else (a pipe, a CI log) it stays silent, so the output is the summary alone. The ETA comes
 * from bytes, not files: one large file takes as long as many small ones.
 */
export class Progress {
  private readonly startedAt = Date.now();
  private files = 0;
  private bytes = 0;
  private chunks = 0;
  private problems = 0;
  private drawnAt = 0;
  private status = '';

  constructor(
    private readonly stream: NodeJS.WriteStream | undefined,
    private readonly totalFiles: number,
    private readonly totalBytes: number,
  ) {}

  start(): void {
    this.draw(true);
  }

  /** Shown until the next file is done: why the bar stands still. */
  waiting(why: string, milliseconds: number): void {
    this.status = `${why}, waiting ${formatSeconds(milliseconds / 1000)}`;
    this.draw(true);
  }

  /** One file done: `chunks` indexed, or a problem (skipped or failed). */
  advance(file: { bytes: number; chunks?: number }): void {
    this.files += 1;
    this.status = '';
    this.bytes += file.bytes;
    if (file.chunks === undefined) this.problems += 1;
    else this.chunks += file.chunks;
    this.draw(this.files === this.totalFiles);
  }

  /** Clears the bar, so the summary starts on a clean line. */
  finish(): void {
    if (this.stream && this.drawnAt > 0) this.stream.write('\r\u001b[2K');
  }

  private draw(force: boolean): void {
    if (!this.stream) return;
    const now = Date.now();
    if (!force && now - this.drawnAt < REDRAW_MS) return;
    this.drawnAt = now;
    const seconds = Math.max((now - this.startedAt) / 1000, 0.001);
    const done = this.totalBytes > 0 ? this.bytes / this.totalBytes : 1;
    const filled = Math.round(done * BAR_WIDTH);
    const eta = done > 0 ? (seconds * (1 - done)) / done : Number.NaN;
    const line = [
      `[${'█'.repeat(filled)}${'░'.repeat(BAR_WIDTH - filled)}]`,
      `${this.files}/${this.totalFiles} files`,
      `${this.chunks} chunks`,
      `${(this.chunks / seconds).toFixed(1)} chunks/s`,
      `ETA ${formatSeconds(eta)}`,
      ...(this.problems > 0 ? [`${this.problems} not ingested`] : []),
      ...(this.status ? [this.status] : []),
    ].join(' · ');
    this.stream.write(`\r\u001b[2K${line.slice(0, (this.stream.columns || 120) - 1)}`);
  }
}

export function formatSeconds(seconds: number): string {
  if (!Number.isFinite(seconds)) return '?';
  if (seconds < 60) return `${seconds.toFixed(seconds < 10 ? 1 : 0)} s`;
  const minutes = Math.floor(seconds / 60);
  return `${minutes} min ${Math.round(seconds - minutes * 60)} s`;
}
