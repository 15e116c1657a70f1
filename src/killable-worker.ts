// KillableWorker: a Worker whose thread is registered before any of its own
// code runs (a --require preload), so it can be killed by threadId from any
// thread even if it hangs on its first line or never imports thread-kill.
import * as path from 'path';
import { Worker, WorkerOptions, setEnvironmentData } from 'worker_threads';
import { InvalidArgTypeError } from './shared/errors';
import { kill, KillOptions, KillReport } from './kill/kill';
import { BINARY_KEY, binaryPath, native } from './shared/native';
import { stop } from './stop/stop';
import { exitCodeFor, knownWorkerIds } from './registry/targets';
import { threadState } from './shared/thread-state';
import { durationMs } from './shared/validate';

// .cjs: Node loads it without looking up the package.json "type" first.
const BOOTSTRAP = path.join(__dirname, 'bootstrap.cjs');

// Process-wide flags (--expose-gc, V8 flags...) that Node refuses in a
// worker's execArgv, learned from the first refusal. A plain Worker inherits
// its parent's options without listing them; we must list them to add our
// --require, so we leave these out (V8 flags are process-wide anyway).
const refusedFlags = new Set<string>();

function inheritedExecArgv(): string[] {
  return process.execArgv.filter((flag) => !refusedFlags.has(flag));
}

function learnRefusedFlags(err: unknown): boolean {
  const e = err as { code?: string; message?: string };
  if (e?.code !== 'ERR_WORKER_INVALID_EXEC_ARGV' || typeof e.message !== 'string') return false;
  const listed = e.message.slice(e.message.indexOf(':') + 1).split(',').map((f) => f.trim()).filter(Boolean);
  for (const flag of listed) refusedFlags.add(flag);
  return listed.length > 0;
}

/**
 * A `Worker` that thread-kill can always reach: its thread registers before
 * any of its own code runs (a `--require` preload placed first), so any
 * thread can stop, interrupt, kill and diagnose it by `threadId`, even when
 * it hangs on its first line or never imports thread-kill. Its `'exit'`
 * event reports the kill's exit code when it was killed (1 by default, as
 * `worker.terminate()`), and `terminate()` never races a region.
 */
export class KillableWorker extends Worker {
  /** The thread's id; unlike Worker#threadId it stays valid after exit. */
  readonly originalThreadId: number;
  private exited: boolean;
  private readonly exitPromise: Promise<void>;

  constructor(filename: string | URL, options: WorkerOptions & { /** Shown in threads(). */ name?: string } = {}) {
    if (options === null || typeof options !== 'object') {
      throw new InvalidArgTypeError(`options must be an object, got ${options === null ? 'null' : typeof options}`);
    }
    if (options.execArgv !== undefined && !Array.isArray(options.execArgv)) {
      throw new InvalidArgTypeError('options.execArgv must be an array of strings');
    }
    // Tell the bootstrap which addon file this process uses (inherited by
    // the new thread), so it can register without loading the library.
    setEnvironmentData(BINARY_KEY, binaryPath);
    // First: the thread registers before any preload of the user's (or one
    // inherited from `node -r`) runs, so a preload that hangs is killable.
    const withBootstrap = (argv: readonly string[]): WorkerOptions => ({ ...options, execArgv: ['--require', BOOTSTRAP, ...argv] });
    try {
      super(filename, withBootstrap(options.execArgv ?? inheritedExecArgv()));
    } catch (err) {
      // Only our own inherited list is retried; the caller's list is theirs to fix.
      if (options.execArgv !== undefined || !learnRefusedFlags(err)) throw err;
      super(filename, withBootstrap(inheritedExecArgv()));
    }
    this.exited = false;
    const tid = this.threadId;
    this.originalThreadId = tid;
    knownWorkerIds.set(this, tid);
    // A sibling's kill of this thread before it registers asks us, its
    // creator, to terminate it through this handle.
    threadState.children.set(tid, new WeakRef(this));
    // The thread may already be running its bootstrap; reserve() is a no-op
    // if it registered first.
    native.reserve(tid, typeof options.name === 'string' ? options.name : '');
    this.exitPromise = new Promise((resolve) => {
      this.once('exit', () => {
        this.exited = true;
        threadState.children.delete(tid);
        // If it died before registering, nobody else will retire the reservation.
        native.release(tid);
        resolve();
      });
    });
  }

  /** 'exit' reports the kill's exit code when thread-kill killed the thread (Node cannot be told it from another thread). */
  override emit(event: string | symbol, ...args: unknown[]): boolean {
    if (event === 'exit' && this.originalThreadId !== undefined) args[0] = exitCodeFor(this.originalThreadId, args[0]);
    return super.emit(event, ...args);
  }

  /** Cooperative stop: stops the thread's own stop token (threadStopToken() in the worker). */
  stop(reason?: unknown): boolean {
    return stop(this.originalThreadId, reason);
  }

  /**
   * Resolves true when the thread has exited (its 'exit' event), or false
   * after `timeoutMs` (default: wait forever).
   */
  join(timeoutMs?: number): Promise<boolean> {
    const ms = timeoutMs === undefined ? undefined : durationMs(timeoutMs, 'timeoutMs', 0);
    if (this.exited) return Promise.resolve(true);
    if (ms === undefined) return this.exitPromise.then(() => true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(false), ms);
      void this.exitPromise.then(() => { clearTimeout(timer); resolve(true); });
    });
  }

  /** kill() this worker (the whole ladder). */
  kill(options?: KillOptions): Promise<KillReport> {
    return kill(this, options);
  }

  /**
   * Worker#terminate(), but first marks the thread as being killed (exit
   * code 1), so no interruptible() region on it mistakes the termination for
   * an interrupt. Marking stops nothing: Node's own terminate() does, and
   * sets its exit code while the environment exists.
   */
  override terminate(): Promise<number> {
    native.terminate(this.originalThreadId, false, false, true, 1);
    return super.terminate();
  }
}

