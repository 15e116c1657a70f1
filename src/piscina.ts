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
import {
  InterruptedError, InvalidArgTypeError, RegionTimeoutError, interruptedErrorFrom, messageOnlyErrorFrom, messageOnlyErrorKind,
  regionTimeoutErrorFrom,
} from './shared/errors';
import { interrupt, interruptible, currentRegion, refuseAsync } from './region/interrupt';
import { func } from './shared/validate';
import { threadInfo } from './registry/targets';

const MARK = '__threadKillTask';

// Control block shared with the worker: Int32 words [0] state, [1] threadId
// running it, [2] threadId of the caller (who interrupts), [3] which of
// thread-kill's validation errors the task failed with (messageOnlyErrorKind:
// its class and code do not survive the pool's postMessage); float64 at byte
// 16 the task region's seq, at byte 24 the budget of a deadline that ended it.
// States — only INTERRUPTED (and a task the pool itself dropped after
// NOT_STARTED_MS, see runInterruptible) may reject with InterruptedError:
const QUEUED = 0; // not started (or its worker did not use interruptibleTask())
const RUNNING = 1;
const CANCELLED = 2; // cancelled before it started: it never will
const DONE = 3; // returned or failed on its own
const INTERRUPTED = 4; // ended by the caller's cancellation
const CANCEL_SENT = 5; // the caller is interrupting the running task
const TIMED_OUT = 6; // failed with a deadline of its own (RegionTimeoutError)
const BLOCK_BYTES = 32;

interface Envelope<T> { [MARK]: SharedArrayBuffer; task: T }

function isEnvelope(v: unknown): v is Envelope<unknown> {
  return v !== null && typeof v === 'object' && (v as Record<string, unknown>)[MARK] instanceof SharedArrayBuffer;
}

/** A handler's result, refused when it is a promise: nothing after it would be cancellable. */
function synchronous<R>(result: R): R {
  if (result !== null && (typeof result === 'object' || typeof result === 'function') &&
    typeof (result as { then?: unknown }).then === 'function') {
    (result as unknown as Promise<unknown>).then(undefined, () => { /* refused below: no unhandled rejection */ });
    throw new InvalidArgTypeError('handler must be synchronous: it returned a promise, and runInterruptible() can only ' +
      'cancel synchronous work in place (interruptibleTask, thread-kill/piscina)');
  }
  return result;
}

/**
 * Worker side: wraps a synchronous task handler so that runInterruptible()
 * can interrupt it. Tasks that did not come through runInterruptible() run
 * unchanged (still inside a region, so interrupt(threadId) also works).
 * Async handlers are refused here, and a handler that returns a promise
 * fails its task: neither could be cancelled in place.
 */
export function interruptibleTask<T, R>(handler: (task: T) => R): (envelope: Envelope<T> | T) => R {
  func(handler, 'handler');
  refuseAsync(handler, 'handler');
  return taskOf(handler, true);
}

/**
 * interruptibleTask()'s wrapper, handler already checked. `reportWhere`: the
 * error of a task cancelled in place carries where it stopped (piscina's
 * caller shows it). workerpool drops that error unread — its caller was
 * rejected at cancel() — so its adapter skips formatting the stack (≈15 µs
 * of the cancel-to-next-task path).
 */
