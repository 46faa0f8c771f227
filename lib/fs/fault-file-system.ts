// FaultFileSystem: wraps another FileSystem to inject Node-shaped errors (by op kind,
// call number, path, batch item), simulate a power cut after N mutating calls, and
// record a readable trace of every call for golden protocol tests. For tests only.
// Safe for concurrent calls; counters and the trace follow the order calls are issued.
import { CairnError, ErrorCodes, hasCode, systemError } from '../errors.js';
import type {
  BatchItemError,
  BatchOptions,
  BatchResult,
  CopyOptions,
  CopyRequest,
  FileHandle,
  FileStat,
  FileSystem,
  ItemOutcome,
  LockHandle,
  MkdirResult,
  OpenMode,
  PathPair,
  ReadHandle,
  SyncOptions,
} from './file-system.js';
import { batchItemError } from './node-file-system.js';
import { validateBatchOptions, validateCopyRequests, validatePairs, validatePath, validatePaths } from './arguments.js';

/**
 * Every kind of call the wrapper sees. Batch items are also counted as their element
 * kind (a linkBatch item is a 'link', a copyBatch item a 'copy', a syncBatch item a
 * 'sync', a syncDirs item a 'syncDir'), so one rule covers both forms.
 */
export type FaultOp =
  | 'open' | 'read' | 'write' | 'sync' | 'truncate' | 'fstat' | 'close'
  | 'readFile' | 'writeFile' | 'rename' | 'link' | 'copy' | 'unlink' | 'mkdir' | 'rmdir'
  | 'removeTree' | 'readdir' | 'stat' | 'syncDir' | 'lock' | 'unlock' | 'sameDevice'
  | 'linkBatch' | 'copyBatch' | 'syncBatch' | 'syncDirs';

const BATCH_OPS: ReadonlySet<FaultOp> = new Set<FaultOp>(['linkBatch', 'copyBatch', 'syncBatch', 'syncDirs']);

const SYSCALLS: Record<FaultOp, string> = {
  open: 'open', read: 'read', write: 'write', sync: 'fsync', truncate: 'ftruncate', fstat: 'fstat', close: 'close',
  readFile: 'read', writeFile: 'write', rename: 'rename', link: 'link', copy: 'copyfile', unlink: 'unlink',
  mkdir: 'mkdir', rmdir: 'rmdir', removeTree: 'rm', readdir: 'scandir', stat: 'stat', syncDir: 'fsync',
  lock: 'flock', unlock: 'flock', sameDevice: 'stat', linkBatch: 'link', copyBatch: 'copyfile', syncBatch: 'fsync',
  syncDirs: 'fsync',
};

export interface FaultRule {
  /** The op kind(s) the rule watches; '*' for all. */
  op: FaultOp | readonly FaultOp[] | '*';
  /** Fail only the Nth matching call (1-based, counted from injection). Omitted: every matching call. */
  nth?: number;
  /** Only calls with a path containing this string, or matching this RegExp (either path of a pair). */
  path?: string | RegExp;
  /** The error code (default 'EIO'); errno comes from os.constants.errno. */
  code?: string;
  /** Batch ops only: fail this item (0-based) instead of rejecting the whole call. */
  item?: number;
}

/** An injected rule, live: `hits` counts the faults it produced; `remove()` disarms it. */
export interface InjectedFault {
  readonly rule: Readonly<FaultRule>;
  readonly hits: number;
  remove(): void;
}

export interface FaultFileSystemOptions {
  /** Rewrites every path in trace lines, e.g. to replace a temp root with `<root>`. */
  rewritePath?: (path: string) => string;
}

/** A Node-shaped system error for an injected fault. */
export interface InjectedError extends BatchItemError {
  injected: true;
}

interface TraceEntry {
  line: string;
  mutating: boolean;
  failure?: string;
}

interface HandleGate {
  call(op: FaultOp, mutating: boolean, verb: string, path: string): Call;
  run<T>(call: Call, body: () => Promise<T>): Promise<T>;
  runSync<T>(call: Call, body: () => T): T;
}

interface Call {
  op: FaultOp;
  paths: readonly string[];
  mutating: boolean;
  line: string;
}

