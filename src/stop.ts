// stop(): the cooperative stop, from any thread — stops a thread's own stop
// token (the one it reads with threadStopToken()).
import { UnknownThreadError } from './errors';
import { TerminateStatus, native } from './native';
import { serializeReason } from './reason';
import { StopToken, stopTokenWith } from './stop-token';
import { Target, resolveTarget } from './targets';

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
    if (native.lookup(threadId) === TerminateStatus.UnknownThread) throw new UnknownThreadError(threadId, 'target');
    return false;
  }
  return stopTokenWith(new StopToken(cell), bytes, 0);
}
