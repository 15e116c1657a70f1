// require.cache repair after an interrupt: a module whose load an interrupt
// cut short must not stay cached half-initialised, so every load is stamped
// with the region clock and, at the region's boundary, exactly the loads that
// began inside the interrupted region and never finished are removed.
import Module = require('module');
import { native } from '../shared/native';
import { threadState } from '../shared/thread-state';

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
export function restoreModuleCache(seq: number): void {
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
