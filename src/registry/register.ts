// Registers the current thread with the native registry (the only side
// effect of importing thread-kill) and routes the events other threads post
// to this one: a watched thread died, an interrupt was delivered, a child
// should be terminated — and, to the handlers the layers above installed
// (stop/on-kill.ts, kill/exit.ts), a kill reached us or a thread was
// abandoned. Every listener lives in the per-thread state
// (shared/thread-state.ts), so whichever loaded instance of this module
// receives the events, they reach everyone.
import { Worker, isMainThread, threadId } from 'worker_threads';
import { EventType, native } from '../shared/native';
import { DeathListener, DeliveryListener, threadState } from '../shared/thread-state';

const killedCause = native.constants.cause.Killed;

/**
 * Receives the events other threads posted to this one (exported for the
 * bootstrap's lazy handler). Parenthesized so that V8 compiles it with the
 * module: the first event is often a killed thread's death, and this runs
 * while that thread is still being torn down.
 */
export const onEvents = (function onEvents(flat: number[]): void {
  for (let i = 0; i < flat.length; i += 3) {
    const type = flat[i];
    const a = flat[i + 1];
    const b = flat[i + 2];
    if (type === EventType.ThreadDead) {
      const set = threadState.deathListeners.get(a);
      if (set === undefined) continue;
      threadState.deathListeners.delete(a);
      for (const fn of set) fn(b === killedCause);
    } else if (type === EventType.InterruptResult) {
      const fn = threadState.deliveryListeners.get(a);
      if (fn === undefined) continue;
      threadState.deliveryListeners.delete(a);
      fn(b);
    } else if (type === EventType.KillReached) {
      threadState.eventHandlers.killReached?.();
    } else if (type === EventType.TerminateWorker) {
      // A sibling is killing a KillableWorker of ours that never registered
      // (hung before its bootstrap ran): only its Worker handle can stop it.
      const w = threadState.children.get(a)?.deref();
      if (w !== undefined) void Worker.prototype.terminate.call(w);
    } else if (type === EventType.Abandoned) {
      threadState.eventHandlers.abandoned?.();
    }
  }
});

/** Call `fn` once when `tid` dies. The caller must also have asked native to watch it. */
export function addDeathListener(tid: number, fn: DeathListener): () => void {
  const listeners = threadState.deathListeners;
  let set = listeners.get(tid);
  if (set === undefined) listeners.set(tid, (set = new Set()));
  set.add(fn);
  return () => {
    set!.delete(fn);
    if (set!.size === 0 && listeners.get(tid) === set) listeners.delete(tid);
  };
}

/**
 * One more kill() of this thread watches `tid` (the native watch is already
 * taken: by startKill() or native.watch()); the returned release, called
 * once, stops watching it natively only when no other kill of this thread
 * still does — the registry keeps one watch per thread, so one kill giving up
 * must not take away another's death notice.
 */
export function holdWatch(tid: number): () => void {
  const holds = threadState.watchHolds;
  holds.set(tid, (holds.get(tid) ?? 0) + 1);
  let held = true;
  return () => {
    if (!held) return;
    held = false;
    const left = holds.get(tid)! - 1;
    if (left > 0) holds.set(tid, left);
    else {
      holds.delete(tid);
      native.unwatch(tid);
    }
  };
}

/** Call `fn` with the native DeliveryResult once request `requestId` is resolved. */
export function addDeliveryListener(requestId: number, fn: DeliveryListener): () => void {
  threadState.deliveryListeners.set(requestId, fn);
  return () => { threadState.deliveryListeners.delete(requestId); };
}

if (!native.register(threadId, isMainThread, '', onEvents)) {
  throw new Error('thread-kill: this context has no Node.js environment to register');
}
// The thread is leaving once its 'exit' event ran (what threads() says of
// it). Its regions still work there; Node's stop of it that may follow is
// never swallowed (native/region.cc, NodeIsStopping).
process.on('exit', () => native.markExiting());
