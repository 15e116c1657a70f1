// thread-kill/workerpool: workerpool's promise.cancel() and .timeout(ms) stop
// the running task in place, and the worker takes the next task.
//
//   // worker.js
//   workerpool.worker(interruptibleMethods({ fib, crunch }));
//   // main
//   const pool = interruptiblePool(workerpool.pool(__dirname + '/worker.js', { workerType: 'thread' }));
//   await pool.exec('crunch', [data]).timeout(500);   // rejects with workerpool's TimeoutError at 500 ms
//
// workerpool cancels a running task by asking the worker to clean up (its
// abort listeners) and terminating it when that does not answer within
// workerTerminateTimeout (default 1 s) — a synchronous task never lets the
// worker answer, so the worker is always terminated and a new one started.
// Here each task runs in an interruptible() region (interruptibleTask, as for
// piscina: the same control block and guarantees); workerpool's cancel or
// timeout interrupts exactly that region, the worker answers the cleanup, and
// workerpool keeps it. A task that cannot be stopped in place (blocked in a
// system call, or not wrapped) does not answer: workerpool terminates the
// worker after workerTerminateTimeout, as it always did. The caller's
// promise rejects with workerpool's own CancellationError / TimeoutError at
// once, as without this module; a task that finished first is never touched.
import './index';
import { threadId } from 'worker_threads';
import { InvalidArgTypeError, messageOnlyErrorFrom, regionTimeoutErrorFrom } from './shared/errors';
import { interrupt, refuseAsync } from './region/interrupt';
import { NotInterruptibleTaskError, taskOf, taskBlock } from './piscina';

const { MARK, QUEUED, RUNNING, CANCELLED, DONE, CANCEL_SENT, TIMED_OUT, BLOCK_BYTES } = taskBlock;

type Fn = (this: unknown, ...args: unknown[]) => unknown;
interface PublicWorker { addAbortListener(listener: () => Promise<void>): void }
interface Envelope { [MARK]: SharedArrayBuffer; task: unknown[] }

function isEnvelope(v: unknown): v is Envelope {
  return v !== null && typeof v === 'object' && (v as Record<string, unknown>)[MARK] instanceof SharedArrayBuffer;
}

// Worker side. workerpool runs its abort listeners when the main thread
// cancels a task, once the worker is free to read that request: for a
// synchronous task, after it ended (stopped in place, or finished first).
// Ours answers "cleaned up", and workerpool keeps the worker. (A worker that
// never answers — its task is stuck where an interrupt cannot land — is
// terminated after workerTerminateTimeout, workerpool's own fallback.)
let listening = false;
function cleanedUp(): Promise<void> {
  listening = false; // workerpool empties its list after each cleanup: the next task registers again
  return Promise.resolve();
}
function listen(api: PublicWorker | undefined): void {
  if (listening || typeof api?.addAbortListener !== 'function') return;
  api.addAbortListener(cleanedUp);
  listening = true;
}

/**
 * Worker side: the worker's methods, for workerpool.worker(), each run in an
 * interruptible() region that interruptiblePool()'s cancel() and timeout()
 * interrupt in place. Synchronous methods only (an async one is refused:
 * nothing could stop it after an await, and a worker kept after its cancel
 * would still be running it). With an interruptiblePool(), every method of
 * the worker must come through here.
 */
export function interruptibleMethods<M extends Record<string, (...args: any[]) => unknown>>(methods: M): M { // eslint-disable-line @typescript-eslint/no-explicit-any
  if (methods === null || typeof methods !== 'object') throw new InvalidArgTypeError('methods must be an object of functions');
  const out: Record<string, Function> = {};
  for (const [name, fn] of Object.entries(methods)) {
    if (typeof fn !== 'function') throw new InvalidArgTypeError(`methods.${name} must be a function`);
    refuseAsync(fn, `methods.${name}`);
    let self: unknown;
    const task = taskOf((params: unknown[]) => (fn as Fn).apply(self, params), false);
    out[name] = function method(this: { worker?: PublicWorker }, ...args: unknown[]): unknown {
      listen(this?.worker);
      self = this; // workerpool's `this` (this.worker.emit, …) for the method
      return task(args.length === 1 && isEnvelope(args[0]) ? args[0] as never : args as never);
    };
  }
  return out as M;
}