export function taskOf<T, R>(handler: (task: T) => R, reportWhere: boolean): (envelope: Envelope<T> | T) => R {
  return (envelope) => {
    if (!isEnvelope(envelope)) return synchronous(interruptible(() => handler(envelope as T)));
    const block = envelope[MARK];
    const ctl = new Int32Array(block, 0, 4);
    const f64 = new Float64Array(block, 16, 2);
    let started = false;
    // The handler returned: a cancellation that lands after this (at the
    // region's boundary, having waited for Node's code) came too late, and
    // the caller gets the result of the work that finished.
    let finished = false;
    let value: R | undefined;
    try {
      const result = interruptible(() => {
        f64[0] = currentRegion()!.regionSeq;
        Atomics.store(ctl, 1, threadId);
        // Cancelled while queued: do not start.
        if (Atomics.compareExchange(ctl, 0, QUEUED, RUNNING) !== QUEUED) {
          throw new InterruptedError(undefined, -1, 'InterruptedError: cancelled before it started');
        }
        started = true;
        // (No interrupt check between the return and the stores: V8 checks at
        // function entries and loop back-edges only.)
        value = handler(envelope.task as T);
        finished = true;
        return value;
      });
      // (A cancellation from now on finds no region: it changes nothing.)
      Atomics.store(ctl, 0, DONE);
      return synchronous(result);
    } catch (err) {
      // Ours only if the caller cancelled it: before it started, or with its
      // interrupt of this very region (a plain interrupt from the caller's
      // thread, not a kill, not a deadline of the task's own). The error's
      // type does not survive the pool's postMessage: shared memory says
      // which it was, and what crosses is a small plain Error carrying where
      // the task was stopped (the caller's side builds the real error):
      // cloning the full error would format its whole stack on the latency path.
      const state = Atomics.load(ctl, 0);
      const ours = started
        ? state === CANCEL_SENT && err instanceof InterruptedError && !err.kill &&
          !(err instanceof RegionTimeoutError) && err.by === Atomics.load(ctl, 2)
        : state === CANCELLED && err instanceof InterruptedError;
      if (ours && finished) {
        Atomics.store(ctl, 0, DONE);
        return synchronous(value as R);
      }
      if (ours) {
        Atomics.store(ctl, 0, INTERRUPTED);
        throw cancelled(reportWhere ? (err as InterruptedError).interruptedStack : 'InterruptedError: cancelled in place');
      }
      if (err instanceof RegionTimeoutError) {
        f64[1] = err.timeoutMs;
        Atomics.store(ctl, 0, TIMED_OUT);
      } else {
        ctl[3] = messageOnlyErrorKind(err); // (published by the store below)
        Atomics.store(ctl, 0, DONE);
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

// A task that has not started this long after its cancellation is left to
// the pool's own abort: a pool drops a task still in its queue (nothing is
// terminated), and a worker that runs it without interruptibleTask() — which
// nothing could interrupt in place — is terminated, as with pool.run(). Long
// enough for a task sent to a worker to start there (it then sees the
// cancellation itself), and for a pool's own failure to arrive first (a
// worker file that does not load takes tens of ms to say so, even on a busy
// machine): that failure then rejects as itself.
const NOT_STARTED_MS = 1000;

// A running task whose cancellation has not landed this long after the abort
// is ended by the pool's own abort (its worker terminated and replaced): the
// delivery waits while the task is inside Node's code that a cut would leave
// broken (docs/DESIGN.md, "Where a delivery may land": an AsyncLocalStorage.run()
// around the work, a require(), …), and a runaway task there would never end.
// Long enough for a slow but finite call into Node to return first.
export const CANCEL_FALLBACK_MS = 500;

/**
 * A Piscina.move() / Tinypool.move() task: the pool would send its value and
 * transfer what it lists; the envelope would hide that from the pool, so it
 * is unwrapped here (the pools mark it with a private symbol, and expose the
 * two that carry the value and the transferables).
 */
function movable(pool: PoolLike, task: unknown): { value: unknown; transfer: unknown } | undefined {
  if (task === null || typeof task !== 'object') return undefined;
  const ctor = (pool as { constructor?: { transferableSymbol?: unknown; valueSymbol?: unknown } }).constructor;
  const kTransferable = ctor?.transferableSymbol;
  const kValue = ctor?.valueSymbol;
  if (typeof kTransferable !== 'symbol' || typeof kValue !== 'symbol' || !(kTransferable in task) || !(kValue in task)) return undefined;
  const t = task as Record<symbol, unknown>;
  const marked = Object.getOwnPropertySymbols(t).some((k) => k.description?.endsWith('.kMovable') === true && t[k] === true);
  return marked ? { value: t[kValue], transfer: t[kTransferable] } : undefined;
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
  const moved = movable(pool, task);
  if (moved !== undefined) {
    const list = runOptions.transferList;
    if (list !== undefined && !Array.isArray(list)) throw new InvalidArgTypeError('options.transferList must be an array');
    runOptions.transferList = (list ?? []).concat(moved.transfer);
    task = moved.value;
  }
  const block = new SharedArrayBuffer(BLOCK_BYTES);
  const ctl = new Int32Array(block, 0, 4);
  const f64 = new Float64Array(block, 16, 2);
  ctl[2] = threadId;
  let reason: unknown;
  let cancelled = false;
  let poolAbort: AbortController | undefined;
  let notStarted: ReturnType<typeof setTimeout> | undefined;
  let stuck: ReturnType<typeof setTimeout> | undefined;
  let stuckWhere: string | undefined;
  const cancel = (): void => {
    cancelled = true;
    reason = signal!.reason;
    const before = Atomics.compareExchange(ctl, 0, QUEUED, CANCELLED);
    if (before === QUEUED) {
      notStarted = setTimeout(() => {
        if (Atomics.load(ctl, 0) === CANCELLED) poolAbort!.abort(reason);
      }, NOT_STARTED_MS);
    } else if (before === RUNNING && Atomics.compareExchange(ctl, 0, RUNNING, CANCEL_SENT) === RUNNING) {
      const region = { threadId: Atomics.load(ctl, 1), regionSeq: f64[0] };
      stuck = setTimeout(() => {
        if (Atomics.load(ctl, 0) !== CANCEL_SENT) return;
        stuckWhere = threadInfo(region.threadId)?.deferredDelivery?.where;
        poolAbort!.abort(reason);
      }, CANCEL_FALLBACK_MS);
      // Never throws (this is an event listener): a reason that cannot cross
      // (not cloneable, too large, a String() that throws) is only the
      // worker's; the caller's error carries the real one.
      try {
        interrupt(region, reason);
      } catch {
        try {
          interrupt(region, String(reason).slice(0, 200));
        } catch {
          interrupt(region);
        }
      }
    }
  };
  if (signal?.aborted) throw new InterruptedError(signal.reason, threadId, 'InterruptedError: aborted before it was queued');
  if (signal !== undefined) {
    poolAbort = new AbortController();
    runOptions.signal = poolAbort.signal;
    signal.addEventListener('abort', cancel, { once: true });
  }
  try {
    const envelope: Envelope<unknown> = { [MARK]: block, task };
    // The pool never sees the caller's signal (its abort would terminate
    // the worker), only ours, for a task that never started (see cancel).
    const result = (await pool.run(envelope, Object.keys(runOptions).length === 0 ? undefined : runOptions)) as R;
    const state = Atomics.load(ctl, 0);
    if (state === QUEUED || state === CANCELLED) throw new NotInterruptibleTaskError();
    return result;
  } catch (err) {
    // Errors cross postMessage as plain Errors; give the caller the real type
    // — but only for a real cancellation (the worker said so in shared
    // memory, or the pool dropped a task that never started), for the task's
    // own deadline, and for thread-kill's validation errors (a handler that
    // returned a promise, a bad argument to a thread-kill call in the task).
    const state = Atomics.load(ctl, 0);
    const stack = (err as Error)?.stack ?? '';
    if (cancelled && state === INTERRUPTED) throw interruptedErrorFrom(reason, threadId, stack);
    if (cancelled && state === CANCELLED && poolAbort!.signal.aborted) {
      throw interruptedErrorFrom(reason, threadId, `InterruptedError: not started ${NOT_STARTED_MS} ms after the abort: ` +
        'dropped by the pool (still queued), or its worker does not use interruptibleTask() and was terminated');
    }
    if (cancelled && state === CANCEL_SENT && poolAbort!.signal.aborted) {
      throw interruptedErrorFrom(reason, threadId, `InterruptedError: not stopped in place ${CANCEL_FALLBACK_MS} ms after the abort` +
        `${stuckWhere === undefined ? '' : ` (its cancellation waited for Node's code: ${stuckWhere})`}: ended by the pool's own abort (its worker was terminated)`);
    }
    if (state === TIMED_OUT) throw regionTimeoutErrorFrom(f64[1], Atomics.load(ctl, 1), stack);
    if (state === DONE && ctl[3] !== 0) throw messageOnlyErrorFrom(ctl[3], err) ?? err;
    throw err;
  } finally {
    clearTimeout(notStarted);
    clearTimeout(stuck);
    // ({ once: true }: an abort already removed it, and removing costs µs on the cancel path.)
    if (!cancelled) signal?.removeEventListener('abort', cancel);
  }
}

/** The control block's layout and states, shared with thread-kill/workerpool. */
export const taskBlock = { MARK, QUEUED, RUNNING, CANCELLED, DONE, INTERRUPTED, CANCEL_SENT, TIMED_OUT, BLOCK_BYTES } as const;
