// interruptible() and interrupt(): raise a catchable InterruptedError in
// another thread's synchronous region (the analogue of Python's
// PyThreadState_SetAsyncExc). How it stays safe is in docs/DESIGN.md.
import { threadId as currentThreadId } from 'worker_threads';
import { UnknownThreadError } from './errors';
import { FLAG_KEEP_MODULE_CACHE } from './interrupted';
import { InterruptStatus, native } from './native';
import { serializeReason } from './stop-token';
import { RegionHandle, Target, resolveTarget } from './targets';
import { addDeliveryListener } from './thread';
import { boolean, durationMs, func, optionsBag } from './validate';

export interface InterruptibleOptions {
  /**
   * When interrupted inside require(), remove the modules whose loading was
   * cut short from require.cache so a retry loads them cleanly. Default true.
   */
  restoreModuleCache?: boolean;
}

const runRegion = native.runRegion;

/**
 * Runs `fn` synchronously inside an interruptible region and returns its
 * result. If another thread calls interrupt() on this region, `fn` stops
 * where it is and an InterruptedError is thrown here; the thread goes on.
 */
export function interruptible<T>(fn: () => T, options?: InterruptibleOptions): T {
  if (typeof fn !== 'function') func(fn, 'fn');
  if (options === undefined) return runRegion(fn);
  const o = optionsBag(options, 'options', ['restoreModuleCache'] as const);
  return runRegion(fn, boolean(o.restoreModuleCache, 'options.restoreModuleCache', true) ? 0 : FLAG_KEEP_MODULE_CACHE);
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
  /** Why not delivered. */
  why?: 'no-region' | 'region-finished' | 'thread-exited' | 'timeout';
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
  const bytes = serializeReason(reason, 'reason'); // throws before anything is sent
  const tid = resolved.threadId;

  if (tid < 0) {
    return untilDelivered ? Promise.resolve({ threadId: tid, delivered: false, why: 'thread-exited', attempts: 0, elapsedMs: 0 }) : false;
  }
  const t0 = untilDelivered ? performance.now() : 0;
  const sent = native.interrupt(tid, resolved.region ?? 0, bytes, pending, untilDelivered);
  const status: InterruptStatus = sent % 8;
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
    const finish = (delivered: boolean, why?: InterruptDelivery['why']): void => {
      clearInterval(retry);
      clearTimeout(timer);
      stopListening();
      const d: InterruptDelivery = { threadId: tid, delivered, attempts, elapsedMs: performance.now() - t0 };
      if (why !== undefined) d.why = why;
      resolve(d);
    };
    const stopListening = addDeliveryListener(requestId, (delivered) => {
      finish(delivered, delivered ? undefined : native.lookup(tid) >= 3 ? 'thread-exited' : 'region-finished');
    });
    // A region inside a native call only sees the interrupt when the call
    // returns; re-arming keeps it queued on the target until then.
    const retry = setInterval(() => {
      if (native.reissueInterrupt(tid, requestId)) attempts++;
    }, retryIntervalMs);
    const timer = setTimeout(() => {
      // Withdraw it so it cannot land after we said it did not.
      if (native.cancelInterrupt(tid, requestId)) finish(false, 'timeout');
    }, timeoutMs);
  });
}
