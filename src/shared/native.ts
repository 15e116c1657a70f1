// The one loader for the addon, and the exact shape of what it exports.
// Which file, and the ABI checks before loading it: ./binary.ts.
import * as path from 'path';
import { getEnvironmentData } from 'worker_threads';
import { loadBinary, loadInherited } from './binary';

/** [function, script, line, column], innermost frame first. */
export type RawFrame = [string, string, number, number];

/** The binding's own constants (native/addon.cc SetConstants): nothing here is mirrored by hand. */
export interface Constants {
  terminate: { UnknownThread: number; Issued: number; ReservedOnly: number; DeadKilled: number; DeadNatural: number };
  /** startKill(): low 3 bits a terminate status or one of the first two; TakesPart and InRegion are flag bits. */
  startKill: { Cooperative: number; InterruptFirst: number; TakesPart: number; InRegion: number };
  interrupt: { UnknownThread: number; Hit: number; NoRegion: number; QueuedPending: number; ThreadDead: number; RegionInactive: number };
  event: { ThreadDead: number; InterruptResult: number; KillReached: number; TerminateWorker: number; Abandoned: number };
  delivery: { RegionFinished: number; Delivered: number; ThreadExited: number };
  cause: { Natural: number; Killed: number };
  state: { starting: number; running: number; stopping: number; exiting: number };
  stopCellBytes: number;
}

/** Row of threads() / threadInfo(): see native/addon.cc RowToJs(). */
export type RawThread = [
  threadId: number, osTid: number, name: string, isMain: boolean,
  registeredAt: number, state: number, regionDepth: number, tokenObserved: boolean, watchers: number,
  hasKillHooks: boolean, deferredMs: number, deferredWhere: string,
];

