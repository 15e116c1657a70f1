// The unblock rung of kill() (between "terminate" and "unkillable"): for a
// thread whose termination is requested but that sits in a system call,
//   * a read-type call (read, pread64, readv, preadv, preadv2, recvfrom,
//     recvmsg) gets a thread-directed SIGRTMIN+3 (tgkill), whose handler
//     (installed without SA_RESTART) makes it fail with EINTR; libuv does not
//     retry reads, so fs.readSync/readFileSync throw back into JS, where the
//     pending termination lands;
//   * a thread in open()/openat() of a FIFO (waiting for a writer, or for a
//     reader) gets its wait satisfied: native code opens the FIFO's other end
//     non-blocking and closes it at once, so the open returns (libuv retries
//     an open after EINTR: a signal would not do);
//   * a thread waiting in spawnSync/execSync gets exactly what it waits for
//     killed: the child it started with that child's descendants, and every
//     process holding the pipes its private loop reads (an orphan that
//     inherited them) — never an asynchronous spawn() child, never another
//     thread's. SIGTERM, then SIGKILL CHILD_GRACE_MS later for any still
//     alive (same pid and start time); the call then returns.
// Every signal to a thread goes through native/unblock.cc, which refuses a
// thread without a requested kill and checks its identity (start time)
// under the registry mutex. Rules and their tests: docs/DESIGN.md.
import { threadId as currentThreadId } from 'worker_threads';
import { ChildProcessInfo, OPEN_SYSCALLS, READ_SYSCALLS, WRITE_SYSCALLS, sampleProc, waitedProcesses } from './diagnose';
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

/** OpenWaitStatus::kNotFifo (native/unblock.h); the other values are Status's. */
const NOT_FIFO = 10;
const SIGTERM = 15;
const SIGKILL = 9;
/** At most this many signals per kill() (real-time signals queue: RLIMIT_SIGPENDING). */
export const MAX_SIGNALS = 6;
/** Delay before the second signal; doubled after each one. */
const FIRST_BACKOFF_MS = 10;
/** Between SIGTERM and SIGKILL for a child process tree. */
export const CHILD_GRACE_MS = 100;
/** After the first SIGTERM, how long before every process is searched for other holders of the pipes. */
const FULL_SCAN_AFTER_MS = 40;

/** What the unblock rung did, in KillReport.phases (phase 'unblock'). */
export interface UnblockDetails {
  /** The signal used for read-type calls. */
  signal: string;
  /** Thread-directed signals sent. */
  signalsSent: number;
  /**
   * Processes the thread waited for that were signalled (SIGTERM, and SIGKILL if they outlived the grace): the child its
   * spawnSync/execSync started, that child's descendants, and the holders of the pipes it reads; `why` says which.
   */
  childrenKilled: Array<ChildProcessInfo & { signals: string[]; why: string }>;
  /** FIFOs whose other end was opened (and closed at once) so that the thread's open() of them returned. */
  waitsSatisfied: Array<{ call: string; path: string; opened: 'write end' | 'read end' }>;
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
  private readonly details: UnblockDetails = { signal: UNBLOCK_SIGNAL, signalsSent: 0, childrenKilled: [], waitsSatisfied: [] };
  private signalsOn: boolean;
  private armed = false;
  private nextSignalAt = 0;
  private backoff = FIRST_BACKOFF_MS;
  private readonly children = new Map<string, ChildProcessInfo & { signals: string[]; termAt: number; why: string }>();
  private openNote: string | undefined;
  private firstTermAt: number | undefined;
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
    if (this.signalsOn && this.armed && sc !== undefined && OPEN_SYSCALLS.has(sc.name) && this.details.waitsSatisfied.length < MAX_SIGNALS) {
      this.satisfyOpen(sc.name);
    }
    if (this.opts.children) this.killChildren(this.tid, info.osTid, sc, t);
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

  private satisfyOpen(call: string): void {
    const [s, path, forReading] = native.unblockOpen(this.tid);
    switch (s) {
      case Status.Sent:
        this.details.waitsSatisfied.push({ call, path, opened: forReading ? 'write end' : 'read end' });
        break;
      case NOT_FIFO:
        this.openNote = `the thread is in ${call}()${path ? ` of ${path}` : ''}, which is not a FIFO waiting for its other end; ` +
          'a signal does not end it (libuv retries an open after EINTR)';
        break;
      case Status.NotInRead:
        break; // returned meanwhile: look again next tick
      case Status.IdentityChanged:
        this.signalsOn = false;
        this.details.skipped = 'the OS thread id now names another thread (start time changed): nothing done';
        break;
      default:
        break; // not live, not killed, unsupported or failed: nothing to do
    }
  }

