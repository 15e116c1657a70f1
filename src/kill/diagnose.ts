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
import { syscallName } from './syscalls';

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
  /**
   * The processes the thread is waiting for, e.g. in spawnSync/execSync: the
   * child it started with its descendants, and any other process holding the
   * pipes it reads (each with `why`).
   */
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
  /** Why the thread waits for it, e.g. "held the stdout pipe of the thread's spawnSync/execSync". */
  why?: string;
}

/** Read-type system calls that a signal without SA_RESTART interrupts and libuv does not retry. */
export const READ_SYSCALLS: ReadonlySet<string> = new Set(['read', 'pread64', 'readv', 'preadv', 'preadv2', 'recvfrom', 'recvmsg']);
const EPOLL_SYSCALLS = new Set(['epoll_wait', 'epoll_pwait', 'epoll_pwait2']);
const CHILD_WAIT_SYSCALLS = new Set(['wait4', 'waitid']);

const FD_SYSCALLS = new Set(['read', 'write', 'pread64', 'pwrite64', 'readv', 'writev', 'preadv', 'preadv2', 'pwritev', 'pwritev2', 'fsync', 'fdatasync', 'flock', 'recvfrom', 'recvmsg',
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
      const name = syscallName(nr);
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

/** A process and its descendants (every thread's children, recursively). Parents come before their children. */
function treeFrom(roots: Array<{ pid: number; ppid: number }>, seen: Set<number>): ChildProcessInfo[] {
  const out: ChildProcessInfo[] = [];
  const queue = [...roots];
  while (queue.length > 0 && out.length < 1024) {
    const { pid, ppid } = queue.shift()!;
    if (seen.has(pid)) continue;
    seen.add(pid);
    const info = processInfo(pid, ppid);
    if (info === undefined) continue; // gone meanwhile
    out.push(info);
    let tasks: string[] = [];
    try { tasks = fs.readdirSync(`/proc/${pid}/task`); } catch { /* gone */ }
    for (const t of tasks) for (const child of pidsIn(readSmall(`/proc/${pid}/task/${t}/children`))) queue.push({ pid: child, ppid: pid });
  }
  return out;
}

function processInfo(pid: number, ppid?: number): ChildProcessInfo | undefined {
  const stat = readSmall(`/proc/${pid}/stat`);
  const startTime = startTimeOf(stat);
  if (startTime === 0) return undefined;
  const cmdline = (readSmall(`/proc/${pid}/cmdline`) ?? '').split('\0').filter((a) => a !== '').join(' ');
  return { pid, ppid: ppid ?? Number(stat!.slice(stat!.lastIndexOf(')') + 2).split(' ')[1]), cmdline, startTime };
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

const STDIO = ['stdin', 'stdout', 'stderr'];
const SYNC_SPAWN = "the thread's spawnSync/execSync";

/** The fds an epoll instance of this process watches (/proc/self/fdinfo/<epfd>, "tfd:" lines). */
function epollTargets(epfd: number): number[] {
  const text = readSmall(`/proc/self/fdinfo/${epfd}`) ?? '';
  const out: number[] = [];
  for (const m of text.matchAll(/^tfd:\s*(\d+)/gm)) out.push(Number(m[1]));
  return out;
}

/**
 * The other processes (never this one) with an fd on one of `inodes`
 * (pipe:[N], socket:[N]), and which fds: every /proc/<pid>/fd readable to us. A pipe's
 * other end can be anywhere — an orphan of a shell the thread started was
 * reparented away from it — so every process is looked at (natively: a few
 * ms), or only `among`.
 */
function pipeHolders(inodes: ReadonlySet<string>, among?: number[]): Map<number, number[]> {
  const holders = new Map<number, number[]>();
  if (inodes.size === 0) return holders;
  if (among === undefined) {
    const targets = [...inodes];
    const flat = native.fdHolders(targets);
    for (let i = 0; i + 2 < flat.length; i += 3) {
      const list = holders.get(flat[i]) ?? [];
      list.push(flat[i + 1]);
      holders.set(flat[i], list);
    }
    return holders;
  }
  for (const pid of among) {
    if (pid === process.pid) continue;
    let fds: string[];
    try { fds = fs.readdirSync(`/proc/${pid}/fd`); } catch { continue; } // gone, or another user's
    for (const fd of fds) {
      let target: string;
      try { target = fs.readlinkSync(`/proc/${pid}/fd/${fd}`); } catch { continue; }
      if (!inodes.has(target)) continue;
      const list = holders.get(pid) ?? [];
      list.push(Number(fd));
      holders.set(pid, list);
    }
  }
  return holders;
}

function pipeWhy(fds: number[]): string {
  const names = [...new Set([...fds].sort((a, b) => a - b).map((fd) => STDIO[fd] ?? `fd ${fd}`))];
  return `held the ${names.join(' and ')} pipe${names.length > 1 ? 's' : ''} of ${SYNC_SPAWN}`;
}

/**
 * The processes a thread blocked in a wait for child processes waits for, each
 * with why:
 *   * spawnSync/execSync (epoll on its private loop): the child it started —
 *     the direct child of the thread holding one of the pipes that loop
 *     reads, or, with no pipe held by anyone (stdio 'inherit'/'ignore'), the
 *     newest direct child (the thread forks nothing else while it waits) —
 *     with that child's descendants; then every other process holding one of
 *     those pipes (an orphan that inherited them). Asynchronous spawn()
 *     children of the thread hold none of these pipes and are not the newest
 *     child: they are never listed.
 *   * wait4/waitid (native code): the child it names (pid > 0), or all its
 *     children.
 * Empty when the thread waits for nothing of the kind. Looking at every
 * process's fds costs tens of ms on a busy machine: with `everyone` false,
 * that is done only when no direct child of the thread holds a pipe (the
 * child has exited: an orphan holds them).
 */
export function waitedProcesses(threadId: number, osTid: number, syscall: SyscallInfo | undefined, everyone = true): ChildProcessInfo[] {
  if (process.platform !== 'linux' || !(osTid > 0) || !waitsOnChildren(threadId, syscall)) return [];
  const direct = pidsIn(readSmall(`/proc/self/task/${osTid}/children`));
  const seen = new Set<number>();
  const tag = (list: ChildProcessInfo[], why: (c: ChildProcessInfo, i: number) => string): ChildProcessInfo[] => list.map((c, i) => ({ ...c, why: why(c, i) }));
  if (CHILD_WAIT_SYSCALLS.has(syscall!.name)) {
    // wait4(pid, ...); waitid(idtype, id, ...) with P_PID = 1.
    const a0 = Number.parseInt(syscall!.args[0] ?? '', 16) | 0;
    const a1 = Number.parseInt(syscall!.args[1] ?? '', 16) | 0;
    const pid = syscall!.name === 'wait4' ? a0 : a0 === 1 ? a1 : -1;
    const roots = pid > 0 ? direct.filter((p) => p === pid) : direct;
    return tag(treeFrom(roots.map((p) => ({ pid: p, ppid: process.pid })), seen),
      (c) => (c.ppid === process.pid ? `the thread waits for it in ${syscall!.name}()` : 'a descendant of a child the thread waits for'));
  }
  // What the private loop reads: pipes (their other end is the same inode)
  // and socketpairs (libuv's stdio for spawnSync; the other end has its own
  // inode, which sock_diag names).
  const ends = new Set<string>();
  const sockets: number[] = [];
  for (const fd of epollTargets(syscall!.fd!)) {
    let target: string;
    try { target = fs.readlinkSync(`/proc/self/fd/${fd}`); } catch { continue; }
    if (target.startsWith('pipe:[')) ends.add(target);
    else if (target.startsWith('socket:[')) sockets.push(Number(target.slice(8, -1)));
  }
  let peersKnown = true;
  if (sockets.length > 0) {
    for (const peer of native.unixPeers(sockets)) {
      if (peer > 0) ends.add(`socket:[${peer}]`);
      else if (peer < 0) peersKnown = false;
    }
  }
  // Without sock_diag the holders cannot be told apart, nor the child that
  // started (an async child could be the newest): nothing is named.
  if (!peersKnown) return [];
  // The direct children first (a few processes): the one holding a pipe is the child it started.
  const near = pipeHolders(ends, direct);
  let roots = direct.filter((pid) => near.has(pid));
  const holders = roots.length > 0 && !everyone ? near : pipeHolders(ends);
  if (roots.length === 0 && holders.size === 0 && direct.length > 0) {
    // No pipes in play: the child it started is the newest one.
    const infos = direct.map((pid) => processInfo(pid, process.pid)).filter((c): c is ChildProcessInfo => c !== undefined);
    infos.sort((a, b) => b.startTime - a.startTime || b.pid - a.pid);
    roots = infos.length > 0 ? [infos[0].pid] : [];
  }
  const out = tag(treeFrom(roots.map((pid) => ({ pid, ppid: process.pid })), seen),
    (c) => (c.ppid === process.pid ? `the child process ${SYNC_SPAWN} started` : `a descendant of the child process ${SYNC_SPAWN} started`));
  for (const [pid, fds] of holders) {
    if (seen.has(pid)) continue;
    seen.add(pid);
    const info = processInfo(pid);
    if (info !== undefined) out.push({ ...info, why: pipeWhy(fds) });
  }
  return out;
}

const NOTHING_IN_PROCESS = 'nothing inside this process can stop it before the call returns; ' +
  'ending the process can (exitNow(), or kill() with onUnkillable: \'exit\'), and code that must be killable ' +
  'belongs in a child process (child_process.fork/spawn), which can be killed';

/** open()/openat() of a FIFO waits for the other end (the kernel's wait_for_partner). */
export const OPEN_SYSCALLS: ReadonlySet<string> = new Set(['open', 'openat']);
export const WRITE_SYSCALLS: ReadonlySet<string> = new Set(['write', 'writev', 'pwrite64', 'pwritev', 'pwritev2', 'sendto', 'sendmsg']);

function isFifoOpenWait(d: Diagnosis): boolean {
  return d.syscall !== undefined && OPEN_SYSCALLS.has(d.syscall.name) && (d.wchan === undefined || /partner|fifo/.test(d.wchan));
}

/** What can end a thread that did not die by itself, for the diagnosis. Only what works. */
function remedyFor(d: Diagnosis): string | undefined {
  if (d.blockedIn === 'js' || d.blockedIn === 'idle-loop') return undefined;
  if (d.children !== undefined && d.children.length > 0) {
    return 'it waits for the processes listed in children (the child its spawnSync/execSync started, that child\'s descendants, ' +
      'and whoever holds the pipes it reads): kill() kills their process trees and the holders of its pipes (SIGTERM, then SIGKILL) ' +
      'unless killChildren is false, and the call then returns';
  }
  if (d.blockedIn === 'syscall' && d.syscall !== undefined && READ_SYSCALLS.has(d.syscall.name)) {
    return `a read-type call: kill() interrupts it with a thread-directed signal (the unblock rung) unless unblock is false ` +
      `or another handler owns the signal; otherwise ${NOTHING_IN_PROCESS}`;
  }
  if (d.blockedIn === 'syscall' && d.syscall !== undefined && isFifoOpenWait(d)) {
    return `${d.syscall.name}() of a FIFO, waiting for its other end: kill() opens that end (non-blocking, closed at once) so the ` +
      `open returns and the termination lands (the unblock rung) unless unblock is false; otherwise ${NOTHING_IN_PROCESS}`;
  }
  if (d.blockedIn === 'syscall' && d.syscall !== undefined && WRITE_SYSCALLS.has(d.syscall.name)) {
    return `${d.syscall.name}() to a pipe or socket whose reader is not reading: no signal ends it (libuv repeats the write after ` +
      'EINTR, and after a partial write until every byte is written), and emptying the pipe would take data from its reader, ' +
      `so thread-kill does not; it ends when the reader reads or closes its end; ${NOTHING_IN_PROCESS}`;
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
      const waited = waitedProcesses(threadId, osTid, d.syscall);
      if (waited.length > 0) {
        d.children = waited;
        const kids = waited.filter((c) => !c.why!.startsWith('held'));
        const holders = waited.filter((c) => c.why!.startsWith('held'));
        if (kids.length > 0) d.summary += `; waiting for child processes ${kids.map((c) => `${c.pid} (${c.cmdline})`).join(', ')}`;
        if (holders.length > 0) d.summary += `; waiting for the end of its pipes, held by ${holders.map((c) => `${c.pid} (${c.cmdline}: ${c.why})`).join(', ')}`;
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
