// The region's side of an interrupt: builds the InterruptedError a region
// throws (called once per interrupt by the native region, after it cancelled
// the termination), repairs require.cache for modules the interrupt cut
// short, and hands a kill's arrival to the thread's onKill hooks.
import Module = require('module');
import { TraceResolver, interruptedErrorFromCapture } from './errors';
import { killReachedThread } from './hooks';
import { RawFrame, native } from './native';
import { describeEncoded, deserializeReason } from './reason';
import { threadState } from './thread-state';

/** runRegion flag: do not touch require.cache. */
export const FLAG_KEEP_MODULE_CACHE = 1;
/** The factory's `kind` bits (native/region.cc). */
const KIND_KILL = 1;
const KIND_HAS_CAUSE = 2;
const KIND_TIMEOUT = 4;

/**
 * Stamps every module load with the region clock (the last sequence number a
 * region of this thread got) at its start, and keeps the loads in progress
 * on a stack. A load that an interrupt cuts short never pops itself (a
 * termination runs no `finally`), so at the region's boundary the stack
 * still holds exactly the loads that were in progress — and those stamped
 * at or after the region's own number began inside it. Installed once per
 * thread, whatever the module cache does.
 */
export function trackModuleLoads(): void {
  if (threadState.moduleHookInstalled) return;
  threadState.moduleHookInstalled = true;
  const loading = threadState.loading;
  const proto = Module.prototype as unknown as { load(this: object, filename: string): unknown };
  const load = proto.load;
  proto.load = function loadTracked(this: object, filename: string): unknown {
    const mark: [object, number] = [this, native.lastRegionSeq()];
    loading.push(mark);
    try {
      return load.call(this, filename);
    } finally {
      // Also drops marks left above it by loads an interrupt cut short in a
      // region that kept the cache ({ restoreModuleCache: false }).
      const i = loading.lastIndexOf(mark);
      if (i >= 0) loading.length = i;
    }
  };
}

/**
 * Removes from require.cache exactly the modules that began loading inside
 * the interrupted region (sequence number `seq`) and never finished, at any
 * depth, so a retry loads them from scratch instead of getting a
 * half-initialised exports object. Modules that were loading before the
 * region began (say, the one whose top level called interruptible()) stay.
 */
function restoreModuleCache(seq: number): void {
  const loading = threadState.loading;
  let keep = loading.length;
  while (keep > 0 && loading[keep - 1][1] >= seq) keep--;
  if (keep === loading.length) return;
  const cache = require.cache;
  for (const [mod] of loading.splice(keep)) {
    const m = mod as NodeJS.Module;
    if (m.loaded || cache[m.filename] !== m) continue;
    delete cache[m.filename];
    const parent = (m as { parent?: NodeJS.Module | null }).parent;
    if (parent) {
      const i = parent.children.indexOf(m);
      if (i >= 0) parent.children.splice(i, 1);
    }
  }
}

/** What the native region calls to build its error (see setInterruptFactory). */
export type InterruptFactory = (reasonBytes: Uint8Array | string | number | boolean | undefined, by: number, inRegion: RawFrame[],
  trace: object | undefined, seq: number, flags: number, kind: number, cause: unknown, timeoutMs: number) => Error;

/**
 * The factory the native region calls, once per interrupt, after it
 * cancelled the termination and with no exception pending. `inRegion` are
 * the interrupted region's frames (top first); `trace` is the native handle
 * of the whole captured stack, resolved by `traceFrames` only if someone
 * reads the error's `stack`; `cause` is what the region itself threw as the
 * interrupt arrived (kind bit 2).
 */
export function interruptFactory(traceFrames: TraceResolver): InterruptFactory {
  trackModuleLoads();
  return (reasonBytes, by, inRegion, trace, seq, flags, kind, cause, timeoutMs) => {
    if ((flags & FLAG_KEEP_MODULE_CACHE) === 0) restoreModuleCache(seq);
    const kill = (kind & KIND_KILL) !== 0;
    const reason = { bytes: reasonBytes, description: describeEncoded(reasonBytes), decode: deserializeReason };
    const err = interruptedErrorFromCapture(reason, by, inRegion, trace, traceFrames, kill,
      (kind & KIND_HAS_CAUSE) !== 0 ? { cause } : undefined, (kind & KIND_TIMEOUT) !== 0 ? timeoutMs : undefined);
    // kill() interrupted us (its phase 2): the onKill hooks run now, before
    // the error propagates; the thread stops once they settle.
    if (kill) killReachedThread(err.reason);
    return err;
  };
}
