// A one-line progress bar redrawn in place on a terminal stream. Only used when the
// stream is a TTY; scripts and pipes get no progress output. Main thread only.
import type { CheckpointProgress } from '../checkpoint/checkpoint.js';
import { formatBytes } from './human-units.js';

const WIDTH = 24;

export interface TerminalStream {
  write(text: string): unknown;
  columns?: number;
}

export class ProgressBar {
  readonly #stream: TerminalStream;
  #drawn = false;

  constructor(stream: TerminalStream) {
    this.#stream = stream;
  }

  /** Any phase name: checkpoint phases, and the backup engine's (uploading, downloading…). */
  update(p: Omit<CheckpointProgress, 'phase'> & { phase: string }): void {
    const fraction = p.bytesTotal > 0 ? p.bytesDone / p.bytesTotal : p.filesTotal > 0 ? p.filesDone / p.filesTotal : 1;
    const filled = Math.round(Math.min(1, fraction) * WIDTH);
    const line = `[${'#'.repeat(filled)}${'-'.repeat(WIDTH - filled)}] ${String(Math.round(fraction * 100)).padStart(3)}% ` +
      `${p.filesDone}/${p.filesTotal} files ${formatBytes(p.bytesDone)}/${formatBytes(p.bytesTotal)} ${p.phase}`;
    const columns = this.#stream.columns ?? 80;
    this.#stream.write(`\r\x1b[K${line.slice(0, Math.max(0, columns - 1))}`);
    this.#drawn = true;
  }

  /** Erases the bar so the next output starts on a clean line. */
  clear(): void {
    if (this.#drawn) this.#stream.write('\r\x1b[K');
    this.#drawn = false;
  }
}
