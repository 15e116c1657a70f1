// threads() and the conversion of every accepted target form into a threadId.
import { Worker } from 'worker_threads';
import { InvalidArgTypeError } from './errors';
import { native } from './native';
import { threadIdValue } from './validate';

export type ThreadState = 'starting' | 'running' | 'stopping' | 'exiting';
const STATES: readonly ThreadState[] = ['starting', 'running', 'stopping', 'exiting'];

/** A live thread known to thread-kill. Plain data: safe to postMessage. */
export interface ThreadInfo {
  readonly threadId: number;
  /** The OS thread id (gettid() on Linux); 0 while 'starting'. */
  readonly osTid: number;
  readonly name: string;
  readonly isMainThread: boolean;
  /** When the thread registered (ms since the epoch). */
  readonly registeredAt: number;
  readonly state: ThreadState;
  /** How many interruptible() regions it is inside right now. */
  readonly regionDepth: number;
  /** Whether it looked at its own stop token (so a cooperative stop may work). */
  readonly hasStopToken: boolean;
  /** Threads waiting for this one to die (kill() calls in flight, join()s). */
  readonly watchers: number;
}

/** Names one interruptible() region; from currentRegion(). Plain data. */
export interface RegionHandle {
  readonly threadId: number;
  readonly regionSeq: number;
}

/** All live registered threads of the process, ordered by threadId. */
export function threads(...args: never[]): ThreadInfo[] {
  if (args.length > 0) throw new InvalidArgTypeError('threads() takes no arguments');
  return native.threads()
    .map(([threadId, osTid, name, isMainThread, registeredAt, state, regionDepth, hasStopToken, watchers]) => Object.freeze({
      threadId, osTid, name, isMainThread, registeredAt, state: STATES[state] ?? 'running', regionDepth, hasStopToken, watchers,
    }))
    .sort((a, b) => a.threadId - b.threadId);
}

/** The info of one live thread, or undefined. */
export function threadInfo(tid: number): ThreadInfo | undefined {
  return threads().find((t) => t.threadId === tid);
}

// KillableWorker records its id here: Worker#threadId reads -1 after exit.
export const knownWorkerIds = new WeakMap<Worker, number>();

export type Target = number | Worker | ThreadInfo | { readonly threadId: number };

export interface ResolvedTarget {
  /** -1 when `target` is a Worker that has exited and whose id was never known. */
  threadId: number;
  worker?: Worker;
  region?: number;
}

/** Accepts a threadId, a Worker, a ThreadInfo (or any `{ threadId }`), and with `allowRegion` a RegionHandle. */
export function resolveTarget(target: unknown, name: string, allowRegion = false): ResolvedTarget {
  if (typeof target === 'number') return { threadId: threadIdValue(target, name) };
  if (target instanceof Worker) {
    const live = target.threadId;
    const tid = live >= 0 ? live : knownWorkerIds.get(target) ?? -1;
    return { threadId: tid, worker: target };
  }
  if (target !== null && typeof target === 'object' && typeof (target as { threadId?: unknown }).threadId === 'number') {
    const tid = threadIdValue((target as { threadId: number }).threadId, `${name}.threadId`);
    const seq = (target as { regionSeq?: unknown }).regionSeq;
    if (seq !== undefined) {
      if (!allowRegion) throw new InvalidArgTypeError(`${name} is a region handle; only interrupt() accepts one`);
      if (typeof seq !== 'number' || !Number.isSafeInteger(seq) || seq <= 0) {
        throw new InvalidArgTypeError(`${name}.regionSeq must be a positive integer from currentRegion(), got ${String(seq)}`);
      }
      return { threadId: tid, region: seq };
    }
    return { threadId: tid };
  }
  const accepted = allowRegion ? 'a threadId, a Worker, a ThreadInfo or a RegionHandle' : 'a threadId, a Worker or a ThreadInfo';
  throw new InvalidArgTypeError(`${name} must be ${accepted}, got ${target === null ? 'null' : typeof target}`);
}
