// The one loader for the addon, and the exact shape of what it exports.
// Which file, and the ABI checks before loading it: ./binary.ts.
import * as path from 'path';
import { getEnvironmentData } from 'worker_threads';
import { loadBinary, loadInherited } from './binary';

/** [function, script, line, column], innermost frame first. */
export type RawFrame = [string, string, number, number];

export const enum StopStatus {
  UnknownThread = 0,
  Issued = 1,
  ReservedOnly = 2,
  DeadKilled = 3,
  DeadNatural = 4,
}

export const enum InterruptStatus {
  UnknownThread = 0,
  Hit = 1,
  NoRegion = 2,
  QueuedPending = 3,
  ThreadDead = 4,
  RegionInactive = 5,
}

export const enum EventType {
  ThreadDead = 1,
  InterruptResult = 2,
}

/** Row of threads(): see native/addon.cc Threads(). */
export type RawThread = [
  threadId: number, osTid: number, name: string, isMain: boolean,
  registeredAt: number, state: number, regionDepth: number, tokenObserved: boolean, watchers: number,
];

export interface Native {
  register(threadId: number, isMain: boolean, name: string, onEvents: (flat: number[]) => void): boolean;
  reserve(threadId: number, name: string): boolean;
  release(threadId: number): boolean;
  stop(threadId: number, watch: boolean, captureStack: boolean): StopStatus;
  /** Like stop() without touching the thread: Issued means live, ReservedOnly reserved. */
  lookup(threadId: number): StopStatus;
  watch(threadId: number): boolean;
  ping(threadId: number): boolean;
  heartbeat(threadId: number): [live: boolean, beats: number, beatsInJs: number];
  capturedStack(threadId: number): RawFrame[] | null;
  /** status + 8 * requestId (one number: the interrupt latency path). */
  interrupt(threadId: number, regionSeq: number, reason: Uint8Array | undefined,
    pending: boolean, notify: boolean): number;
  reissueInterrupt(threadId: number, requestId: number): boolean;
  cancelInterrupt(threadId: number, requestId: number): boolean;
  threads(): RawThread[];
  stopCell(threadId: number, observe: boolean): SharedArrayBuffer | undefined;
  markExiting(isMainThread: boolean): void;
  exitNow(code: number): never;
  osTid(): number;
  runRegion<T>(fn: () => T, flags?: number): T;
  currentRegion(): number;
  /** The factory gets the interrupted region's frames and an opaque handle of the whole stack. */
  setInterruptFactory(factory: (reason: Uint8Array | undefined, by: number, inRegion: RawFrame[],
    trace: object | undefined, seq: number, flags: number) => Error): void;
  /** Every frame of a stack a region captured (its factory's `trace`); undefined for anything else. */
  traceFrames(trace: object): RawFrame[] | undefined;
}

const root = path.resolve(__dirname, '..');

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
/** The addon file this process uses. */
export const binaryPath: string = loadedFrom;
