// The target side of a kill: the thread's onKill hooks, and what happens when a kill reaches the thread while it can still run JS
// — in its event loop (kill()'s cooperative phase posts it a KillReached
// event) or at the boundary of the region kill()'s interrupt phase stopped,
// before the InterruptedError propagates. Whichever comes first runs the
// hooks, once per thread; the thread then stops itself, and a killed thread
// never turns the kill into an 'error': an uncaught kill ends it quietly.
import { isMainThread, threadId as currentThreadId } from 'worker_threads';
import { native } from '../shared/native';
import { deserializeReason } from '../shared/reason';
import { threadState } from '../shared/thread-state';
import { func } from '../shared/validate';

/**
 * Registers `fn` to run in this thread when kill() reaches it while it can
 * still run JavaScript: in its event loop (kill()'s cooperative phase) or at
 * the boundary of the interruptible() region kill() interrupted, before the
 * InterruptedError propagates — whichever comes first, once per thread. It
 * gets the kill's `reason`. The thread stops once every hook has settled
 * (bounded by the killer's grace time). Returns a function that unregisters it.
 */
export function onKill(fn: (reason: unknown) => unknown): () => void {
  func(fn, 'fn');
  threadState.hooks.add(fn);
  native.setHasKillHooks(true);
  return () => {
    threadState.hooks.delete(fn);
    if (threadState.hooks.size === 0) native.setHasKillHooks(false);
  };
}

/** Stops this (worker) thread, as killed. */
function stopSelf(): void {
  if (!isMainThread) native.terminate(currentThreadId, false, false);
}

/**
 * A thread being killed ends as killed whatever it does with the kill's
 * InterruptedError: if nothing catches it (or anything else thrown while
 * the kill is on its way), the thread ends quietly instead of failing with
 * an 'error' event. Prepended, so the thread's own listeners still see it.
 */
function guardUncaught(): void {
  if (threadState.uncaughtGuard || isMainThread) return;
  threadState.uncaughtGuard = true;
  process.prependListener('uncaughtException', () => {
    // Handled: the hooks already started and the thread stops when they
    // settle (or the killer's terminate phase ends it).
  });
}

/**
 * A kill reached this thread (`reason` is the killer's, already in this
 * thread; omitted: read the announced one). Runs every onKill hook once per
 * thread, then — after the current turn, so catch/finally blocks that are
 * about to run finish — stops the thread.
 */
export function killReachedThread(...args: [reason?: unknown]): void {
  guardUncaught();
  if (threadState.killReached) return;
  threadState.killReached = true;
  const reason = args.length > 0 ? args[0] : deserializeReason(native.killReason());
  const pending = [...threadState.hooks].map(async (fn) => fn(reason));
  threadState.hooks.clear();
  native.setHasKillHooks(false);
  void Promise.allSettled(pending).then((results) => {
    for (const r of results) {
      if (r.status === 'rejected') process.emitWarning(`thread-kill: an onKill hook failed: ${String(r.reason)}`, 'ThreadKillWarning');
    }
    setImmediate(stopSelf);
  });
}

threadState.eventHandlers.killReached = killReachedThread;
