// thread-kill/piscina: cancel a running piscina task in place. piscina (like
// tinypool and workerpool) cancels by terminating the worker and spawning a
// new one (~20 ms and a cold worker). Here the task runs in an interruptible()
// region; cancelling interrupts exactly that region, the task's promise
// rejects with InterruptedError, and the worker stays in the pool.
//
//   // worker.js
//   module.exports = interruptibleTask((task) => heavySyncWork(task));
//   // main
//   await runInterruptible(pool, task, { signal });
//
// Works with any pool whose run(task, options) ships the task to a worker
// with postMessage (SharedArrayBuffers are shared, not copied).
import './index';
import { threadId } from 'worker_threads';
import { InterruptedError, InvalidArgTypeError, interruptedErrorFrom } from './shared/errors';
import { interrupt, interruptible, currentRegion } from './region/interrupt';
import { func } from './shared/validate';

const MARK = '__threadKillTask';

// Control block shared with the worker, Int32 words:
//   [0] state: 0 queued, 1 running, 2 cancel requested, 3 done,
//       4 ended by our interrupt (the only outcome that may reject with
//       InterruptedError)
//   [1] threadId running it   [2..3] region seq (float64 at byte 16)
const QUEUED = 0;
const RUNNING = 1;
const CANCELLED = 2;
const DONE = 3;
const INTERRUPTED = 4;

interface Envelope<T> { [MARK]: SharedArrayBuffer; task: T }

function isEnvelope(v: unknown): v is Envelope<unknown> {
  return v !== null && typeof v === 'object' && (v as Record<string, unknown>)[MARK] instanceof SharedArrayBuffer;
}

/**
 * Worker side: wraps a synchronous task handler so that runInterruptible()
 * can interrupt it. Tasks that did not come through runInterruptible() run
 * unchanged (still inside a region, so interrupt(threadId) also works).
 */
export function interruptibleTask<T, R>(handler: (task: T) => R): (envelope: Envelope<T> | T) => R {
  func(handler, 'handler');
  return (envelope) => {
    if (!isEnvelope(envelope)) return interruptible(() => handler(envelope as T));
    const ctl = new Int32Array(envelope[MARK], 0, 2);
    const seq = new Float64Array(envelope[MARK], 16, 1);
    try {
      return interruptible(() => {
        seq[0] = currentRegion()!.regionSeq;
        Atomics.store(ctl, 1, threadId);
        // Cancelled while queued: do not start.
        if (Atomics.compareExchange(ctl, 0, QUEUED, RUNNING) !== QUEUED) {
          throw new InterruptedError(undefined, -1, 'InterruptedError: cancelled before it started');
        }
        try {
          return handler(envelope.task as T);
        } finally {
          Atomics.store(ctl, 0, DONE);
        }
      });
    } catch (err) {
      // Our interrupt (or the cancel above) ended it: say so through shared
      // memory, since the error's type does not survive the pool's postMessage.
      // What crosses is a small plain Error carrying where the task was
      // stopped (the caller's side builds the real InterruptedError): cloning
      // the full error would format its whole stack on the latency path.
      if (err instanceof InterruptedError && !err.kill) {
        Atomics.store(ctl, 0, INTERRUPTED);
        throw cancelled(err.interruptedStack);
      }
      throw err;
    }
  };
}

function cancelled(where: string): Error {
  const limit = Error.stackTraceLimit;
  let err: Error;
  try {
    Error.stackTraceLimit = 0;
    err = new Error('thread-kill: task cancelled in place');
  } finally {
    Error.stackTraceLimit = limit;
  }
  err.stack = where;
  return err;
}

/** The pool's worker did not wrap its handler with interruptibleTask(), so the task could never be cancelled in place. */
export class NotInterruptibleTaskError extends Error {
  readonly code = 'ERR_THREAD_KILL_NOT_INTERRUPTIBLE_TASK';
  constructor() {
    super('the pool\'s worker did not handle the task with interruptibleTask(): it received runInterruptible()\'s envelope ' +
      "instead of the task; export interruptibleTask(handler) from the worker file (thread-kill/piscina)");
    this.name = 'NotInterruptibleTaskError';
  }
}

/**
 * The pool's own run() options (name, transferList, filename, …, passed
 * through unchanged), but `signal` cancels the task in place instead of
 * terminating its worker.
 */
export interface RunInterruptibleOptions {
  signal?: AbortSignal;
  /** Passed to pool.run() (the exported function to call). */
  name?: string;
  [option: string]: unknown;
}

interface PoolLike {
  run(task: unknown, options?: Record<string, unknown>): Promise<unknown>;
}

/**
 * Main side: runs `task` on `pool` and, when `signal` aborts, interrupts
 * the task's region in its worker instead of terminating the worker. Rejects
 * with InterruptedError (reason: the signal's reason).
 */
export async function runInterruptible<R = unknown>(pool: PoolLike, task: unknown, options?: RunInterruptibleOptions): Promise<R> {
  if (pool === null || typeof pool !== 'object' || typeof (pool as PoolLike).run !== 'function') {
    throw new InvalidArgTypeError('pool must have a run(task, options) method (a Piscina instance)');
  }
  if (options !== undefined && (options === null || typeof options !== 'object')) {
    throw new InvalidArgTypeError('options must be an object');
  }
  const { signal, ...runOptions } = (options ?? {}) as RunInterruptibleOptions;
  if (signal !== undefined && !(signal instanceof AbortSignal)) throw new InvalidArgTypeError('options.signal must be an AbortSignal');
  if (runOptions.name !== undefined && typeof runOptions.name !== 'string') throw new InvalidArgTypeError('options.name must be a string');
  const block = new SharedArrayBuffer(24);
  const ctl = new Int32Array(block, 0, 2);
  const seq = new Float64Array(block, 16, 1);
  let reason: unknown;
  let cancelled = false;
  const cancel = (): void => {
    cancelled = true;
    reason = signal!.reason;
    const before = Atomics.compareExchange(ctl, 0, QUEUED, CANCELLED);
    if (before === RUNNING) {
      const region = { threadId: Atomics.load(ctl, 1), regionSeq: seq[0] };
      try {
        interrupt(region, reason);
      } catch {
        interrupt(region, String(reason)); // not cloneable (or too large): its description
      }
    }
  };
  if (signal?.aborted) throw new InterruptedError(signal.reason, threadId, 'InterruptedError: aborted before it was queued');
  signal?.addEventListener('abort', cancel, { once: true });
  try {
    const envelope: Envelope<unknown> = { [MARK]: block, task };
    // The pool never sees the signal: its own abort would terminate the worker.
    const result = (await pool.run(envelope, Object.keys(runOptions).length === 0 ? undefined : runOptions)) as R;
    if (Atomics.load(ctl, 0) === QUEUED) throw new NotInterruptibleTaskError();
    return result;
  } catch (err) {
    // Errors cross postMessage as plain Errors; give the caller the real type
    // — but only for a real cancellation (the worker said so in shared memory).
    if (cancelled && Atomics.load(ctl, 0) === INTERRUPTED) throw interruptedErrorFrom(reason, threadId, (err as Error)?.stack ?? '');
    throw err;
  } finally {
    // ({ once: true }: an abort already removed it, and removing costs µs on the cancel path.)
    if (!cancelled) signal?.removeEventListener('abort', cancel);
  }
}