  private killChildren(tid: number, osTid: number, sc: ReturnType<typeof sampleProc>['syscall'], t: number): void {
    // Every process's fds are read only once the child was given FULL_SCAN_AFTER_MS to take the
    // call down with it (an orphan beside a live child is rare; the scan costs tens of ms).
    const everyone = this.firstTermAt !== undefined && t - this.firstTermAt >= FULL_SCAN_AFTER_MS;
    for (const c of waitedProcesses(tid, osTid, sc, everyone)) {
      const key = `${c.pid}:${c.startTime}`;
      if (this.children.has(key)) continue;
      if (native.signalProcess(c.pid, c.startTime, SIGTERM) === 1) {
        this.children.set(key, { ...c, why: c.why ?? '', signals: ['SIGTERM'], termAt: t });
        this.firstTermAt ??= t;
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
  report(died: boolean): { startMs: number; result: 'signalled' | 'children-killed' | 'wait-satisfied' | 'skipped'; note: string; unblock: UnblockDetails } | undefined {
    if (!this.ticked) return undefined;
    if (died && this.details.signalsSent === 0 && this.children.size === 0 && this.details.waitsSatisfied.length === 0) return undefined;
    const d = this.details;
    d.childrenKilled = [...this.children.values()].map(({ termAt, signals, ...c }) => ({ ...c, signals: signals.filter((x) => x !== '(exited)') }));
    const done: string[] = [];
    if (d.signalsSent > 0) done.push(`${d.signalsSent} × ${UNBLOCK_SIGNAL} to the thread`);
    const kids = d.childrenKilled.filter((c) => !c.why.startsWith('held'));
    const holders = d.childrenKilled.filter((c) => c.why.startsWith('held'));
    if (kids.length > 0) done.push(`killed child processes ${kids.map((c) => `${c.pid} (${c.cmdline})`).join(', ')}`);
    if (holders.length > 0) done.push(`killed the holders of its pipes ${holders.map((c) => `${c.pid} (${c.cmdline}: ${c.why})`).join(', ')}`);
    for (const w of d.waitsSatisfied) done.push(`opened the ${w.opened} of FIFO ${w.path} (and closed it) so that its ${w.call}() returned`);
    let result: 'signalled' | 'children-killed' | 'wait-satisfied' | 'skipped' = 'skipped';
    if (d.childrenKilled.length > 0) result = 'children-killed';
    else if (d.waitsSatisfied.length > 0) result = 'wait-satisfied';
    else if (d.signalsSent > 0) result = 'signalled';
    let note = done.join('; ');
    if (done.length === 0) {
      if (d.skipped === undefined) {
        if (!this.opts.signal && !this.opts.children) d.skipped = 'unblock and killChildren are false';
        else if (this.lastSyscall === '' || this.lastSyscall === 'running') d.skipped = 'the thread was not blocked in a system call';
        else if (READ_SYSCALLS.has(this.lastSyscall)) d.skipped = this.opts.signal ? `the thread is in ${this.lastSyscall}() but could not be signalled` : 'unblock is false';
        else if (OPEN_SYSCALLS.has(this.lastSyscall)) d.skipped = !this.opts.signal ? `the thread is in ${this.lastSyscall}(); unblock is false` : this.openNote ?? `the thread is in ${this.lastSyscall}() but its wait could not be satisfied`;
        else if (WRITE_SYSCALLS.has(this.lastSyscall)) {
          d.skipped = `the thread is in ${this.lastSyscall}(), which no signal interrupts (libuv repeats a write after EINTR and after a ` +
            'partial write), and emptying its pipe would take data from its reader: only the reader can end it';
        }
        else if (this.opts.children) d.skipped = `the thread is in ${this.lastSyscall}(), which no signal interrupts (not a read-type call) and which is not a wait for processes`;
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
 * exitNow(): kills what every other registered thread waiting in
 * spawnSync/execSync waits for (the child it started, its descendants, the
 * holders of its pipes), with SIGKILL (there is no time left for a grace
 * period), so none of them outlives the process. Returns the pids signalled.
 */
export function killChildrenOfStuckThreads(): number[] {
  const killed: number[] = [];
  if (process.platform !== 'linux') return killed;
  for (const t of threads()) {
    if (t.threadId === currentThreadId || !(t.osTid > 0)) continue;
    const sc = sampleProc(t.osTid).syscall;
    for (const c of waitedProcesses(t.threadId, t.osTid, sc)) if (native.signalProcess(c.pid, c.startTime, SIGKILL) === 1) killed.push(c.pid);
  }
  return killed;
}
