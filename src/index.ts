// thread-kill: stop, interrupt, kill and diagnose any Node.js thread from any
// other thread. Importing this module registers the current thread.
import './thread';

import * as interruptModule from './interrupt';
import * as killModule from './kill';
import * as targetsModule from './targets';

// Hot functions are exported as plain data properties: a re-export
// (`export { x } from`) compiles to a getter, which costs ~15 ns on every
// `tk.interruptible(...)` call, more than a tenth of a region.
export const interruptible = interruptModule.interruptible;
export const interrupt = interruptModule.interrupt;
export const currentRegion = interruptModule.currentRegion;
export const kill = killModule.kill;
export const threads = targetsModule.threads;
export const threadInfo = targetsModule.threadInfo;
export type { ThreadInfo, ThreadState, RegionHandle, Target } from './targets';
export type { KillOptions, KillReport, KillOutcome, PhaseReport, PhaseName, PhaseResult, OnUnkillable } from './kill';
export type { InterruptibleOptions, InterruptOptions, InterruptDelivery } from './interrupt';
export { KillableWorker } from './killable-worker';
export { StopToken } from './stop-token';
export { stop } from './stop';
export { onKill, threadStopToken } from './hooks';
export { diagnose } from './diagnose';
export type { Diagnosis, BlockedIn, SyscallInfo, ChildProcessInfo } from './diagnose';
export type { UnblockDetails } from './unblock';
export { exitNow } from './exit';
export {
  InterruptedError, RegionTimeoutError, CleanupTimeoutError, StoppedError, UnknownThreadError, MainThreadError,
  InvalidArgTypeError, OutOfRangeError, UnknownOptionError, NotCloneableError,
} from './errors';