class ArmedRule implements InjectedFault {
  readonly rule: Readonly<FaultRule>;
  hits = 0;
  seen = 0;
  removed = false;

  constructor(rule: FaultRule) {
    this.rule = Object.freeze({ ...rule });
  }

  remove(): void {
    this.removed = true;
  }

  watches(op: FaultOp): boolean {
    const { op: watched } = this.rule;
    if (watched === '*') return true;
    return typeof watched === 'string' ? watched === op : watched.includes(op);
  }

  pathMatches(paths: readonly string[]): boolean {
    const { path } = this.rule;
    if (path === undefined) return true;
    return paths.some((p) => (typeof path === 'string' ? p.includes(path) : path.test(p)));
  }
}

/** Replaces every occurrence of `root` at the start of a path with `label`. */
export function replaceRoot(root: string, label = '<root>'): (path: string) => string {
  return (path) => (path === root || path.startsWith(`${root}/`) ? label + path.slice(root.length) : path);
}

/** Builds the error an injected fault rejects with: code, errno, syscall, path, dest. */
export function injectedError(code: string, op: FaultOp, paths: readonly string[]): InjectedError {
  const [path, dest] = paths;
  const err = systemError(code, SYSCALLS[op], { path, dest, description: 'injected fault' }) as InjectedError;
  err.injected = true;
  return err;
}

export class FaultFileSystem implements FileSystem {
  readonly kind: string;
  readonly inner: FileSystem;
  readonly #rewrite: (path: string) => string;
  readonly #rules: ArmedRule[] = [];
  readonly #trace: TraceEntry[] = [];
  #crashLimit: number | undefined;
  #mutations = 0;
  #crashed = false;

  constructor(inner: FileSystem, options: FaultFileSystemOptions = {}) {
    this.inner = inner;
    this.kind = `fault(${inner.kind})`;
    this.#rewrite = options.rewritePath ?? ((p) => p);
  }

  /** Arms a rule; it applies to calls issued from now on. */
  inject(rule: FaultRule): InjectedFault {
    if (rule.nth !== undefined && (!Number.isSafeInteger(rule.nth) || rule.nth < 1)) throw new RangeError('nth must be a positive integer');
    if (rule.item !== undefined && (!Number.isSafeInteger(rule.item) || rule.item < 0)) throw new RangeError('item must be a non-negative integer');
    if (rule.item !== undefined && (rule.op === '*' || (typeof rule.op === 'string' ? [rule.op] : rule.op).some((op) => !BATCH_OPS.has(op)))) {
      throw new TypeError('item is only meaningful for batch ops (linkBatch, copyBatch, syncBatch, syncDirs)');
    }
    if (rule.code !== undefined && (typeof rule.code !== 'string' || rule.code.length === 0)) throw new TypeError('code must be a non-empty string');
    const armed = new ArmedRule(rule);
    this.#rules.push(armed);
    return armed;
  }

