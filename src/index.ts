// thread-kill: stop, interrupt, kill and diagnose any Node.js thread from any
// other thread. Importing this module registers the current thread.
import './thread';

export { threads, threadInfo } from './targets';
export type { ThreadInfo, ThreadState, RegionHandle, Target } from './targets';
export { kill } from './kill';
export type { KillOptions, KillReport, KillOutcome, PhaseReport, PhaseName, PhaseResult, OnUnkillable } from './kill';
export { interruptible, interrupt, currentRegion } from './interrupt';
export type { InterruptibleOptions, InterruptOptions, InterruptDelivery } from './interrupt';
export { KillableWorker } from './killable-worker';
export { StopToken } from './stop-token';
export { stop } from './stop';
export { onKill, threadStopToken } from './hooks';
export { diagnose } from './diagnose';
export type { Diagnosis, BlockedIn, SyscallInfo } from './diagnose';
export { exitNow } from './exit';
export {
  InterruptedError, StoppedError, UnknownThreadError, MainThreadError,
  InvalidArgTypeError, OutOfRangeError, UnknownOptionError, NotCloneableError,
} from './errors';