// Main side.
interface WorkerpoolPromise {
  then(onSuccess?: (v: unknown) => unknown, onFail?: (e: unknown) => unknown): WorkerpoolPromise;
  cancel(): WorkerpoolPromise;
  timeout(ms: number): WorkerpoolPromise;
}
interface PoolLike { exec(method: unknown, params?: unknown, options?: unknown): WorkerpoolPromise }

const PATCHED = Symbol.for('thread-kill.workerpool.pool');

/** workerpool's own rejections for cancel() and timeout() (by name: the pool's classes are the app's workerpool's). */
function isPoolCancel(err: unknown): boolean {
  const name = (err as { name?: unknown } | null)?.name;
  return name === 'CancellationError' || name === 'TimeoutError';
}

/**
 * Main side: makes `pool` (a workerpool Pool of worker threads) cancel and
 * time out running tasks of named methods in place: exec()'s promise keeps
 * cancel() and timeout(ms), which now interrupt the task in its worker.
 * Returns the same pool. Methods given as functions (exec(fn, args)) run as
 * before.
 */
export function interruptiblePool<P extends object>(pool: P): P {
  if (pool === null || typeof pool !== 'object' || typeof (pool as PoolLike).exec !== 'function') {
    throw new InvalidArgTypeError('pool must be a workerpool Pool (it has no exec(method, params, options) method)');
  }
  const p = pool as PoolLike & { [PATCHED]?: boolean; workerType?: unknown };
  if (p[PATCHED]) return pool;
  // Child-process and web workers share no memory (and are not threads to interrupt): such a pool runs as before.
  if (p.workerType === 'process' || p.workerType === 'web') return pool;
  const exec = p.exec;
  p.exec = function execInterruptible(this: PoolLike, method: unknown, params?: unknown, options?: unknown): WorkerpoolPromise {
    if (typeof method !== 'string') return exec.call(this, method, params, options);
    if (params !== undefined && params !== null && !Array.isArray(params)) {
      throw new TypeError('Array expected as argument "params"'); // workerpool's own check, before the envelope hides it
    }
    const block = new SharedArrayBuffer(BLOCK_BYTES);
    const ctl = new Int32Array(block, 0, 4);
    const f64 = new Float64Array(block, 16, 2);
    ctl[2] = threadId;
    let cancelled = false;
    const envelope: Envelope = { [MARK]: block, task: (params ?? []) as unknown[] };
    const running = exec.call(this, method, [envelope], options);
    // Interrupts the task if it is running (a task that finished first is
    // never touched). Once: a later call finds CANCEL_SENT and does nothing.
    const interruptRunning = (message: string): void => {
      if (Atomics.compareExchange(ctl, 0, RUNNING, CANCEL_SENT) !== RUNNING) return;
      try {
        interrupt({ threadId: Atomics.load(ctl, 1), regionSeq: f64[0] }, message);
      } catch { /* the thread is gone: workerpool's own handling stands */ }
    };
    // cancel() interrupts first, then lets workerpool reject the caller: the
    // interrupt is on its way before workerpool's own cancellation work (its
    // error, its cleanup request), not after it. Every promise chained from
    // this one cancels through it (workerpool calls its parent's cancel()).
    const cancel = running.cancel;
    running.cancel = function cancelInPlace(this: WorkerpoolPromise): WorkerpoolPromise {
      interruptRunning('promise cancelled'); // (workerpool's CancellationError message)
      return cancel.call(this);
    };
    return running.then((result) => {
      if (Atomics.load(ctl, 0) === QUEUED) throw new NotInterruptibleTaskError();
      return result;
    }, (err) => {
      // workerpool rejects the caller at once on cancel()/timeout(), then asks
      // the worker to clean up: interrupt the task so that it can answer.
      if (isPoolCancel(err) && !cancelled) {
        cancelled = true;
        if (Atomics.compareExchange(ctl, 0, QUEUED, CANCELLED) === RUNNING) interruptRunning((err as Error).message);
        throw err;
      }
      // As with piscina: the real type of a task's own deadline and of
      // thread-kill's validation errors (they cross as plain Errors).
      const state = Atomics.load(ctl, 0);
      const stack = (err as Error)?.stack ?? '';
      if (state === TIMED_OUT) throw regionTimeoutErrorFrom(f64[1], Atomics.load(ctl, 1), stack);
      if (state === DONE && ctl[3] !== 0) throw messageOnlyErrorFrom(ctl[3], err) ?? err;
      throw err;
    });
  };
  p[PATCHED] = true;
  return pool;
}

export { NotInterruptibleTaskError };
