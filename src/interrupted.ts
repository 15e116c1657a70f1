// Builds the InterruptedError a region throws (called once per interrupt by
// the native region, after it cancelled the termination). Also restores
// require.cache for modules whose loading the interrupt cut short.
import * as v8 from 'v8';
import { InterruptedError } from './errors';
import type { RawFrame } from './native';
import { formatFrame } from './frames';
import { isKillReason, runHooksThenStop } from './hooks';

/** runRegion flag: do not touch require.cache. */
export const FLAG_KEEP_MODULE_CACHE = 1;

const REGION_FUNCTION = 'interruptible';
const REGION_SCRIPT = require.resolve('./interrupt');

/** The frames of the interrupted region: above its `interruptible` frame. */
function regionFrames(frames: RawFrame[], boundary: number): RawFrame[] {
  let seen = 0;
  for (let i = 0; i < frames.length; i++) {
    if (frames[i][0] === REGION_FUNCTION && frames[i][1] === REGION_SCRIPT && ++seen === boundary) {
      return frames.slice(0, i);
    }
  }
  return frames; // the region boundary is deeper than we captured
}

/**
 * Modules whose top-level code was on the interrupted part of the stack and
 * that never finished loading are removed from require.cache, so a retry
 * loads them from scratch instead of getting a half-initialised exports
 * object. Modules that finished loading, and modules that were loading
 * before the region began, are left alone.
 */
function restoreModuleCache(frames: RawFrame[]): void {
  const cache = require.cache;
  const scripts = new Set(frames.map((f) => f[1]));
  for (const file of scripts) {
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

export function makeInterruptedError(reasonBytes: Uint8Array | undefined, by: number, frames: RawFrame[],
  boundary: number, _seq: number, flags: number): Error {
  let reason: unknown;
  if (reasonBytes !== undefined) {
    try {
      reason = v8.deserialize(reasonBytes);
    } catch (err) {
      reason = err; // cannot happen for what interrupt() accepted; never hide the interrupt
    }
  }
  const inRegion = boundary > 0 ? regionFrames(frames, boundary) : [];
  if ((flags & FLAG_KEEP_MODULE_CACHE) === 0 && inRegion.length > 0) restoreModuleCache(inRegion);
  const stack = ['InterruptedError: interrupted here', ...inRegion.map(formatFrame)].join('\n');
  // kill() interrupted us (phase 2): let the catch/finally blocks that are
  // about to run finish, then run the onKill hooks and stop.
  if (isKillReason(reason)) setImmediate(() => void runHooksThenStop(reason));
  return new InterruptedError(reason, by, stack);
}
