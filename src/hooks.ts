// The target side of a kill: the thread's own stop token and its onKill
// hooks. When a kill reaches the thread while it still gets control (its
// token was stopped by kill(), or its region was interrupted by kill()), the
// hooks run, and then the thread stops itself at once instead of making the
// killer wait out the grace period.
import { isMainThread, threadId as currentThreadId } from 'worker_threads';
import { native } from './native';
import { StopToken } from './stop-token';
import { func } from './validate';

type KillHook = (reason: unknown) => unknown;

const hooks = new Set<KillHook>();
let token: StopToken | undefined;
let armed = false;
let stopping = false;

/** The reason kill() passes to the interrupt of phase 2. */
export const KILL_INTERRUPT_REASON = Object.freeze({ threadKill: 'kill' });

export function isKillReason(reason: unknown): boolean {
  return reason !== null && typeof reason === 'object' && (reason as { threadKill?: unknown }).threadKill === 'kill';
}

/** This thread's own stop token: what kill()'s cooperative phase and KillableWorker#stop() stop. */
export function threadStopToken(): StopToken {
  if (token === undefined) {
    const cell = native.stopCell(currentThreadId, true);
    token = cell === undefined ? new StopToken() : new StopToken(cell);
  }
  if (!armed) {
    // A thread that looks at its token takes part in cooperative kills: once
    // kill() stops the token and the thread gets control, it runs its hooks
    // and stops itself.
    armed = true;
    const t = token;
    t.signal.addEventListener('abort', () => {
      if (t.stoppedByKill) void runHooksThenStop(t.reason);
    }, { once: true });
  }
  return token;
}

/**
 * Runs every onKill hook (once), then stops this thread. Called when a kill
 * got control of the thread: through the stop token or an interrupt.
 */
export async function runHooksThenStop(reason: unknown): Promise<void> {
  if (stopping) return;
  stopping = true;
  const pending = [...hooks].map(async (fn) => fn(reason));
  hooks.clear();
  const results = await Promise.allSettled(pending);
  for (const r of results) {
    if (r.status === 'rejected') process.emitWarning(`thread-kill: an onKill hook failed: ${String(r.reason)}`, 'ThreadKillWarning');
  }
  if (!isMainThread) native.stop(currentThreadId, false, false);
}

/**
 * Registers `fn` to run in this thread when kill() reaches it while it still
 * gets control (phases 1 and 2 of the ladder), bounded by the killer's grace
 * time. Returns a function that unregisters it.
 */
export function onKill(fn: (reason: unknown) => unknown): () => void {
  func(fn, 'fn');
  threadStopToken();
  hooks.add(fn);
  return () => { hooks.delete(fn); };
}