export interface Native {
  constants: Constants;
  /** `onEvents` may be omitted (the KillableWorker bootstrap); a thread keeps the first handler it registered. */
  register(threadId: number, isMain: boolean, name: string, onEvents: (flat: number[]) => void): boolean;
  reserve(threadId: number, name: string): boolean;
  release(threadId: number): boolean;
  /** Marks the thread killed (exitCode: what its 'exit' reports) and, unless markOnly, terminates it (node::Stop). */
  terminate(threadId: number, watch: boolean, captureStack: boolean, markOnly?: boolean, exitCode?: number, quiet?: boolean): number;
  /** Like terminate() without touching the thread: Issued means live, ReservedOnly reserved. */
  lookup(threadId: number): number;
  /** `quiet`: counted in threads().watchers but sent no ThreadDead event (a parent waits for 'exit'). */
  watch(threadId: number, quiet?: boolean): boolean;
  unwatch(threadId: number): void;
  ping(threadId: number): boolean;
  heartbeat(threadId: number): [live: boolean, beats: number, beatsInJs: number];
  capturedStack(threadId: number): RawFrame[] | null;
  /** status + 8 * requestId (one number: the interrupt latency path). `kill` only from kill(). */
  /** `reason`: the codec's bytes, or a common encoding as its value (encodeReason() in ./reason.ts). */
  interrupt(threadId: number, regionSeq: number, reason: Uint8Array | string | number | boolean | null | undefined,
    pending: boolean, notify: boolean, kill?: boolean): number;
  reissueInterrupt(threadId: number, requestId: number): boolean;
  cancelInterrupt(threadId: number, requestId: number): boolean;
  threads(): RawThread[];
  threadInfo(threadId: number): RawThread | undefined;
  /** The landing rule's source reader (tests): 0 free, 1 in a try, 2 implicit (async/generator/executor), 3 at a function's entry, 4 at its entry but writing state first. */
  classifySourcePosition(source: string, offset: number): number | undefined;
  isTailCallPosition(source: string, offset: number): boolean | undefined;
  /** kill(): record the kill (reason, exit code); `notify` posts the thread a KillReached event. */
  announceKill(threadId: number, reason: Uint8Array | undefined, exitCode: number, notify: boolean): boolean;
  /**
   * kill()'s first step, one locked section: announces the kill, then posts KillReached (`grace` and
   * hooks/token: Cooperative), or leaves it to the interrupt phase (`grace` and a region:
   * InterruptFirst), or terminates the thread at once (watching it): a terminate status. Flag bits as in constants.startKill.
   */
  startKill(threadId: number, reason: Uint8Array | undefined, exitCode: number, grace: boolean, captureStack: boolean, quiet: boolean): number;
  /** The calling thread's announced kill reason: null if no kill was announced, undefined if it had none. */
  killReason(): Uint8Array | null | undefined;
  /** The exit code a killed thread's 'exit' event reports, -1 if it was not killed. */
  killedExitCode(threadId: number): number;
  askCreatorToTerminate(threadId: number): boolean;
  setHasKillHooks(has: boolean): void;
  /** A kill()'s interrupt already fired in one of the thread's regions (its onKill hooks run at that boundary). */
  killInterrupted(threadId: number): boolean;
  /** onUnkillable 'abandon': remember it (and tell the main thread); abandonedAlive() counts those still alive. */
  markAbandoned(threadId: number): void;
  abandonedAlive(): number;
  stopCell(threadId: number, observe: boolean): SharedArrayBuffer | undefined;
  markExiting(): void;
  exitNow(code: number): never;
  osTid(): number;
  /** true: one more hold on the calling thread's event loop (its inbox is ref'd while any is held); false: release one. */
  holdLoop(hold: boolean): void;
  runRegion<T>(fn: () => T, flags?: number): T;
  /** runRegion with a deadline of `timeoutMs` (finite, > 0); the stuck guard's label is the string arguments after it, joined. */
  runRegionDeadline<T>(fn: () => T, flags: number, timeoutMs: number, ...label: Array<string | undefined>): T;
  /** The stuck guard (native/deadline.h): labelled deadline regions still running graceMs after their deadline fired end the process. 0: off. */
  setStuckGuard(graceMs: number, exitCode: number): void;
  currentRegion(): number;
  /** Gives active deadline region `seq` of this thread `timeoutMs` from now (0: none); false if it cannot. */
  rearmDeadline(seq: number, timeoutMs: number): boolean;
  lastRegionSeq(): number;
  /** The factory gets an opaque handle of the whole stack and how many of its top frames are the region's. */
  setInterruptFactory(factory: (reason: Uint8Array | undefined, by: number, regionFrames: number,
    trace: object | undefined, seq: number, flags: number, kind: number, cause: unknown, timeoutMs: number) => Error): void;
  /** Every frame of a stack a region captured (its factory's `trace`); undefined for anything else. */
  traceFrames(trace: object): RawFrame[] | undefined;
  // The unblock rung (native/unblock.cc; see src/kill/unblock.ts).
  /** Captures the thread's identity (start time) for unblockSignal. */
  unblockArm(threadId: number, testStartTime?: number): boolean;
  /** One identity-checked signal to a thread being killed: an UnblockStatus. */
  unblockSignal(threadId: number): number;
  /** [signal number (0: unsupported), handler state 0 default / 1 ours / 2 someone else's]. */
  unblockInfo(): [signal: number, handler: number];
  /** Satisfies the open() of a FIFO a thread being killed waits in: [OpenWaitStatus, path, opened for reading]. */
  unblockOpen(threadId: number): [status: number, path: string, forReading: boolean];
  /** The syscall numbers this build checks natively: [read-type, open]. */
  unblockSyscalls(): [reads: number[], opens: number[]];
  /** The peer inode of each Unix socket inode: > 0 found, 0 none, -1 sock_diag unavailable. */
  unixPeers(inodes: number[]): number[];
  /** Every other process's fds linking to one of `targets` ('pipe:[N]', 'socket:[N]'): flat [pid, fd, target index, ...]. */
  fdHolders(targets: string[]): number[];
  /** The epoll fd of the thread's own event loop, or -1. */
  loopFd(threadId: number): number;
  /** 1 sent, 0 gone (or a reused pid), -1 error. Only SIGTERM (15) and SIGKILL (9). */
  signalProcess(pid: number, startTime: number, signal: number): number;
}

const root = path.resolve(__dirname, '..', '..');

/**
 * The environment-data key under which a thread publishes the addon file it
 * loaded. Workers it creates inherit it and load that same file: one shared
 * object, hence one registry, per process.
 */
export const BINARY_KEY = 'thread-kill:binary';

function load(): Native {
  const inherited = getEnvironmentData(BINARY_KEY);
  if (typeof inherited === 'string') {
    loadedFrom = inherited;
    return loadInherited(root, inherited) as Native;
  }
  const loaded = loadBinary(root);
  loadedFrom = loaded.file;
  return loaded.binding as Native;
}

let loadedFrom = '';
export const native: Native = load();
export const { terminate: TerminateStatus, interrupt: InterruptStatus, event: EventType, delivery: Delivery } = native.constants;
/** The addon file this process uses. */
export const binaryPath: string = loadedFrom;

// The two packed results of the binding, decoded here (region/interrupt.ts
// inlines the first, so that a self-interrupt lands in the caller's code).
/** native.interrupt(): status + 8 * requestId — the InterruptStatus. */
export function interruptStatusOf(packed: number): number { return packed % 8; }
/** native.startKill(): its kind — a TerminateStatus, or constants.startKill Cooperative / InterruptFirst (flag bits above). */
export function startKillKind(packed: number): number { return packed & 7; }
