// Builds the InterruptedError a region throws (called once per interrupt by
// the native region, after it cancelled the termination). Also restores
// require.cache for modules whose loading the interrupt cut short.
import * as v8 from 'v8';
import { TraceResolver, interruptedErrorFromCapture } from './errors';
import type { RawFrame } from './native';
import { isKillReason, runHooksThenStop } from './hooks';

/** runRegion flag: do not touch require.cache. */
export const FLAG_KEEP_MODULE_CACHE = 1;

/**
 * Modules whose top-level code was on the interrupted part of the stack and
 * that never finished loading are removed from require.cache, so a retry
 * loads them from scratch instead of getting a half-initialised exports
 * object. Modules that finished loading, and modules that were loading
 * before the region began, are left alone.
 */
function restoreModuleCache(frames: RawFrame[]): void {
  const cache = require.cache;
  for (const frame of frames) {
    const file = frame[1];
    const mod = cache[file];
    if (mod === undefined || mod.loaded) continue;
    delete cache[file];
    const parent = (mod as { parent?: NodeJS.Module | null }).parent;
    if (parent) {
      const i = parent.children.indexOf(mod);
      if (i >= 0) parent.children.splice(i, 1);
    }
  }
}

/** What the native region calls to build its error (see setInterruptFactory). */
export type InterruptFactory = (reasonBytes: Uint8Array | undefined, by: number, inRegion: RawFrame[],
  trace: object | undefined, seq: number, flags: number) => Error;

/**
 * The factory the native region calls, once per interrupt, after it
 * cancelled the termination. `inRegion` are the interrupted region's frames
 * (top first); `trace` is the native handle of the whole captured stack,
 * resolved by `traceFrames` only if someone reads the error's `stack`.
 */
export function interruptFactory(traceFrames: TraceResolver): InterruptFactory {
  return (reasonBytes, by, inRegion, trace, _seq, flags) => {
    let reason: unknown;
    if (reasonBytes !== undefined) {
      try {
        reason = v8.deserialize(reasonBytes);
      } catch (err) {
        reason = err; // cannot happen for what interrupt() accepted; never hide the interrupt
      }
    }
    if ((flags & FLAG_KEEP_MODULE_CACHE) === 0 && inRegion.length > 0) restoreModuleCache(inRegion);
    // kill() interrupted us (phase 2): let the catch/finally blocks that are
    // about to run finish, then run the onKill hooks and stop.
    if (isKillReason(reason)) setImmediate(() => void runHooksThenStop(reason));
    return interruptedErrorFromCapture(reason, by, inRegion, trace, traceFrames);
  };
}
