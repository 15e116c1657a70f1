// interruptible() and interrupt(): raise a catchable InterruptedError in
// another thread's synchronous region (the analogue of Python's
// PyThreadState_SetAsyncExc). How it stays safe is in docs/DESIGN.md.
import { threadId as currentThreadId } from 'worker_threads';
import { InvalidArgTypeError, UnknownThreadError } from '../shared/errors';
import { FLAG_KEEP_MODULE_CACHE, interruptFactory } from './error-factory';
import { Delivery, InterruptStatus, native } from '../shared/native';
import { encodeReason } from '../shared/reason';
import { RegionHandle, Target, resolveTarget } from '../registry/targets';
import { addDeliveryListener } from '../registry/register';
import { MAX_TIMEOUT_MS, boolean, durationMs, func, optionsBag } from '../shared/validate';

// This thread's regions throw the errors our factory builds (the bootstrap
// of a KillableWorker that never imports thread-kill installs it lazily).
native.setInterruptFactory(interruptFactory(native.traceFrames));

export interface InterruptibleOptions {
  /**
   * When interrupted inside require(), remove the modules whose loading was
   * cut short from require.cache so a retry loads them cleanly. Default true.
   */
  restoreModuleCache?: boolean;
  /**
   * A deadline: after this many milliseconds the region throws a
   * RegionTimeoutError (an InterruptedError). Nested deadlines: the earliest
   * fires, at its own region. Works on every thread, the main one included.
   */
  timeoutMs?: number;
}

const runRegion = native.runRegion;
const runRegionDeadline = native.runRegionDeadline;
const FunctionPrototype = Function.prototype;
// Regions are synchronous: an async function returns at its first await,
// and what runs after it is beyond any interrupt's reach.
const AsyncFunctionPrototype = Object.getPrototypeOf(async () => undefined) as object;
const AsyncGeneratorFunctionPrototype = Object.getPrototypeOf(async function* () { /* never run */ }) as object;

/**
 * Every region is entered here, and only here (interruptible() and the
 * test-runner plugins): the landing rule finds a region's boundary in a
 * captured stack by this function's frame (native/region.cc,
 * RegionFrameIndex). `ms` < 0: a plain region; >= 0: a deadline region
 * (0 = none armed yet, so that rearmDeadline() can arm it later), named in
 * the stuck guard's report by `label`, then `name` and `end` if given
 * (joined natively: a runner passes its suite's cached head, the test's
 * name and the closing quote, and concatenates nothing per test).
 */
export function enterRegion<T>(fn: () => T, flags: number, ms: number, label?: string, name?: string, end?: string): T {
  return ms < 0 ? runRegion(fn, flags) : runRegionDeadline(fn, flags, ms, label, name, end);
}

/**
 * The test-runner plugins' guard: a run never hangs silently. A test whose
 * timeout came due but cannot land (its thread is inside Node's code that a
 * cut would leave broken, or blocked outside JavaScript) and that is still
 * running `graceMs` later ends the process with `exitCode`, naming the test
 * and where it is stuck (written by the watchdog thread: the stuck thread
 * cannot). THREAD_KILL_STUCK_GRACE_MS overrides the grace (default 10 s:
 * long enough for a slow but finite call into Node — a big diff, a big
 * inspect() — to end first).
 */
export function guardAgainstStuckTests(exitCode = 1): number {
  const env = Number(process.env.THREAD_KILL_STUCK_GRACE_MS);
  const graceMs = Number.isFinite(env) && env > 0 ? env : 10_000;
  native.setStuckGuard(graceMs, exitCode);
  return graceMs;
}

/** Throws the typed error for an async (generator) function passed as `name`. */
export function refuseAsync(fn: Function, name = 'fn'): void {
  const proto = Object.getPrototypeOf(fn);
  if (proto === AsyncFunctionPrototype || proto === AsyncGeneratorFunctionPrototype) {
    throw new InvalidArgTypeError(`${name} must be a synchronous function: an interruptible() region cannot reach code after an await (got an async function)`);
  }
}

