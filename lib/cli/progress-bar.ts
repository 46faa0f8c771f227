// A one-line progress bar on a terminal stream, drawn by cli-progress. Only made when the
// stream is a TTY (commands check): scripts and pipes get no progress output. Main thread only.
import cliProgress from 'cli-progress';
import type { CheckpointProgress } from '../checkpoint/checkpoint.js';
import { formatBytes } from './human-units.js';

export interface TerminalStream {
  write(text: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

/** What a frame shows: progress of `done` out of `total` units, with a description. */
interface Frame {
  done: number;
  total: number;
  detail: string;
  phase: string;
}

export class ProgressBar {
  readonly #bar: cliProgress.SingleBar;
  #started = false;

  constructor(stream: TerminalStream) {
    this.#bar = new cliProgress.SingleBar({
      // cli-progress writes through readline's cursor helpers, which only need write().
      stream: stream as NodeJS.WritableStream,
      format: '[{bar}] {percentage}% {detail} {phase}',
      barsize: 24,
      barCompleteChar: '#',
      barIncompleteChar: '-',
      hideCursor: false,
      linewrap: false,
      clearOnComplete: true,
      // Every update draws (no timer): the commands report at most every 100 ms anyway.
      fps: 10,
      synchronousUpdate: true,
      forceRedraw: true,
    });
  }

  /** Checkpoint, backup, restore and verify progress: files and bytes. */
  update(p: Omit<CheckpointProgress, 'phase'> & { phase: string }): void {
    const byBytes = p.bytesTotal > 0;
    this.#draw({
      done: byBytes ? p.bytesDone : p.filesDone,
      total: byBytes ? p.bytesTotal : p.filesTotal,
      detail: `${p.filesDone}/${p.filesTotal} files ${formatBytes(p.bytesDone)}/${formatBytes(p.bytesTotal)}`,
      phase: p.phase,
    });
  }

  /** Any other count: `done` of `total` `unit`s (entries, partitions…). */
  step(phase: string, done: number, total: number, unit: string): void {
    this.#draw({ done, total, detail: `${done}/${total} ${unit}`, phase });
  }

  #draw(frame: Frame): void {
    const total = Math.max(frame.total, 1);
    const payload = { detail: frame.detail, phase: frame.phase };
    if (!this.#started) {
      this.#started = true;
      this.#bar.start(total, Math.min(frame.done, total), payload);
      return;
    }
    this.#bar.setTotal(total);
    this.#bar.update(Math.min(frame.done, total), payload);
  }

  /** Erases the bar so the next output starts on a clean line. */
  clear(): void {
    if (this.#started) this.#bar.stop();
    this.#started = false;
  }
}
