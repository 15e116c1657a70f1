// Registers the current thread with the native registry (the only side
// effect of importing thread-kill) and routes events that other threads post
// to this one (a watched thread died, an interrupt was delivered).
import { isMainThread, threadId } from 'worker_threads';
import { EventType, native } from './native';
import { interruptFactory } from './interrupted';

type DeathListener = (killed: boolean) => void;
type DeliveryListener = (delivered: boolean) => void;

const deathListeners = new Map<number, Set<DeathListener>>();
const deliveryListeners = new Map<number, DeliveryListener>();

/** Receives the events other threads posted to this one (exported for the bootstrap's lazy handler). */
export function onEvents(flat: number[]): void {
  for (let i = 0; i < flat.length; i += 3) {
    const type = flat[i];
    const a = flat[i + 1];
    const b = flat[i + 2];
    if (type === EventType.ThreadDead) {
      const set = deathListeners.get(a);
      if (set === undefined) continue;
      deathListeners.delete(a);
      for (const fn of set) fn(b === 2);
    } else if (type === EventType.InterruptResult) {
      const fn = deliveryListeners.get(a);
      if (fn === undefined) continue;
      deliveryListeners.delete(a);
      fn(b === 1);
    }
  }
}

/** Call `fn` once when `tid` dies. The caller must also have asked native to watch it. */
export function addDeathListener(tid: number, fn: DeathListener): () => void {
  let set = deathListeners.get(tid);
  if (set === undefined) deathListeners.set(tid, (set = new Set()));
  set.add(fn);
  return () => {
    set!.delete(fn);
    if (set!.size === 0 && deathListeners.get(tid) === set) deathListeners.delete(tid);
  };
}

export function addDeliveryListener(requestId: number, fn: DeliveryListener): () => void {
  deliveryListeners.set(requestId, fn);
  return () => { deliveryListeners.delete(requestId); };
}

if (!native.register(threadId, isMainThread, '', onEvents)) {
  throw new Error('thread-kill: this context has no Node.js environment to register');
}
native.setInterruptFactory(interruptFactory(native.traceFrames));
// Once the thread is exiting, no region may turn a termination into an
// InterruptedError: the termination is Node shutting the thread (or, on the
// main thread, every worker) down.
process.on('exit', () => native.markExiting(isMainThread));

export const currentThreadId: number = threadId;