/**
 * Runs `fn` synchronously inside an interruptible region and returns its
 * result. If another thread calls interrupt() on this region, `fn` stops
 * where it is and an InterruptedError is thrown here; the thread goes on.
 * `fn` must be synchronous (async functions are refused).
 */
export function interruptible<T>(fn: () => T, options?: InterruptibleOptions): T {
  if (typeof fn !== 'function') func(fn, 'fn');
  if (Object.getPrototypeOf(fn) !== FunctionPrototype) refuseAsync(fn);
  if (options === undefined) return enterRegion(fn, 0, -1);
  // The common deadline call, { timeoutMs: <positive number> }, skips the
  // generic option parsing: it is on the path of every test a test-runner
  // plugin runs.
  if (options !== null && typeof options === 'object') {
    const ms = (options as { timeoutMs?: unknown }).timeoutMs;
    if (typeof ms === 'number' && ms > 0 && ms <= MAX_TIMEOUT_MS && onlyTimeout(options)) return enterRegion(fn, 0, ms);
  }
  const o = optionsBag(options, 'options', ['restoreModuleCache', 'timeoutMs'] as const);
  const flags = boolean(o.restoreModuleCache, 'options.restoreModuleCache', true) ? 0 : FLAG_KEEP_MODULE_CACHE;
  if (o.timeoutMs === undefined) return enterRegion(fn, flags, -1);
  const ms = durationMs(o.timeoutMs, 'options.timeoutMs', 0);
  // 0 means no deadline, like a test runner's timeout of 0.
  return enterRegion(fn, flags, ms === 0 ? -1 : ms);
}

function onlyTimeout(options: object): boolean {
  for (const key in options) if (key !== 'timeoutMs') return false;
  return true;
}

/** The innermost active region of this thread, or null outside any region. */
export function currentRegion(): RegionHandle | null {
  const seq = native.currentRegion();
  return seq === 0 ? null : Object.freeze({ threadId: currentThreadId, regionSeq: seq });
}

export interface InterruptOptions {
  /** With no active region, deliver at the thread's next region entry. */
  pending?: boolean;
  /** Return a Promise<InterruptDelivery> that settles when the region has actually thrown. */
  untilDelivered?: boolean;
  /** untilDelivered: give up after this long. Default 10000. */
  timeoutMs?: number;
  /** untilDelivered: re-arm the interrupt this often while it waits. Default 10. */
  retryIntervalMs?: number;
}

export interface InterruptDelivery {
  threadId: number;
  delivered: boolean;
  /**
   * Why not delivered. 'deferred': the timeout passed while the delivery
   * waited for Node's code to return (the landing rule: see `deferredAt`);
   * it was withdrawn.
   */
  why?: 'no-region' | 'region-finished' | 'thread-exited' | 'timeout' | 'deferred';
  /** why 'deferred': the frame of Node's the delivery waited for, "function (node:script:line:column): why". */
  deferredAt?: string;
  attempts: number;
  elapsedMs: number;
}

const INTERRUPT_OPTION_KEYS = ['pending', 'untilDelivered', 'timeoutMs', 'retryIntervalMs'] as const;

/**
 * Interrupts a thread's outermost active interruptible() region (or exactly
 * the region of a RegionHandle). Returns true if it hit an active region;
 * false if none was active, and then it has no effect at all (unless
 * `pending`, which queues it for the next region entry).
 * With `untilDelivered`, returns a Promise<InterruptDelivery> instead.
 */
