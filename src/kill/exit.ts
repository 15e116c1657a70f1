// Leaving the process even when a worker is stuck in native code.
// process.exit() on the main thread, and the end of its event loop, join
// every worker thread (Node's stop_sub_worker_contexts) and block forever on
// one that never returns to JS; exitNow() flushes what it can and calls
// _exit() instead.
import * as fs from 'fs';
import { isMainThread } from 'worker_threads';
import { native } from '../shared/native';
import { threadState } from '../shared/thread-state';
import { killChildrenOfStuckThreads } from './unblock';
import { boolean, exitCodeValue, optionsBag } from '../shared/validate';

function flushStdio(): void {
  // stdout/stderr are synchronous for files and pipes on POSIX, so what was
  // written has reached the kernel; fsync is for files redirected to disk.
  for (const fd of [1, 2]) {
    try { fs.fsyncSync(fd); } catch { /* a pipe or a TTY: nothing to flush */ }
  }
}

/** Writes a line to the process's stderr synchronously, from any thread (a worker's process.stderr is asynchronous). */
export function writeStderrSync(line: string): void {
  try { fs.writeSync(2, line); } catch { /* stderr closed: nothing to tell */ }
}

/**
 * Leaves the process with `code` (default 1) at once, without joining
 * worker threads. options.killChildren (default true): first SIGKILL the
 * child process trees of threads left behind waiting for them
 * (spawnSync/execSync), so no child outlives the process.
 */
export function exitNow(code?: number, options?: { killChildren?: boolean }): never {
  const c = exitCodeValue(code, 'code', 1);
  const o = optionsBag(options, 'options', ['killChildren'] as const);
  if (boolean(o.killChildren, 'options.killChildren', true)) {
    try { killChildrenOfStuckThreads(); } catch { /* best effort: exiting regardless */ }
  }
  flushStdio();
  return native.exitNow(c);
}

/**
 * (Main thread) After onUnkillable: 'abandon', the process must still be
 * able to end: when its 'exit' event has run every listener — after
 * process.exit() or at the end of the event loop — and an abandoned thread
 * is still alive, leave with the exit code at once instead of joining it.
 */
export function guardExitAgainstAbandoned(): void {
  if (!isMainThread || threadState.exitGuard) return;
  threadState.exitGuard = true;
  const emit = process.emit;
  process.emit = function emitThenLeave(this: NodeJS.Process, event: string | symbol, ...args: unknown[]): boolean {
    const handled = (emit as (...a: unknown[]) => boolean).call(this, event, ...args);
    if (event === 'exit' && native.abandonedAlive() > 0) {
      const code = typeof process.exitCode === 'number' ? process.exitCode : typeof args[0] === 'number' ? args[0] : 0;
      try { killChildrenOfStuckThreads(); } catch { /* best effort */ }
      flushStdio();
      native.exitNow(code);
    }
    return handled;
  } as typeof process.emit;
}

threadState.eventHandlers.abandoned = guardExitAgainstAbandoned;
