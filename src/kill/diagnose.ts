// "Why won't it die?" — what a thread is doing, from outside it:
//   * an interrupt heartbeat: a thread that services interrupts is running JS
//     (or idling in its event loop), so a termination will land;
//   * on Linux, /proc/self/task/<tid>/{stat,syscall,wchan}: scheduler state,
//     the syscall it is blocked in, the kernel wait channel and CPU time.
import * as fs from 'fs';
import { native } from '../shared/native';
import { Target, assertKnownThread, resolveTarget, threadInfo } from '../registry/targets';
import { durationMs, optionsBag } from '../shared/validate';
import { formatFrames } from '../shared/frames';

export type BlockedIn = 'js' | 'native-cpu' | 'syscall' | 'idle-loop' | 'unknown';

export interface SyscallInfo {
  number: number;
  /** e.g. 'read', 'nanosleep', 'futex', 'epoll_wait'; 'syscall_<n>' when not in our table. */
  name: string;
  /** Raw argument registers as hex strings. */
  args: string[];
  /** For fd-taking syscalls: the fd and what it points at (`pipe:[123]`, a path...). */
  fd?: number;
  fdTarget?: string;
}

export interface Diagnosis {
  threadId: number;
  osTid: number;
  blockedIn: BlockedIn;
  /** One line for humans, e.g. "blocked in native code, in read() on fd 12 (pipe:[4242]), 0 ms CPU for 3.1 s". */
  summary: string;
  /** The thread ran our interrupt callback while we watched. */
  servicingInterrupts: boolean;
  /** Scheduler state letter from /proc (R running, S sleeping, D disk sleep, ...). */
  state?: string;
  syscall?: SyscallInfo;
  /** Kernel wait channel (e.g. pipe_read, hrtimer_nanosleep, futex_wait_queue). */
  wchan?: string;
  /** CPU time the thread used while we watched. */
  cpuMs?: number;
  watchedMs: number;
  /** JS stack captured when a termination last reached the thread, if it did. */
  jsStack?: string;
  /** What could not be determined on this platform, and why. */
  unavailable: string[];
  /** The child processes (whole trees) the thread is waiting for, e.g. in spawnSync/execSync. */
  children?: ChildProcessInfo[];
  /** For a thread that will not die by itself: what can (and what cannot) end it. */
  remedy?: string;
}

/** A process in the tree of children of a thread. */
export interface ChildProcessInfo {
  pid: number;
  /** The process it was a child of when listed. */
  ppid: number;
  /** /proc/<pid>/cmdline, arguments joined by spaces. */
  cmdline: string;
  /** Field 22 of /proc/<pid>/stat: with the pid, the process's identity. */
  startTime: number;
}

/** Read-type system calls that a signal without SA_RESTART interrupts and libuv does not retry. */
export const READ_SYSCALLS: ReadonlySet<string> = new Set(['read', 'pread64', 'readv', 'preadv', 'preadv2', 'recvfrom', 'recvmsg']);
const EPOLL_SYSCALLS = new Set(['epoll_wait', 'epoll_pwait', 'epoll_pwait2']);
const CHILD_WAIT_SYSCALLS = new Set(['wait4', 'waitid']);