export function interrupt(target: Target | RegionHandle, reason?: unknown, options?: InterruptOptions & { untilDelivered?: false }): boolean;
export function interrupt(target: Target | RegionHandle, reason: unknown, options: InterruptOptions & { untilDelivered: true }): Promise<InterruptDelivery>;
export function interrupt(target: Target | RegionHandle, reason?: unknown, options?: InterruptOptions): boolean | Promise<InterruptDelivery> {
  const resolved = resolveTarget(target, 'target', true);
  let pending = false;
  let untilDelivered = false;
  let timeoutMs = 10_000;
  let retryIntervalMs = 10;
  if (options !== undefined) { // (the common call has none: it is on the latency path)
    const o = optionsBag(options, 'options', INTERRUPT_OPTION_KEYS);
    pending = boolean(o.pending, 'options.pending', false);
    untilDelivered = boolean(o.untilDelivered, 'options.untilDelivered', false);
    timeoutMs = durationMs(o.timeoutMs, 'options.timeoutMs', timeoutMs);
    retryIntervalMs = durationMs(o.retryIntervalMs, 'options.retryIntervalMs', retryIntervalMs, 1);
  }
  const bytes = encodeReason(reason, 'reason'); // throws before anything is sent
  const tid = resolved.threadId;

  if (tid < 0) {
    return untilDelivered ? Promise.resolve({ threadId: tid, delivered: false, why: 'thread-exited', attempts: 0, elapsedMs: 0 }) : false;
  }
  const t0 = untilDelivered ? performance.now() : 0;
  const sent = native.interrupt(tid, resolved.region ?? 0, bytes, pending, untilDelivered);
  // Decoded inline (as interruptStatusOf() in shared/native.ts does): an
  // interrupt of this very thread lands at the next function entry, which
  // must be the caller's code, not a decoder of ours.
  const status = sent % 8;
  if (status === InterruptStatus.UnknownThread) throw new UnknownThreadError(tid, 'target');
  if (!untilDelivered) return status === InterruptStatus.Hit;
  const requestId = (sent - status) / 8;

  const miss = (why: InterruptDelivery['why']): Promise<InterruptDelivery> =>
    Promise.resolve({ threadId: tid, delivered: false, why, attempts: 0, elapsedMs: performance.now() - t0 });
  if (status === InterruptStatus.ThreadDead) return miss('thread-exited');
  if (status === InterruptStatus.NoRegion) return miss('no-region');
  if (status === InterruptStatus.RegionInactive) return miss('region-finished');

  return new Promise<InterruptDelivery>((resolve) => {
    let attempts = 1;
    let withdraw: ReturnType<typeof setInterval> | undefined;
    const finish = (delivered: boolean, why?: InterruptDelivery['why'], deferredAt?: string): void => {
      clearInterval(retry);
      clearTimeout(timer);
      clearInterval(withdraw);
      stopListening();
      const d: InterruptDelivery = { threadId: tid, delivered, attempts, elapsedMs: performance.now() - t0 };
      if (why !== undefined) d.why = why;
      if (deferredAt !== undefined) d.deferredAt = deferredAt;
      resolve(d);
    };
    const stopListening = addDeliveryListener(requestId, (result) => {
      if (result === Delivery.Delivered) finish(true);
      else finish(false, result === Delivery.ThreadExited ? 'thread-exited' : 'region-finished');
    });
    // A region inside a native call only sees the interrupt when the call
    // returns, and one whose termination someone else cancelled (a vm
    // timeout) needs it fired again: re-arming covers both. Unref'd: only
    // the deadline below keeps the thread alive for this promise.
    const retry = setInterval(() => {
      if (native.reissueInterrupt(tid, requestId)) attempts++;
    }, retryIntervalMs);
    retry.unref();
    const giveUp = (): boolean => {
      // (Read before withdrawing: the row shows a deferral only while requests wait.)
      const row = native.threadInfo(tid);
      if (!native.cancelInterrupt(tid, requestId)) return false;
      if (row !== undefined && row[10] >= 0) finish(false, 'deferred', row[11]);
      else finish(false, 'timeout');
      return true;
    };
    const timer = setTimeout(() => {
      clearInterval(retry);
      // Withdraw it so it cannot land after we said it did not. If the target
      // holds it right now, either its answer is on the way (the region's
      // boundary, or the thread's death, always answers) or its look decided
      // to wait and puts it back in the queue: try again until one of the two.
      if (!giveUp()) withdraw = setInterval(() => { if (giveUp()) clearInterval(withdraw); }, retryIntervalMs);
    }, timeoutMs);
  });
}
