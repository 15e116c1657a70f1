// api.mjs: every export of thread-kill, by name
import {
  kill, interrupt, interruptible, currentRegion, stop, threads, threadInfo, diagnose, exitNow,
  KillableWorker, StopToken, onKill, threadStopToken, InterruptedError, RegionTimeoutError,
} from 'thread-kill';
console.log(threads().length, typeof kill, typeof KillableWorker);   // 1 function function
