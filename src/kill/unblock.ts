// The unblock rung of kill() (between "terminate" and "unkillable"): for a
// thread whose termination is requested but that sits in a system call,
//   * a read-type call (read, pread64, readv, preadv, preadv2, recvfrom,
//     recvmsg) gets a thread-directed SIGRTMIN+3 (tgkill), whose handler
//     (installed without SA_RESTART) makes it fail with EINTR; libuv does not
//     retry reads, so fs.readSync/readFileSync throw back into JS, where the
//     pending termination lands;
//   * a thread waiting for child processes (spawnSync/execSync) gets their
//     whole process trees killed: SIGTERM, then SIGKILL CHILD_GRACE_MS later
//     for any process of the tree still alive; the call then returns.
// Every signal to a thread goes through native/unblock.cc, which refuses a
// thread without a requested kill and checks its identity (start time)
// under the registry mutex. Rules and their tests: docs/DESIGN.md.
import { threadId as currentThreadId } from 'worker_threads';
import { ChildProcessInfo, READ_SYSCALLS, processTree, sampleProc, waitsOnChildren } from './diagnose';
import { native } from '../shared/native';
import { threads } from '../registry/targets';

export const UNBLOCK_SIGNAL = 'SIGRTMIN+3';

const enum Status {
  Sent = 1,
  NotLive = 2,
  NotKilled = 3,
  NotArmed = 4,
  IdentityChanged = 5,
  NotInRead = 6,
  HandlerOwned = 7,
  Unsupported = 8,
  Failed = 9,
}

const SIGTERM = 15;
const SIGKILL = 9;
/** At most this many signals per kill() (real-time signals queue: RLIMIT_SIGPENDING). */
export const MAX_SIGNALS = 6;
/** Delay before the second signal; doubled after each one. */
const FIRST_BACKOFF_MS = 10;
/** Between SIGTERM and SIGKILL for a child process tree. */
export const CHILD_GRACE_MS = 100;

/** What the unblock rung did, in KillReport.phases (phase 'unblock'). */
export interface UnblockDetails {
  /** The signal used for read-type calls. */
  signal: string;
  /** Thread-directed signals sent. */
  signalsSent: number;
  /** Processes of the thread's child trees that were signalled (SIGTERM, and SIGKILL if they outlived the grace). */
  childrenKilled: Array<ChildProcessInfo & { signals: string[] }>;
  /** Why the rung did nothing (or stopped early). */
  skipped?: string;
}

export interface UnblockOptions {
  signal: boolean;
  children: boolean;
}

function handlerOwnedNote(): string {
  return `${UNBLOCK_SIGNAL} already has a handler in this process (someone else's), so it is not used`;
}

/** One kill()'s unblock rung. Construct once the first stop is out, while the thread is live (captures identity); tick() on each retry. */
export class Unblocker {
  private readonly details: UnblockDetails = { signal: UNBLOCK_SIGNAL, signalsSent: 0, childrenKilled: [] };
  private signalsOn: boolean;
  private armed = false;
  private nextSignalAt = 0;
  private backoff = FIRST_BACKOFF_MS;
  private readonly children = new Map<string, ChildProcessInfo & { signals: string[]; termAt: number }>();
  private lastSyscall = '';
  private ticked = false;
  private readonly startedAt: number;

  constructor(private readonly tid: number, private readonly opts: UnblockOptions, private readonly now: () => number) {
    this.startedAt = now();
    this.signalsOn = opts.signal;
    // Identity now, once the kill's stop is out (a thread only reserved, not
    // registered yet, is armed at the first tick instead).
    if (opts.signal) this.armed = native.unblockArm(tid);
  }

  /** Called at each retry of the termination (the first one ends the first retry interval). */
  tick(): void {
    this.ticked = true;
    const info = threads().find((t) => t.threadId === this.tid);
    if (info === undefined) return;
    const sample = sampleProc(info.osTid);
    const sc = sample.syscall;
    this.lastSyscall = sc?.name ?? (sample.state === 'R' ? 'running' : '');
    const t = this.now();
    if (this.signalsOn && !this.armed) this.armed = native.unblockArm(this.tid);
    if (this.signalsOn && this.armed && sc !== undefined && READ_SYSCALLS.has(sc.name) && t >= this.nextSignalAt && this.details.signalsSent < MAX_SIGNALS) {
      this.signalOnce(t);
    }
    if (this.opts.children) this.killChildren(info.osTid, sc, t);
  }