const SYSCALLS: Record<string, Record<number, string>> = {
  x64: {
    0: 'read', 1: 'write', 2: 'open', 3: 'close', 7: 'poll', 16: 'ioctl', 17: 'pread64', 18: 'pwrite64',
    19: 'readv', 20: 'writev', 23: 'select', 24: 'sched_yield', 34: 'pause', 35: 'nanosleep', 42: 'connect',
    43: 'accept', 44: 'sendto', 45: 'recvfrom', 46: 'sendmsg', 47: 'recvmsg', 61: 'wait4', 72: 'fcntl', 74: 'fsync',
    4: 'stat', 5: 'fstat', 6: 'lstat', 262: 'newfstatat', 332: 'statx', 295: 'preadv', 296: 'pwritev', 327: 'preadv2',
    202: 'futex', 230: 'clock_nanosleep', 232: 'epoll_wait', 247: 'waitid', 257: 'openat', 270: 'pselect6',
    271: 'ppoll', 281: 'epoll_pwait', 288: 'accept4', 426: 'io_uring_enter', 441: 'epoll_pwait2',
  },
  arm64: {
    22: 'epoll_pwait', 29: 'ioctl', 56: 'openat', 57: 'close', 63: 'read', 64: 'write', 65: 'readv', 66: 'writev',
    67: 'pread64', 69: 'preadv', 70: 'pwritev', 72: 'pselect6', 79: 'newfstatat', 80: 'fstat', 82: 'fsync', 286: 'preadv2', 291: 'statx', 73: 'ppoll', 95: 'waitid', 98: 'futex', 101: 'nanosleep', 115: 'clock_nanosleep',
    124: 'sched_yield', 202: 'accept', 203: 'connect', 206: 'sendto', 207: 'recvfrom', 212: 'recvmsg',
    242: 'accept4', 260: 'wait4', 426: 'io_uring_enter', 441: 'epoll_pwait2',
  },
};
const FD_SYSCALLS = new Set(['read', 'write', 'pread64', 'pwrite64', 'readv', 'writev', 'preadv', 'preadv2', 'pwritev', 'fsync', 'recvfrom', 'recvmsg',
  'sendto', 'sendmsg', 'accept', 'accept4', 'connect', 'ioctl', 'fcntl', 'close', 'epoll_wait', 'epoll_pwait',
  'epoll_pwait2']);

export interface ProcSample {
  at: number;
  state?: string;
  cpuTicks?: number;
  syscall?: SyscallInfo;
  wchan?: string;
  error?: string;
}

const TICKS_PER_SEC = 100; // USER_HZ on every Linux Node supports

function readSmall(file: string): string | undefined {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}

/** One look at /proc/self/task/<osTid>. */
export function sampleProc(osTid: number): ProcSample {
  const at = performance.now();
  if (process.platform !== 'linux') return { at, error: `/proc is not available on ${process.platform}` };
  if (!(osTid > 0)) return { at, error: 'the thread has not reported its OS thread id yet' };
  const dir = `/proc/self/task/${osTid}`;
  const stat = readSmall(`${dir}/stat`);
  if (stat === undefined) return { at, error: `${dir} is gone (the thread has exited)` };
  const sample: ProcSample = { at };
  // "tid (comm) S ppid ..." — comm may contain spaces and parentheses.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  sample.state = fields[0];
  sample.cpuTicks = Number(fields[11]) + Number(fields[12]); // utime + stime
  const wchan = readSmall(`${dir}/wchan`);
  if (wchan !== undefined && wchan !== '0' && wchan !== '') sample.wchan = wchan.trim();
  const sc = readSmall(`${dir}/syscall`)?.trim();
  if (sc !== undefined && sc !== 'running') {
    const parts = sc.split(' ');
    const nr = Number(parts[0]);
    if (nr >= 0) {
      const name = SYSCALLS[process.arch]?.[nr] ?? `syscall_${nr}`;
      const info: SyscallInfo = { number: nr, name, args: parts.slice(1, 7) };
      if (FD_SYSCALLS.has(name)) {
        info.fd = Number.parseInt(parts[1], 16);
        try {
          info.fdTarget = fs.readlinkSync(`/proc/self/fd/${info.fd}`);
        } catch {
          // closed meanwhile
        }
      }
      sample.syscall = info;
    }
  }
  return sample;
}

function startTimeOf(statText: string | undefined): number {
  if (statText === undefined) return 0;
  // Field 22; fields after "(comm) " start at field 3.
  const v = Number(statText.slice(statText.lastIndexOf(')') + 2).split(' ')[19]);
  return Number.isFinite(v) ? v : 0;
}

function pidsIn(text: string | undefined): number[] {
  return (text ?? '').split(' ').filter((x) => x !== '').map(Number).filter((n) => Number.isInteger(n) && n > 1);
}

/**
 * Every process descended from OS thread `osTid` of this process: its
 * children (/proc/self/task/<tid>/children), then, recursively, the children
 * of every thread of each of those. Parents come before their children.
 */