  /** Disarms every rule (the crash state stays). */
  clearFaults(): void {
    for (const rule of this.#rules) rule.remove();
    this.#rules.length = 0;
  }

  /**
   * After `n` more mutating calls (writes, syncs, links, renames, creations, removals),
   * every call rejects with CAIRN_INJECTED_FAULT, as if the power went out.
   */
  crashAfter(n: number): void {
    if (!Number.isSafeInteger(n) || n < 0) throw new RangeError('n must be a non-negative integer');
    this.#crashLimit = this.#mutations + n;
  }

  /** True once a simulated power cut has happened. */
  get crashed(): boolean {
    return this.#crashed;
  }

  /** Mutating calls let through so far. */
  get mutations(): number {
    return this.#mutations;
  }

  /** The calls so far, one readable line each; a failed call ends with `! CODE`. */
  trace(options: { mutatingOnly?: boolean } = {}): string[] {
    return this.#trace
      .filter((entry) => options.mutatingOnly !== true || entry.mutating)
      .map((entry) => (entry.failure === undefined ? entry.line : `${entry.line} ! ${entry.failure}`));
  }

  clearTrace(): void {
    this.#trace.length = 0;
  }

  async open(path: string, mode: OpenMode): Promise<FileHandle> {
    validatePath(path);
    const handle = await this.#run({ op: 'open', paths: [path], mutating: mode !== 'r' && mode !== 'r+', line: `open ${this.#p(path)} (${mode})` }, () =>
      this.inner.open(path, mode),
    );
    return new FaultFileHandle(this.#gate, handle);
  }

  /** Present exactly when the inner file system has it; traced and faulted as an 'open'. */
  get openReadSync(): ((path: string) => ReadHandle) | undefined {
    const inner = this.inner;
    if (inner.openReadSync === undefined) return undefined;
    return (path: string): ReadHandle => {
      validatePath(path);
      const handle = this.#gate.runSync({ op: 'open', paths: [path], mutating: false, line: `open ${this.#p(path)} (r, sync)` }, () => inner.openReadSync!(path));
      return new FaultReadHandle(this.#gate, handle);
    };
  }

  async readFile(path: string): Promise<Buffer> {
    validatePath(path);
    return this.#run(this.#call('readFile', false, 'readFile', path), () => this.inner.readFile(path));
  }

  async writeFile(path: string, data: Uint8Array | string, options?: { exclusive?: boolean }): Promise<void> {
    validatePath(path);
    return this.#run(this.#call('writeFile', true, 'writeFile', path), () => this.inner.writeFile(path, data, options));
  }

  async rename(from: string, to: string): Promise<void> {
    validatePath(from, 'from');
    validatePath(to, 'to');
    return this.#run(this.#call('rename', true, 'rename', from, to), () => this.inner.rename(from, to));
  }

  async renameNoReplace(from: string, to: string): Promise<void> {
    validatePath(from, 'from');
    validatePath(to, 'to');
    // Traced and faulted as a 'rename': it is one, with a stricter contract.
    return this.#run(this.#call('rename', true, 'rename', from, to), () => this.inner.renameNoReplace(from, to));
  }

  async link(existing: string, newPath: string): Promise<void> {
    validatePath(existing, 'existing');
    validatePath(newPath, 'newPath');
    return this.#run(this.#call('link', true, 'link', existing, newPath), () => this.inner.link(existing, newPath));
  }

  async unlink(path: string): Promise<void> {
    validatePath(path);
    return this.#run(this.#call('unlink', true, 'unlink', path), () => this.inner.unlink(path));
  }

  async mkdir(path: string, options?: { recursive?: boolean }): Promise<MkdirResult> {
    validatePath(path);
    return this.#run(this.#call('mkdir', true, options?.recursive === true ? 'mkdir -p' : 'mkdir', path), () => this.inner.mkdir(path, options));
  }

  async rmdir(path: string): Promise<void> {
    validatePath(path);
    return this.#run(this.#call('rmdir', true, 'rmdir', path), () => this.inner.rmdir(path));
  }

  async removeTree(path: string): Promise<void> {
    validatePath(path);
    return this.#run(this.#call('removeTree', true, 'removeTree', path), () => this.inner.removeTree(path));
  }

  async readdir(path: string): Promise<string[]> {
    validatePath(path);
    return this.#run(this.#call('readdir', false, 'readdir', path), () => this.inner.readdir(path));
  }

  async stat(path: string): Promise<FileStat> {
    validatePath(path);
    return this.#run(this.#call('stat', false, 'stat', path), () => this.inner.stat(path));
  }

  async statOrUndefined(path: string): Promise<FileStat | undefined> {
    validatePath(path);
    return this.#run(this.#call('stat', false, 'stat', path), () => this.inner.statOrUndefined(path));
  }

  async syncFile(path: string, options?: { dataOnly?: boolean }): Promise<void> {
    validatePath(path);
    return this.#run(this.#call('sync', true, options?.dataOnly === true ? 'datasync' : 'sync', path), () => this.inner.syncFile(path, options));
  }

  async syncDir(path: string): Promise<void> {
    validatePath(path);
    return this.#run(this.#call('syncDir', true, 'syncDir', path), () => this.inner.syncDir(path));
  }

  async lock(path: string): Promise<LockHandle> {
    validatePath(path);
    const held = await this.#run(this.#call('lock', true, 'lock', path), () => this.inner.lock(path));
    return {
      path: held.path,
      unlock: () => this.#run(this.#call('unlock', true, 'unlock', path), () => held.unlock()),
    };
  }

  async sameDevice(a: string, b: string): Promise<boolean> {
    validatePath(a, 'a');
    validatePath(b, 'b');
    return this.#run(this.#call('sameDevice', false, 'sameDevice', a, b), () => this.inner.sameDevice(a, b));
  }

  async linkBatch(pairs: readonly PathPair[], options?: BatchOptions): Promise<BatchResult> {
    validatePairs(pairs);
    validateBatchOptions(options);
    return this.#batch(
      'linkBatch',
      pairs.map(([from, to]) => this.#call('link', true, 'link', from, to)),
      options,
      (indices, opts) => this.inner.linkBatch(indices.map((i) => pairs[i] as PathPair), opts),
    );
  }

  async copyBatch(requests: readonly CopyRequest[], options?: CopyOptions): Promise<BatchResult> {
    const resolved = validateCopyRequests(requests, options);
    return this.#batch(
      'copyBatch',
      resolved.map(([from, to, limit]) => {
        const call = this.#call('copy', true, 'copy', from, to);
        return limit === undefined ? call : { ...call, line: `${call.line} (limit ${limit})` };
      }),
      options,
      (indices, opts) => this.inner.copyBatch(indices.map((i) => requests[i] as CopyRequest), opts),
    );
  }

  async syncBatch(paths: readonly string[], options?: SyncOptions): Promise<BatchResult> {
    validatePaths(paths);
    validateBatchOptions(options);
    const verb = options?.dataOnly === true ? 'datasync' : 'sync';
    return this.#batch(
      'syncBatch',
      paths.map((p) => this.#call('sync', true, verb, p)),
      options,
      (indices, opts) => this.inner.syncBatch(indices.map((i) => paths[i] as string), opts),
    );
  }

  async syncDirs(paths: readonly string[], options?: BatchOptions): Promise<BatchResult> {
    validatePaths(paths);
    validateBatchOptions(options);
    return this.#batch(
      'syncDirs',
      paths.map((p) => this.#call('syncDir', true, 'syncDir', p)),
      options,
      (indices, opts) => this.inner.syncDirs(indices.map((i) => paths[i] as string), opts),
    );
  }

  /** The gate every wrapped FileHandle goes through, the same one as every other call. */
  readonly #gate: HandleGate = {
    call: (op, mutating, verb, path) => this.#call(op, mutating, verb, path),
    run: (call, body) => this.#run(call, body),
    runSync: (call, body) => {
      const entry = this.#record(call);
      const fault = this.#decide(call);
      if (fault !== undefined) {
        entry.failure = fault.code;
        throw fault;
      }
      try {
        return body();
      } catch (err) {
        entry.failure = codeOf(err);
        throw err;
      }
    },
  };