  private signalOnce(t: number): void {
    const s: Status = native.unblockSignal(this.tid);
    switch (s) {
      case Status.Sent:
        this.details.signalsSent++;
        this.nextSignalAt = t + this.backoff;
        this.backoff *= 2;
        break;
      case Status.NotInRead:
        break; // left the read between our look and native's: look again next tick
      case Status.HandlerOwned:
        this.signalsOn = false;
        this.details.skipped = handlerOwnedNote();
        break;
      case Status.IdentityChanged:
        this.signalsOn = false;
        this.details.skipped = 'the OS thread id now names another thread (start time changed): no signal sent';
        break;
      case Status.Unsupported:
        this.signalsOn = false;
        this.details.skipped = `not supported on ${process.platform}/${process.arch}`;
        break;
      default:
        this.signalsOn = false; // not live any more, or no kill requested: never signal
        break;
    }
  }

  private killChildren(osTid: number, sc: ReturnType<typeof sampleProc>['syscall'], t: number): void {
    if (waitsOnChildren(this.tid, sc)) {
      for (const c of processTree(osTid)) {
        const key = `${c.pid}:${c.startTime}`;
        if (this.children.has(key)) continue;
        if (native.signalProcess(c.pid, c.startTime, SIGTERM) === 1) {
          const rec = { ...c, signals: ['SIGTERM'], termAt: t };
          this.children.set(key, rec);
        }
      }
    }
    for (const rec of this.children.values()) {
      if (rec.signals.length === 1 && t - rec.termAt >= CHILD_GRACE_MS) {
        // Still the same process (checked natively): it outlived SIGTERM.
        if (native.signalProcess(rec.pid, rec.startTime, SIGKILL) === 1) rec.signals.push('SIGKILL');
        else rec.signals.push('(exited)');
      }
    }
  }

  /**
   * The 'unblock' phase: present when the rung acted, or when the thread
   * outlived the kill (then it says why nothing could be done). A thread that
   * died without it (in the first retry interval, or slowly tearing down)
   * gets none.
   */
  report(died: boolean): { startMs: number; result: 'signalled' | 'children-killed' | 'skipped'; note: string; unblock: UnblockDetails } | undefined {
    if (!this.ticked) return undefined;
    if (died && this.details.signalsSent === 0 && this.children.size === 0) return undefined;
    const d = this.details;
    d.childrenKilled = [...this.children.values()].map(({ termAt, signals, ...c }) => ({ ...c, signals: signals.filter((x) => x !== '(exited)') }));
    const done: string[] = [];
    if (d.signalsSent > 0) done.push(`${d.signalsSent} × ${UNBLOCK_SIGNAL} to the thread`);
    if (d.childrenKilled.length > 0) done.push(`killed child processes ${d.childrenKilled.map((c) => `${c.pid} (${c.cmdline})`).join(', ')}`);
    let result: 'signalled' | 'children-killed' | 'skipped' = 'skipped';
    if (d.childrenKilled.length > 0) result = 'children-killed';
    else if (d.signalsSent > 0) result = 'signalled';
    let note = done.join('; ');
    if (done.length === 0) {
      if (d.skipped === undefined) {
        if (!this.opts.signal && !this.opts.children) d.skipped = 'unblock and killChildren are false';
        else if (this.lastSyscall === '' || this.lastSyscall === 'running') d.skipped = 'the thread was not blocked in a system call';
        else if (READ_SYSCALLS.has(this.lastSyscall)) d.skipped = this.opts.signal ? `the thread is in ${this.lastSyscall}() but could not be signalled` : 'unblock is false';
        else if (this.opts.children) d.skipped = `the thread is in ${this.lastSyscall}(), which no signal interrupts (not a read-type call) and which is not a wait for child processes`;
        else d.skipped = `the thread is in ${this.lastSyscall}(), which no signal interrupts (not a read-type call); killChildren is false`;
      }
      note = d.skipped;
    } else if (d.skipped !== undefined) {
      note += `; ${d.skipped}`;
    }
    return { startMs: this.startedAt, result, note, unblock: d };
  }
}

/**
 * exitNow(): kills the child process trees of every other registered thread
 * that waits for its children (spawnSync/execSync), with SIGKILL (there is no
 * time left for a grace period), so none of them outlives the process.
 * Returns the pids signalled.
 */
export function killChildrenOfStuckThreads(): number[] {
  const killed: number[] = [];
  if (process.platform !== 'linux') return killed;
  for (const t of threads()) {
    if (t.threadId === currentThreadId || !(t.osTid > 0)) continue;
    const sc = sampleProc(t.osTid).syscall;
    if (!waitsOnChildren(t.threadId, sc)) continue;
    for (const c of processTree(t.osTid)) if (native.signalProcess(c.pid, c.startTime, SIGKILL) === 1) killed.push(c.pid);
  }
  return killed;
}
