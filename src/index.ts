// thread-kill: stop, interrupt, kill and diagnose any Node.js thread from any
// other thread. Importing this module registers the current thread.
import './registry/register';

import * as interruptModule from './region/interrupt';
import * as killModule from './kill/kill';
import * as targetsModule from './registry/targets';

// Hot functions are exported as plain data properties: a re-export
// (`export { x } from`) compiles to a getter, which costs ~15 ns on every
// `tk.interruptible(...)` call, more than a tenth of a region.
export const interruptible = interruptModule.interruptible;
export const interrupt = interruptModule.interrupt;
export const currentRegion = interruptModule.currentRegion;
export const kill = killModule.kill;
export const threads = targetsModule.threads;
export const threadInfo = targetsModule.threadInfo;
export type { ThreadInfo, ThreadState, RegionHandle, Target, DeferredDelivery } from './registry/targets';
export type { KillOptions, KillReport, KillOutcome, PhaseReport, PhaseName, PhaseResult, OnUnkillable } from './kill/kill';
export type { InterruptibleOptions, InterruptOptions, InterruptDelivery } from './region/interrupt';
export { KillableWorker } from './killable-worker';
export { StopToken } from './stop/stop-token';
export { stop, threadStopToken } from './stop/stop';
export { onKill } from './stop/on-kill';
export { diagnose } from './kill/diagnose';
export type { Diagnosis, BlockedIn, SyscallInfo, ChildProcessInfo } from './kill/diagnose';
export type { UnblockDetails } from './kill/unblock';
export { exitNow } from './kill/exit';
export {
  InterruptedError, RegionTimeoutError, CleanupTimeoutError, StoppedError, UnknownThreadError, MainThreadError,
  InvalidArgTypeError, OutOfRangeError, UnknownOptionError, NotCloneableError,
} from './shared/errors';
