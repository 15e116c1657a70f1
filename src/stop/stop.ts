// A thread's own stop token: the one it reads with threadStopToken(), and
// which stop() — the cooperative stop, from any thread — stops.
import { native } from '../shared/native';
import { serializeReason } from '../shared/reason';
import { StopToken, stopTokenWith } from './stop-token';
import { Target, assertKnownThread, resolveTarget } from '../registry/targets';
import { threadState } from '../shared/thread-state';
import { threadId as currentThreadId } from 'worker_threads';

/** This thread's own stop token: what kill()'s cooperative phase and KillableWorker#stop() stop. */
export function threadStopToken(): StopToken {
  if (threadState.token === undefined) {
    const cell = native.stopCell(currentThreadId, true);
    threadState.token = cell === undefined ? new StopToken() : new StopToken(cell);
  }
  return threadState.token as StopToken;
}

/**
 * Stops `target`'s own stop token, waking its sleepers and aborting its
 * `signal`. Returns true if this call stopped it, false if it was already
 * stopped or the thread is gone. The thread decides what to do about it.
 */
export function stop(target: Target, reason?: unknown): boolean {
  const { threadId } = resolveTarget(target, 'target');
  const bytes = serializeReason(reason, 'reason'); // checked before anything happens
  if (threadId < 0) return false;
  const cell = native.stopCell(threadId, false);
  if (cell === undefined) {
    assertKnownThread(threadId, 'target');
    return false;
  }
  return stopTokenWith(new StopToken(cell), bytes, 0);
}