  #p(path: string): string {
    return this.#rewrite(path);
  }

  #call(op: FaultOp, mutating: boolean, verb: string, path: string, dest?: string): Call {
    const line = dest === undefined ? `${verb} ${this.#p(path)}` : `${verb} ${this.#p(path)} -> ${this.#p(dest)}`;
    return { op, paths: dest === undefined ? [path] : [path, dest], mutating, line };
  }

  #record(call: Call): TraceEntry {
    const entry: TraceEntry = { line: call.line, mutating: call.mutating };
    this.#trace.push(entry);
    return entry;
  }

  async #run<T>(call: Call, body: () => Promise<T>): Promise<T> {
    const entry = this.#record(call);
    const fault = this.#decide(call);
    if (fault !== undefined) {
      entry.failure = fault.code;
      throw fault;
    }
    try {
      return await body();
    } catch (err) {
      entry.failure = codeOf(err);
      throw err;
    }
  }

  /**
   * The crash state, then the rules; a call let through counts toward the crash. A batch
   * item is judged by rules on its element op and by rules on its batch op that name
   * its index or a path; the whole batch call only by batch-op rules with neither.
   */
  #decide(call: Call, batch?: { op: FaultOp; index: number }): BatchItemError | CairnError | undefined {
    if (this.#crashed) return crashError(call);
    if (call.mutating && this.#crashLimit !== undefined && this.#mutations >= this.#crashLimit) {
      this.#crashed = true;
      return crashError(call);
    }
    let fault: BatchItemError | undefined;
    for (const rule of this.#rules) {
      if (rule.removed || !this.#applies(rule, call, batch)) continue;
      rule.seen++;
      if (fault === undefined && (rule.rule.nth === undefined || rule.seen === rule.rule.nth)) {
        rule.hits++;
        fault = injectedError(rule.rule.code ?? 'EIO', batch?.op ?? call.op, call.paths);
      }
    }
    if (fault === undefined && call.mutating) this.#mutations++;
    return fault;
  }

  #applies(rule: ArmedRule, call: Call, batch?: { op: FaultOp; index: number }): boolean {
    const { item, path } = rule.rule;
    if (batch !== undefined && rule.watches(batch.op) && (item !== undefined || path !== undefined)) {
      return (item === undefined || item === batch.index) && rule.pathMatches(call.paths);
    }
    if (!rule.watches(call.op) || item !== undefined) return false;
    if (BATCH_OPS.has(call.op)) return path === undefined;
    return rule.pathMatches(call.paths);
  }

  /**
   * Runs a batch through the gate: the whole call first, then each item in order. The
   * inner file system runs only the items not faulted (in stop mode, those before the
   * first fault), so what it reports lines up with the caller's indices. Items are judged
   * before the inner call, so after a real stop-mode failure the items that were never
   * attempted have still advanced rule counters and the crash count.
   */
  async #batch(
    op: FaultOp,
    items: Call[],
    options: BatchOptions | undefined,
    runInner: (indices: number[], options: BatchOptions) => Promise<BatchResult>,
  ): Promise<BatchResult> {
    const whole: Call = { op, paths: [], mutating: false, line: `${op} [${items.length}]` };
    const wholeEntry = this.#record(whole);
    const wholeFault = this.#decide(whole);
    if (wholeFault !== undefined) {
      wholeEntry.failure = wholeFault.code;
      throw wholeFault;
    }
    const continueOnError = options?.continueOnError === true;
    const entries: TraceEntry[] = [];
    const faults = new Map<number, BatchItemError | CairnError>();
    for (let i = 0; i < items.length; i++) {
      const call = items[i] as Call;
      const entry = this.#record(call);
      entries.push(entry);
      const fault = this.#decide(call, { op, index: i });
      if (fault !== undefined) {
        faults.set(i, fault);
        entry.failure = fault.code;
        if (!continueOnError) break;
      }
    }

    if (!continueOnError) {
      const count = faults.size === 0 ? items.length : entries.length - 1;
      let result: BatchResult;
      try {
        result = await runInner(range(count), { ...options, continueOnError: false });
      } catch (err) {
        const index = (err as BatchItemError).index ?? 0;
        const entry = entries[index];
        if (entry !== undefined) entry.failure = codeOf(err);
        this.#unrecord(entries.slice(index + 1));
        throw err;
      }
      const fault = faults.get(count);
      if (fault !== undefined) throw tagItem(fault, count, count);
      return result;
    }

    const passed = range(items.length).filter((i) => !faults.has(i));
    const inner = await runInner(passed, { ...options, continueOnError: true });
    const outcomes: ItemOutcome[] = [];
    let next = 0;
    for (let i = 0; i < items.length; i++) {
      const fault = faults.get(i);
      if (fault !== undefined) {
        outcomes.push({ ok: false, error: tagItem(fault, i) });
        continue;
      }
      const outcome = inner.items[next++] as ItemOutcome;
      if (!outcome.ok) {
        outcome.error.index = i;
        (entries[i] as TraceEntry).failure = outcome.error.code;
      }
      outcomes.push(outcome);
    }
    return { completed: inner.completed, items: outcomes, bytes: inner.bytes };
  }

  #unrecord(entries: readonly TraceEntry[]): void {
    for (const entry of entries) {
      const at = this.#trace.indexOf(entry);
      if (at >= 0) this.#trace.splice(at, 1);
    }
  }
}