export function processTree(osTid: number): ChildProcessInfo[] {
  if (process.platform !== 'linux' || !(osTid > 0)) return [];
  const out: ChildProcessInfo[] = [];
  const seen = new Set<number>();
  const queue = pidsIn(readSmall(`/proc/self/task/${osTid}/children`)).map((pid) => ({ pid, ppid: process.pid }));
  while (queue.length > 0 && out.length < 1024) {
    const { pid, ppid } = queue.shift()!;
    if (seen.has(pid)) continue;
    seen.add(pid);
    const startTime = startTimeOf(readSmall(`/proc/${pid}/stat`));
    if (startTime === 0) continue; // gone meanwhile
    const cmdline = (readSmall(`/proc/${pid}/cmdline`) ?? '').split('\0').filter((a) => a !== '').join(' ');
    out.push({ pid, ppid, cmdline, startTime });
    let tasks: string[] = [];
    try { tasks = fs.readdirSync(`/proc/${pid}/task`); } catch { /* gone */ }
    for (const t of tasks) for (const child of pidsIn(readSmall(`/proc/${pid}/task/${t}/children`))) queue.push({ pid: child, ppid: pid });
  }
  return out;
}

/**
 * Whether a thread blocked in `syscall` is waiting for child processes: in
 * wait4/waitid, or in epoll on an fd other than its own event loop's (the
 * private loop of spawnSync/execSync).
 */
export function waitsOnChildren(threadId: number, syscall: SyscallInfo | undefined): boolean {
  if (syscall === undefined) return false;
  if (CHILD_WAIT_SYSCALLS.has(syscall.name)) return true;
  if (!EPOLL_SYSCALLS.has(syscall.name)) return false;
  const own = native.loopFd(threadId);
  return own >= 0 && syscall.fd !== undefined && syscall.fd !== own;
}

const NOTHING_IN_PROCESS = 'nothing inside this process can stop it before the call returns; ' +
  'ending the process can (exitNow(), or kill() with onUnkillable: \'exit\'), and code that must be killable ' +
  'belongs in a child process (child_process.fork/spawn), which can be killed';

/** What can end a thread that did not die by itself, for the diagnosis. */
function remedyFor(d: Diagnosis): string | undefined {
  if (d.blockedIn === 'js' || d.blockedIn === 'idle-loop') return undefined;
  if (d.children !== undefined && d.children.length > 0) {
    return 'it waits for its child processes: kill() kills their process trees (SIGTERM, then SIGKILL) unless ' +
      'killChildren is false, and the call then returns';
  }
  if (d.blockedIn === 'syscall' && d.syscall !== undefined && READ_SYSCALLS.has(d.syscall.name)) {
    return `a read-type call: kill() interrupts it with a thread-directed signal (the unblock rung) unless unblock is false ` +
      `or another handler owns the signal; otherwise ${NOTHING_IN_PROCESS}`;
  }
  if (d.blockedIn === 'syscall' && d.syscall !== undefined) {
    return `${d.syscall.name}() is retried after a signal or cannot be interrupted: ${NOTHING_IN_PROCESS}`;
  }
  if (d.blockedIn === 'native-cpu') return `CPU-bound native code checks for no termination: ${NOTHING_IN_PROCESS}`;
  return NOTHING_IN_PROCESS;
}

