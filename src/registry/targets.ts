// threads() and the conversion of every accepted target form into a threadId.
import { Worker } from 'worker_threads';
import { InvalidArgTypeError, UnknownThreadError } from '../shared/errors';
import { RawThread, TerminateStatus, native } from '../shared/native';
import { threadIdValue } from '../shared/validate';

export type ThreadState = 'starting' | 'running' | 'stopping' | 'exiting';
const STATES: ThreadState[] = [];
for (const [name, code] of Object.entries(native.constants.state)) STATES[code] = name as ThreadState;

/**
 * Throws UnknownThreadError (naming argument `name`) unless the registry has
 * seen `threadId`, live or dead: the one check for callers that have no
 * status of their own to read it from (kill() and interrupt() read theirs).
 */
export function assertKnownThread(threadId: number, name: string): void {
  if (native.lookup(threadId) === TerminateStatus.UnknownThread) throw new UnknownThreadError(threadId, name);
}

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
  /** Threads waiting for this one to die (kill() calls in flight). */
  readonly watchers: number;
  /** Whether it registered onKill hooks (so kill()'s cooperative phase applies). */
  readonly hasKillHooks: boolean;
  /**
   * A delivery (interrupt, deadline, kill's interrupt phase) that waits for
   * Node's code to return before it may land (see README, "What a delivery
   * waits for"): where, and for how long so far. Absent when none waits.
   */
  readonly deferredDelivery?: DeferredDelivery;
}

/** A delivery that waits: the frame of Node's it waits for, why, and for how long so far. */
export interface DeferredDelivery {
  /** "function (node:script:line:column): why". */
  readonly where: string;
  readonly forMs: number;
}

/** Names one interruptible() region; from currentRegion(). Plain data. */
export interface RegionHandle {
  readonly threadId: number;
  readonly regionSeq: number;
}

function toInfo([threadId, osTid, name, isMainThread, registeredAt, state, regionDepth, hasStopToken, watchers, hasKillHooks, deferredMs, deferredWhere]: RawThread): ThreadInfo {
  const info: { -readonly [K in keyof ThreadInfo]: ThreadInfo[K] } = {
    threadId, osTid, name, isMainThread, registeredAt, state: STATES[state] ?? 'running', regionDepth, hasStopToken, watchers, hasKillHooks,
  };
  if (deferredMs >= 0) info.deferredDelivery = Object.freeze({ where: deferredWhere, forMs: deferredMs });
  return Object.freeze(info);
}

/** All live registered threads of the process, ordered by threadId. */
export function threads(): ThreadInfo[];
export function threads(...args: unknown[]): ThreadInfo[] {
  if (args.length > 0) throw new InvalidArgTypeError('threads() takes no arguments');
  return native.threads().map(toInfo).sort((a, b) => a.threadId - b.threadId);
}

/** The info of one live thread, or undefined. */
export function threadInfo(tid: number): ThreadInfo | undefined {
  const raw = native.threadInfo(threadIdValue(tid, 'threadId'));
  return raw === undefined ? undefined : toInfo(raw);
}

/**
 * The code a Worker's 'exit' event must report: the kill's exit code if
 * thread-kill killed it (or KillableWorker#terminate() ended it), else
 * Node's own. Node cannot be told the code when the thread is stopped from
 * another thread, so the parent's Worker object rewrites it as it emits.
 */
export function exitCodeFor(tid: number, nodeCode: unknown, fallback?: number): unknown {
  const killed = native.killedExitCode(tid);
  return killed >= 0 ? killed : fallback ?? nodeCode;
}

const rewriting = new WeakSet<Worker>();

/** Makes a plain Worker's 'exit' report the kill's exit code (KillableWorker does it itself). */
export function reportKillExitCode(worker: Worker, tid: number, fallback?: number): void {
  if (knownWorkerIds.has(worker) || rewriting.has(worker)) return;
  rewriting.add(worker);
  const emit = worker.emit;
  worker.emit = function emitWithKillCode(this: Worker, event: string | symbol, ...args: unknown[]): boolean {
    if (event === 'exit') args[0] = exitCodeFor(tid, args[0], fallback);
    return (emit as (...a: unknown[]) => boolean).call(this, event, ...args);
  } as typeof worker.emit;
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
// (Parenthesized: compiled with the module, not at kill()'s first call, which runs it before its stop.)
export const resolveTarget = (function resolveTarget(target: unknown, name: string, allowRegion = false): ResolvedTarget {
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
});