/** A FileHandle whose every method passes through its FaultFileSystem's gate. */
class FaultFileHandle implements FileHandle {
  readonly path: string;
  readonly #gate: HandleGate;
  readonly #inner: FileHandle;

  constructor(gate: HandleGate, inner: FileHandle) {
    this.#gate = gate;
    this.#inner = inner;
    this.path = inner.path;
  }

  read(buffer: Uint8Array, offset: number, length: number, position: number): Promise<number> {
    return this.#gate.run(this.#call('read', false, 'read'), () => this.#inner.read(buffer, offset, length, position));
  }

  readSync(buffer: Uint8Array, offset: number, length: number, position: number): number {
    return this.#gate.runSync(this.#call('read', false, 'read'), () => this.#inner.readSync(buffer, offset, length, position));
  }

  write(buffer: Uint8Array, offset?: number, length?: number, position?: number | null): Promise<number> {
    return this.#gate.run(this.#call('write', true, 'write'), () => this.#inner.write(buffer, offset, length, position));
  }

  writeSync(buffer: Uint8Array, offset?: number, length?: number, position?: number | null): number {
    return this.#gate.runSync(this.#call('write', true, 'write'), () => this.#inner.writeSync(buffer, offset, length, position));
  }

  sync(dataOnly?: boolean): Promise<void> {
    return this.#gate.run(this.#call('sync', true, dataOnly === true ? 'datasync' : 'sync'), () => this.#inner.sync(dataOnly));
  }