function fmtSeconds(ms: number): string {
  return ms >= 1000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.round(ms)} ms`;
}

/**
 * Combines a heartbeat observation and two /proc samples taken `watchedMs`
 * apart into a diagnosis.
 */
export function buildDiagnosis(threadId: number, osTid: number, beats: { before: [boolean, number, number]; after: [boolean, number, number] },
  first: ProcSample, last: ProcSample, jsStack: string | undefined, unregistered = false): Diagnosis {
  const watchedMs = Math.max(0, last.at - first.at);
  const beatsJs = beats.after[2] - beats.before[2];
  const beatsAll = beats.after[1] - beats.before[1];
  const servicing = beatsAll > 0;
  const unavailable: string[] = [];
  const d: Diagnosis = { threadId, osTid, blockedIn: 'unknown', summary: '', servicingInterrupts: servicing, watchedMs, unavailable };
  if (jsStack !== undefined) d.jsStack = jsStack;
  if (last.error !== undefined) unavailable.push(last.error);
  else {
    d.state = last.state;
    if (last.syscall) d.syscall = last.syscall;
    if (last.wchan) d.wchan = last.wchan;
    if (first.cpuTicks !== undefined && last.cpuTicks !== undefined) {
      d.cpuMs = ((last.cpuTicks - first.cpuTicks) * 1000) / TICKS_PER_SEC;
    }
  }
  const cpu = d.cpuMs !== undefined ? `${Math.round(d.cpuMs)} ms CPU for ${fmtSeconds(watchedMs)}` : `for ${fmtSeconds(watchedMs)}`;
  if (unregistered) {
    // Nothing native is known about a thread that never registered: it may
    // well be running JS. Never guess "native code" for it.
    unavailable.push('not registered with thread-kill yet: no OS thread id, no heartbeat');
    d.summary = 'has not registered with thread-kill yet: its Worker is still starting, or code that runs before ' +
      "thread-kill's bootstrap (a --require or --import preload) does not return; only its Worker handle (in its parent) can stop it";
  } else if (servicing && beatsJs > 0) {
    d.blockedIn = 'js';
    d.summary = `running JavaScript and servicing interrupts (${cpu}); a termination should land at its next check`;
  } else if (servicing) {
    d.blockedIn = 'idle-loop';
    d.summary = `idle in its event loop and servicing interrupts (${cpu})`;
  } else if (last.error !== undefined) {
    d.summary = `not servicing interrupts (in native code?) ${cpu}; ${last.error}`;
  } else {
    const spinning = last.state === 'R' || (d.cpuMs !== undefined && watchedMs > 0 && d.cpuMs >= watchedMs * 0.5);
    if (spinning) {
      d.blockedIn = 'native-cpu';
      d.summary = `spinning in native code, ${cpu}`;
    } else if (d.syscall) {
      d.blockedIn = 'syscall';
      const on = d.syscall.fd !== undefined ? ` on fd ${d.syscall.fd}${d.syscall.fdTarget ? ` (${d.syscall.fdTarget})` : ''}` : '';
      d.summary = `blocked in native code, in ${d.syscall.name}()${on}, ${cpu}` + (d.wchan ? `, waiting in ${d.wchan}` : '');
      if (waitsOnChildren(threadId, d.syscall)) {
        const tree = processTree(osTid);
        if (tree.length > 0) {
          d.children = tree;
          d.summary += `; waiting for child processes ${tree.map((c) => `${c.pid} (${c.cmdline})`).join(', ')}`;
        }
      }
    } else {
      d.blockedIn = 'unknown';
      d.summary = `not servicing interrupts, state ${last.state ?? '?'}${d.wchan ? ` in ${d.wchan}` : ''}, ${cpu}`;
    }
  }
  const remedy = remedyFor(d);
  if (remedy !== undefined) d.remedy = remedy;
  return d;
}

/**
 * Watches a live thread for `sampleMs` (default 100) and says what it is
 * doing. Resolves undefined if the thread has exited.
 */
export async function diagnose(target: Target, options?: { sampleMs?: number }): Promise<Diagnosis | undefined> {
  const { threadId } = resolveTarget(target, 'target');
  const sampleMs = durationMs(optionsBag(options, 'options', ['sampleMs'] as const).sampleMs, 'options.sampleMs', 100);
  if (threadId >= 0) assertKnownThread(threadId, 'target');
  const info = threadInfo(threadId);
  if (info === undefined) return undefined;
  const before = native.heartbeat(threadId);
  const first = sampleProc(info.osTid);
  native.ping(threadId);
  await new Promise((r) => setTimeout(r, sampleMs));
  const after = native.heartbeat(threadId);
  const last = sampleProc(info.osTid);
  const frames = native.capturedStack(threadId);
  return buildDiagnosis(threadId, info.osTid, { before, after }, first, last, frames ? formatFrames(frames) : undefined);
}
