// Progress reports of the long BackupEngine operations (backup, restore, verify, prune):
// counts of files and bytes plus a rate. One tracker per operation, main thread only.

/** The phases of the engine's operations, in the order each operation goes through its own. */
export type BackupPhase = 'checkpoint' | 'hashing' | 'uploading' | 'manifest' | 'downloading' | 'verifying' | 'syncing' | 'deleting' | 'done';

/** Where a backup, restore, verify or prune stands; handed to `onProgress`. */
export interface BackupProgress {
  phase: BackupPhase;
  /** Files (or objects) of this phase done so far, of `filesTotal`. */
  filesDone: number;
  filesTotal: number;
  /** Bytes of this phase done so far, of `bytesTotal`. */
  bytesDone: number;
  bytesTotal: number;
  /** Average over the phase so far (bytes per second of wall time). */
  bytesPerSecond: number;
}

/** An `onProgress` callback. Called synchronously on the engine's path: keep it short. */
export type ProgressListener = (progress: BackupProgress) => void;

/** Reports at most every `intervalMs` for byte-level ticks; phase changes and file completions always report. */
export class ProgressTracker {
  readonly #listener: ProgressListener | undefined;
  #phase: BackupPhase = 'checkpoint';
  #filesDone = 0;
  #filesTotal = 0;
  #bytesDone = 0;
  #bytesTotal = 0;
  #phaseStarted = performance.now();
  #lastReport = 0;

  constructor(listener: ProgressListener | undefined) {
    this.#listener = listener;
  }

  /** Starts a phase; `done` is work of it that already ran behind the previous phase. */
  phase(phase: BackupPhase, filesTotal: number, bytesTotal: number, done?: { files: number; bytes: number }): void {
    this.#phase = phase;
    this.#filesDone = done?.files ?? 0;
    this.#bytesDone = done?.bytes ?? 0;
    this.#filesTotal = filesTotal;
    this.#bytesTotal = bytesTotal;
    this.#phaseStarted = performance.now();
    this.#report();
  }

  bytes(n: number): void {
    this.#bytesDone += n;
    if (performance.now() - this.#lastReport >= 100) this.#report();
  }

  fileDone(): void {
    this.#filesDone++;
    this.#report();
  }

  #report(): void {
    if (this.#listener === undefined) return;
    const now = performance.now();
    this.#lastReport = now;
    const seconds = (now - this.#phaseStarted) / 1000;
    this.#listener({
      phase: this.#phase,
      filesDone: this.#filesDone,
      filesTotal: this.#filesTotal,
      bytesDone: this.#bytesDone,
      bytesTotal: this.#bytesTotal,
      bytesPerSecond: seconds > 0 ? Math.round(this.#bytesDone / seconds) : 0,
    });
  }
}
