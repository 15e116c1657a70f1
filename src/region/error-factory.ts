// The InterruptedError a region throws: built once per interrupt by the
// native region (after it cancelled the termination, with no exception
// pending), after require.cache is repaired (./module-cache.ts); a kill's
// arrival is handed to the thread's onKill hooks before the error propagates.
import { TraceResolver, interruptedErrorFromCapture } from '../shared/errors';
import { killReachedThread } from '../stop/on-kill';
import { describeEncoded, deserializeReason } from '../shared/reason';
import { restoreModuleCache, trackModuleLoads } from './module-cache';

/** runRegion flag: do not touch require.cache. */
export const FLAG_KEEP_MODULE_CACHE = 1;
/** The factory's `kind` bits (native/region.cc). */
const KIND_KILL = 1;
const KIND_HAS_CAUSE = 2;
const KIND_TIMEOUT = 4;

/** What the native region calls to build its error (see setInterruptFactory). */
export type InterruptFactory = (reasonBytes: Uint8Array | string | number | boolean | undefined, by: number, regionFrames: number,
  trace: object | undefined, seq: number, flags: number, kind: number, cause: unknown, timeoutMs: number) => Error;

/**
 * The factory the native region calls, once per interrupt, after it
 * cancelled the termination and with no exception pending. `trace` is the
 * native handle of the whole captured stack (or undefined), resolved by
 * `traceFrames` only if someone reads the error's `stack` or
 * `interruptedStack`; its top `regionFrames` frames are the interrupted
 * region's own. `cause` is what the region itself threw as the interrupt
 * arrived (kind bit 2).
 */
export function interruptFactory(traceFrames: TraceResolver): InterruptFactory {
  trackModuleLoads();
  return (reasonBytes, by, regionFrames, trace, seq, flags, kind, cause, timeoutMs) => {
    if ((flags & FLAG_KEEP_MODULE_CACHE) === 0) restoreModuleCache(seq);
    const kill = (kind & KIND_KILL) !== 0;
    const reason = { bytes: reasonBytes, description: describeEncoded(reasonBytes), decode: deserializeReason };
    const err = interruptedErrorFromCapture(reason, by, regionFrames, trace, traceFrames, kill,
      (kind & KIND_HAS_CAUSE) !== 0 ? { cause } : undefined, (kind & KIND_TIMEOUT) !== 0 ? timeoutMs : undefined);
    // kill() interrupted us (its phase 2): the onKill hooks run now, before
    // the error propagates; the thread stops once they settle.
    if (kill) killReachedThread(err.reason);
    return err;
  };
}
