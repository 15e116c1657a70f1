// exitNow(): leave the process even when a worker is stuck in native code.
// process.exit() on the main thread joins every worker thread first (Node's
// stop_sub_worker_contexts) and blocks forever on one that never returns to
// JS; exitNow() flushes what it can and calls _exit() instead.
import * as fs from 'fs';
import { InvalidArgTypeError } from './errors';
import { native } from './native';
import { killChildrenOfStuckThreads } from './unblock';
import { boolean, optionsBag } from './validate';

/**
 * options.killChildren (default true): first SIGKILL the child process trees
 * of threads left behind waiting for them (spawnSync/execSync), so no child
 * outlives the process.
 */
export function exitNow(code = 1, options?: { killChildren?: boolean }): never {
  if (typeof code !== 'number' || !Number.isInteger(code) || code < 0 || code > 255) {
    throw new InvalidArgTypeError(`code must be an integer from 0 to 255, got ${String(code)}`);
  }
  const o = optionsBag(options, 'options', ['killChildren'] as const);
  if (boolean(o.killChildren, 'options.killChildren', true)) {
    try { killChildrenOfStuckThreads(); } catch { /* best effort: exiting regardless */ }
  }
  // stdout/stderr are synchronous for files and pipes on POSIX, so what was
  // written has reached the kernel; fsync is for files redirected to disk.
  for (const fd of [1, 2]) {
    try { fs.fsyncSync(fd); } catch { /* a pipe or a TTY: nothing to flush */ }
  }
  return native.exitNow(code);
}