  truncate(length: number): Promise<void> {
    return this.#gate.run(this.#call('truncate', true, 'truncate'), () => this.#inner.truncate(length));
  }

  stat(): Promise<FileStat> {
    return this.#gate.run(this.#call('fstat', false, 'fstat'), () => this.#inner.stat());
  }

  /** A faulted close still closes the inner handle: the descriptor must not leak. */
  async close(): Promise<void> {
    try {
      await this.#gate.run(this.#call('close', false, 'close'), () => this.#inner.close());
    } catch (err) {
      if ((err as { injected?: unknown }).injected === true || hasCode(err, ErrorCodes.INJECTED_FAULT)) {
        await this.#inner.close().catch(() => undefined);
      }
      throw err;
    }
  }

  #call(op: FaultOp, mutating: boolean, verb: string): Call {
    return this.#gate.call(op, mutating, verb, this.#inner.path);
  }
}

/** A ReadHandle whose reads and close pass through its FaultFileSystem's gate. */
class FaultReadHandle implements ReadHandle {
  readonly path: string;
  readonly #gate: HandleGate;
  readonly #inner: ReadHandle;

  constructor(gate: HandleGate, inner: ReadHandle) {
    this.#gate = gate;
    this.#inner = inner;
    this.path = inner.path;
  }

  readSync(buffer: Uint8Array, offset: number, length: number, position: number): number {
    return this.#gate.runSync(this.#gate.call('read', false, 'read', this.path), () => this.#inner.readSync(buffer, offset, length, position));
  }

  closeSync(): void {
    try {
      this.#gate.runSync(this.#gate.call('close', false, 'close', this.path), () => this.#inner.closeSync());
    } catch (err) {
      // A faulted close still closes the descriptor; a real failure already released it.
      if ((err as { injected?: unknown }).injected === true || hasCode(err, ErrorCodes.INJECTED_FAULT)) this.#inner.closeSync();
      throw err;
    }
  }
}

function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}

function codeOf(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : 'ERROR';
}

function crashError(call: Call): CairnError {
  return new CairnError(ErrorCodes.INJECTED_FAULT, `Simulated crash: ${call.line} was not carried out`, {
    details: { op: call.op, paths: call.paths },
  });
}

/** Stamps a fault with its batch position; a crash error gets the fields too. */
function tagItem(fault: BatchItemError | CairnError, index: number, completed?: number): BatchItemError {
  return batchItemError(fault, index, completed);
}
