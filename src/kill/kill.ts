// kill(): the escalation ladder, callable from any thread.
//
//   1. cooperative  stop the thread's own token (if it looks at one) and wait
//                   up to graceMs for it to exit;
//   2. interrupt    interrupt its outermost interruptible() region (if any),
//                   so its catch/finally and onKill hooks run; up to graceMs;
//   3. terminate    node::Stop() of its environment, re-issued every
//                   retryIntervalMs until the environment is torn down;
//      unblock      from the first retry on, a thread still blocked in a
//                   read-type syscall gets SIGRTMIN+3 (./unblock.ts), and
//                   the child process trees of one waiting for them
//                   (spawnSync/execSync) are killed;
//   4. unkillable   at timeoutMs: diagnose, then onUnkillable.
// Phases that cannot apply are skipped at once, so a busy JS loop is killed
// as fast as a plain termination: when neither cooperative phase can apply,
// the first termination is issued by native.startKill() before any other
// bookkeeping of the call (the first kill in a process runs cold code).
import { Worker, isMainThread, threadId as currentThreadId } from 'worker_threads';
import { Diagnosis, ProcSample, buildDiagnosis, sampleProc } from './diagnose';
import { CleanupTimeoutError, MainThreadError, UnknownThreadError } from '../shared/errors';
import { exitNow, guardExitAgainstAbandoned, writeStderrSync } from './exit';
import { formatFrames } from '../shared/frames';
import { InterruptStatus, TerminateStatus, interruptStatusOf, native, startKillKind } from '../shared/native';
import { serializeReason } from '../shared/reason';
import { FLAG_KILL, StopToken, stopTokenWith } from '../stop/stop-token';
import { Target, reportKillExitCode, resolveTarget, threadInfo } from '../registry/targets';
import { addDeathListener, holdWatch } from '../registry/register';
import { UnblockDetails, Unblocker } from './unblock';
import { boolean, durationMs, exitCodeValue, func, oneOf, optionsBag } from '../shared/validate';

export type KillOutcome = 'killed' | 'already-exited' | 'unkillable';
export type PhaseName = 'cooperative' | 'interrupt' | 'terminate' | 'unblock';
export type PhaseResult = 'skipped' | 'exited' | 'grace-expired' | 'not-delivered' | 'killed' | 'timeout' | 'signalled' | 'children-killed' | 'wait-satisfied';

export interface PhaseReport {
  phase: PhaseName;
  /** ms after kill() started. */
  startMs: number;
  durationMs: number;
  result: PhaseResult;
  /** Why a skipped phase did not apply (for 'unblock': also what it did). */
  note?: string;
  /** Phase 'unblock' only: signals sent, child processes and pipe holders killed, FIFO opens satisfied, or why it was skipped. */
  unblock?: UnblockDetails;
}

export interface KillReport {
  threadId: number;
  outcome: KillOutcome;
  /** Hard-stop (node::Stop) attempts this call made. */
  attempts: number;
  elapsedMs: number;
  phases: PhaseReport[];
  /** The target's JS stack when the termination reached it (if it was running JS). */
  jsStack?: string;
  /** Present when outcome is 'unkillable': what the thread is doing instead of dying. */
  diagnosis?: Diagnosis;
  /** onUnkillable: 'abandon' — still retrying in the background; the Worker handle was unref'd. */
  abandoned?: boolean;
  /** What options.cleanup threw or rejected with, or a CleanupTimeoutError if it did not settle within timeoutMs (kill() still resolves). */
  cleanupError?: unknown;
}

export type OnUnkillable = 'report' | 'abandon' | 'exit';

export interface KillOptions {
  /** Per cooperative phase (1 and 2): how long to let the thread exit by itself. Default 100. */
  graceMs?: number;
  /** Total time before the thread is judged unkillable. Default 10000. */
  timeoutMs?: number;
  /** How often the termination is re-issued. Default 10. */
  retryIntervalMs?: number;
  /** Runs exactly once in the calling thread, after the thread is dead or judged unkillable; awaited for at most timeoutMs. */
  cleanup?: (report: KillReport) => unknown;
  /** What to do when the thread cannot be killed in time. Default 'report'. */
  onUnkillable?: OnUnkillable;
  /** What the killed Worker's 'exit' event reports (as worker.terminate(): 1 by default), and the process's exit code for onUnkillable: 'exit'. */
  exitCode?: number;
  /** Exactly what the thread's onKill hooks and InterruptedError.reason get (structured-cloneable, at most 4080 bytes serialized). */
  reason?: unknown;
  /** Capture the target's JS stack as the termination lands. Default true. */
  captureStack?: boolean;
  /** Interrupt a blocked read-type syscall of the thread with SIGRTMIN+3 once the termination is requested. Default true. */
  unblock?: boolean;
  /** Kill the process trees of child processes the thread waits for (spawnSync/execSync). Default true. */
  killChildren?: boolean;
}

const KILL_OPTION_KEYS = ['graceMs', 'timeoutMs', 'retryIntervalMs', 'cleanup', 'onUnkillable', 'exitCode', 'reason', 'captureStack', 'unblock', 'killChildren'] as const;

interface ParsedKillOptions {
  graceMs: number;
  timeoutMs: number;
  retryIntervalMs: number;
  cleanup?: (report: KillReport) => unknown;
  onUnkillable: OnUnkillable;
  exitCode: number;
  /** options.reason, serialized once (this also validates it, size included). */
  reasonBytes: Uint8Array | undefined;
  captureStack: boolean;
  unblock: boolean;
  killChildren: boolean;
}

/** Every default, in one place; also what `kill(target)` (no options) uses as is, without running the validators. */
const DEFAULTS: Readonly<ParsedKillOptions> = Object.freeze({
  graceMs: 100, timeoutMs: 10_000, retryIntervalMs: 10, cleanup: undefined, onUnkillable: 'report', exitCode: 1,
  reasonBytes: undefined, captureStack: true, unblock: true, killChildren: true,
});

/** Every option is checked here, before anything is sent, set or watched: a kill that rejects leaves nothing behind. */
// (Parenthesized, as every validator: compiled with the module, since it runs before the stop.)
const parseKillOptions = (function parseKillOptions(options: unknown): ParsedKillOptions {
  if (options === undefined) return DEFAULTS;
  const o = optionsBag(options, 'options', KILL_OPTION_KEYS);
  const d = DEFAULTS;
  return {
    graceMs: durationMs(o.graceMs, 'options.graceMs', d.graceMs),
    timeoutMs: durationMs(o.timeoutMs, 'options.timeoutMs', d.timeoutMs),
    retryIntervalMs: durationMs(o.retryIntervalMs, 'options.retryIntervalMs', d.retryIntervalMs, 1),
    cleanup: o.cleanup === undefined ? undefined : func<(report: KillReport) => unknown>(o.cleanup, 'options.cleanup'),
    onUnkillable: oneOf(o.onUnkillable, 'options.onUnkillable', ['report', 'abandon', 'exit'] as const, d.onUnkillable),
    exitCode: exitCodeValue(o.exitCode, 'options.exitCode', d.exitCode),
    reasonBytes: serializeReason(o.reason, 'options.reason'),
    captureStack: boolean(o.captureStack, 'options.captureStack', d.captureStack),
    unblock: boolean(o.unblock, 'options.unblock', d.unblock),
    killChildren: boolean(o.killChildren, 'options.killChildren', d.killChildren),
  };
});

/** Resolves true when `tid` dies; resolves false at once if it is not live. */
function deathOf(tid: number): { dead: Promise<boolean>; cancel: () => void } {
  let cancel = (): void => undefined;
  const dead = new Promise<boolean>((resolve) => {
    if (!native.watch(tid)) return resolve(false);
    const release = holdWatch(tid);
    const unlisten = addDeathListener(tid, () => resolve(true));
    cancel = () => { unlisten(); release(); };
  });
  return { dead, cancel };
}

/**
 * Milliseconds, monotonic. Not performance.now(): the `performance` global
 * is loaded on first use (≈0.8 ms measured here), which the first kill() in
 * a process must not pay before its stop is issued.
 */
function nowMs(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

const { Cooperative, InterruptFirst, TakesPart, InRegion } = native.constants.startKill;
// Another kill()'s interrupt stopped a region of the thread first (hence none
// is active now): its onKill hooks run at that boundary and the thread then
// ends itself, so this kill waits for that instead of cutting them short.
const OTHER_KILL = 'another kill() interrupted it first; its onKill hooks run at that region\'s boundary';

/** Never notified: Atomics.waitAsync on it is a timer without the JS timer machinery. */
const NEVER = new Int32Array(new SharedArrayBuffer(4));

// The first call of each native function in a process costs tens of µs
// (measured in fresh processes: startKill 20–55 µs, holdLoop 13–24 µs — its
// code is paged in on first use), and so does the first Atomics.waitAsync
// (14–23 µs): the first kill would pay them before and right after its
// termination goes out. Paid here, once per process, by calls that change
// nothing: no thread ever has id -1 (startKill answers UnknownThread and
// records nothing, unwatch finds nothing), the loop hold is taken and given
// back, and a wait of 0 ms returns at once.
native.startKill(-1, undefined, DEFAULTS.exitCode, false, false, false);
native.capturedStack(-1);
native.unwatch(-1);
native.holdLoop(true);
native.holdLoop(false);
Atomics.waitAsync(NEVER, 0, 0, 0);

function delay(ms: number): { done: Promise<void>; cancel: () => void } {
  let timer: NodeJS.Timeout | undefined;
  const done = new Promise<void>((resolve) => { timer = setTimeout(resolve, ms); });
  return { done, cancel: () => clearTimeout(timer) };
}

/** Node's own Worker#terminate(), also for a KillableWorker (whose override marks the thread first). */
const nodeTerminate = Worker.prototype.terminate;

/**
 * The parent's view of the kill: a Worker object exists only in the thread
 * that created it, so whoever passes one is its parent. Its 'exit' event is
 * what pool bookkeeping waits for, so kill() resolves only after it (as
 * worker.terminate() does), and the Worker is ref()ed meanwhile (as
 * terminate() does) so the event cannot be lost to an unref'd handle.
 */
class ParentView {
  readonly exited: Promise<void>;
  /** The Worker's 'exit' was emitted. */
  done = false;
  private readonly onExit: () => void;

  constructor(readonly worker: Worker, tid: number) {
    reportKillExitCode(worker, tid);
    let resolve!: () => void;
    this.exited = new Promise<void>((r) => { resolve = r; });
    this.onExit = () => { this.done = true; resolve(); };
    if (worker.threadId < 0) this.onExit(); // its 'exit' was already emitted
    else worker.once('exit', this.onExit);
    worker.ref();
  }

  /** Stop waiting (the thread is not dying after all). */
  release(): void {
    if (!this.done) this.worker.off('exit', this.onExit);
  }
}

/** Why the cooperative / interrupt phase did not apply (PhaseReport.note). */
function cooperativeSkipped(takesPart: boolean): string {
  return takesPart ? 'graceMs is 0' : 'the thread has no stop token and no onKill hooks';
}
function interruptSkipped(inRegion: boolean): string {
  return inRegion ? 'graceMs is 0' : 'the thread is in no interruptible() region';
}

class KillRun {
  private readonly report: KillReport;
  private readonly death: Promise<boolean>;
  private readonly cancelDeath: () => void;
  private dead = false;
  private askedCreator = false;

  /**
   * `t0`: when kill() was called (nowMs()); `started`: what native.startKill()
   * returned at `startedAt` (the kill was announced, and the thread stopped
   * unless it says Cooperative or InterruptFirst); `firstWait`: what
   * firstRetryOrDeath() found after that stop (undefined: it did not wait).
   */
  constructor(private readonly tid: number, private readonly opts: ParsedKillOptions, private readonly parent: ParentView | undefined,
    private readonly t0: number, private readonly started: number, private readonly startedAt: number,
    private readonly firstWait: boolean | undefined) {
    this.report = { threadId: tid, outcome: 'killed', attempts: 0, elapsedMs: 0, phases: [] };
    if (parent !== undefined) {
      // The parent learns of the death from the Worker's 'exit' (emitted
      // after the environment is gone), so it is a quiet watcher: no
      // ThreadDead event wakes it while the thread is still tearing down.
      const kind = startKillKind(started);
      if (kind === Cooperative || kind === InterruptFirst) native.watch(tid, true);
      this.dead = parent.done;
      this.death = parent.exited.then(() => { this.dead = true; return true; });
      this.cancelDeath = holdWatch(tid);
    } else {
      const { dead, cancel } = deathOf(tid);
      this.death = dead.then((d) => { this.dead = true; return d; });
      this.cancelDeath = cancel;
    }
  }

  private now(): number { return nowMs() - this.t0; }

  /** Waits for death up to `ms`; true if the thread died. */
  private async waitDeath(ms: number): Promise<boolean> {
    if (this.dead) return true;
    const d = delay(Math.max(0, ms));
    await Promise.race([this.death, d.done]);
    d.cancel();
    return this.dead;
  }

  private phase(phase: PhaseName, startMs: number, result: PhaseResult, note?: string): void {
    const p: PhaseReport = { phase, startMs, durationMs: this.now() - startMs, result };
    if (note !== undefined) p.note = note;
    this.report.phases.push(p);
  }

  private async finish(outcome: KillOutcome): Promise<KillReport> {
    this.report.outcome = outcome;
    // The 'exit' first: formatting the stack is cold code the first time,
    // and the Worker's teardown should not wait for it.
    if (outcome === 'killed' && this.parent !== undefined) await this.parent.exited;
    const frames = native.capturedStack(this.tid);
    if (frames && frames.length > 0) this.report.jsStack = formatFrames(frames);
    this.report.elapsedMs = this.now();
    return this.report;
  }

  async run(): Promise<KillReport> {
    try {
      return await this.ladder();
    } finally {
      // Every path (dead, unkillable, or a throw) leaves no watcher, listener or timer behind.
      this.cancelDeath();
      if (!this.dead) this.parent?.release();
    }
  }

  private async ladder(): Promise<KillReport> {
    const { opts, tid, started } = this;
    const kind = startKillKind(started);
    // startKill() announced the kill (reason, exit code) and chose the first
    // phase that can apply; when neither cooperative phase can, it already
    // issued the first termination (kind is its terminate status).
    const stoppedAlready = kind !== Cooperative && kind !== InterruptFirst;

    // 1. cooperative: the thread's own event loop runs its onKill hooks (a
    // KillReached event, posted by startKill) and its stop token stops,
    // whatever state either was in.
    // (With the termination already out, every phase starts when it was issued.)
    const issuedMs = this.startedAt - this.t0;
    let start = stoppedAlready ? issuedMs : this.now();
    if (kind === Cooperative) {
      if (threadInfo(tid)?.hasStopToken) {
        const cell = native.stopCell(tid, false);
        if (cell !== undefined) stopTokenWith(new StopToken(cell), opts.reasonBytes, FLAG_KILL);
      }
      if (await this.waitDeath(opts.graceMs)) { this.phase('cooperative', start, 'exited'); return this.finish('killed'); }
      this.phase('cooperative', start, 'grace-expired');
    } else {
      this.phase('cooperative', start, 'skipped', cooperativeSkipped((started & TakesPart) !== 0));
    }

    // 2. interrupt: the kill flag travels in the request itself.
    start = stoppedAlready ? issuedMs : this.now();
    const depth = stoppedAlready ? 0 : threadInfo(tid)?.regionDepth ?? 0;
    const interrupting = depth > 0 && opts.graceMs > 0;
    const hit = interrupting
      && interruptStatusOf(native.interrupt(tid, 0, opts.reasonBytes, false, false, true)) === InterruptStatus.Hit;
    // Not ours, but another kill's interrupt may have stopped the region first.
    const byOther = !hit && !stoppedAlready && opts.graceMs > 0 && native.killInterrupted(tid);
    if (hit || byOther) {
      const note = byOther ? OTHER_KILL : undefined;
      if (await this.waitDeath(opts.graceMs)) { this.phase('interrupt', start, 'exited', note); return this.finish('killed'); }
      this.phase('interrupt', start, 'grace-expired', note);
    } else if (interrupting) {
      this.phase('interrupt', start, 'not-delivered', 'the region finished first');
    } else {
      const inRegion = stoppedAlready ? (started & InRegion) !== 0 : depth > 0;
      this.phase('interrupt', start, 'skipped', interruptSkipped(inRegion));
    }

    // 3. terminate, re-issued until the environment is gone
    start = stoppedAlready ? issuedMs : this.now();
    let first: number;
    if (stoppedAlready) {
      first = kind;
      this.counted(first);
    } else {
      first = this.terminateOnce(opts.captureStack);
    }
    if (first === TerminateStatus.DeadKilled || first === TerminateStatus.DeadNatural || this.dead) {
      this.phase('terminate', start, 'killed');
      return this.finish('killed');
    }
    // The unblock rung arms (the thread's identity) once the termination is out: the
    // entry is still live, so the OS thread is still the one we stop.
    const unblock = new Unblocker(tid, { signal: opts.unblock, children: opts.killChildren }, () => this.now());
    // The diagnosis's first look (/proc, heartbeat ping) is taken at the
    // first retry: a thread that dies within one retry interval (nearly
    // all) pays nothing for it. Taken now when the timeout is that close.
    let firstSample: ProcSample | undefined;
    let beatsBefore: ReturnType<typeof native.heartbeat> = [false, 0, 0];
    const probe = (): void => {
      firstSample = sampleProc(threadInfo(tid)?.osTid ?? 0);
      beatsBefore = native.heartbeat(tid);
      native.ping(tid);
    };
    if (opts.timeoutMs - this.now() <= 2 * opts.retryIntervalMs) probe();
    const retryOnce = (): void => {
      const s = this.terminateOnce(false);
      if (s === TerminateStatus.DeadKilled || s === TerminateStatus.DeadNatural) this.dead = true;
      else {
        if (firstSample === undefined) probe();
        unblock.tick();
      }
    };
    // The first retry interval already passed while kill() waited.
    if (this.firstWait === false) retryOnce();
    const retry = setInterval(retryOnce, opts.retryIntervalMs);
    let died: boolean;
    try {
      died = await this.waitDeath(opts.timeoutMs - this.now());
    } finally {
      clearInterval(retry);
    }
    this.phase('terminate', start, died ? 'killed' : 'timeout');
    const u = unblock.report(died);
    if (u !== undefined) this.report.phases.push({ phase: 'unblock', startMs: u.startMs, durationMs: this.now() - u.startMs, result: u.result, note: u.note, unblock: u.unblock });
    if (died) return this.finish('killed');

    // 4. unkillable
    if (firstSample === undefined) probe();
    const osTid = threadInfo(tid)?.osTid ?? 0;
    const frames = native.capturedStack(tid);
    this.report.diagnosis = buildDiagnosis(tid, osTid, { before: beatsBefore, after: native.heartbeat(tid) },
      firstSample!, sampleProc(osTid), frames ? formatFrames(frames) : undefined, native.lookup(tid) === TerminateStatus.ReservedOnly);
    if (opts.onUnkillable === 'abandon') this.abandon();
    return this.finish('unkillable');
  }

  private terminateOnce(capture: boolean): number {
    const status = native.terminate(this.tid, true, capture, false, this.opts.exitCode, this.parent !== undefined);
    this.counted(status);
    return status;
  }

  /** Counts a termination attempt; a thread only reserved is ended through its Worker handle. */
  private counted(status: number): void {
    if (status === TerminateStatus.Issued || status === TerminateStatus.ReservedOnly) this.report.attempts++;
    // Reserved, not registered: its thread is still starting (or hung before
    // thread-kill's bootstrap ran, say in a preload of the user's). The
    // registry cannot reach it; its Worker handle can.
    if (status === TerminateStatus.ReservedOnly && !this.askedCreator) {
      this.askedCreator = true;
      if (this.parent !== undefined) void nodeTerminate.call(this.parent.worker);
      else native.askCreatorToTerminate(this.tid);
    }
  }

  /** Keep stopping it quietly, without keeping this thread (or the process's end) waiting for it. */
  private abandon(): void {
    this.report.abandoned = true;
    this.parent?.worker.unref();
    native.markAbandoned(this.tid);
    if (isMainThread) guardExitAgainstAbandoned();
    const retry = setInterval(() => {
      const s = native.terminate(this.tid, false, false, false, this.opts.exitCode);
      if (s !== TerminateStatus.Issued && s !== TerminateStatus.ReservedOnly) clearInterval(retry);
    }, Math.max(this.opts.retryIntervalMs, 50));
    retry.unref();
  }
}

/** options.cleanup, once, awaited for at most timeoutMs: a cleanup that never settles cannot make kill() hang. */
async function runCleanup(opts: ParsedKillOptions, report: KillReport): Promise<void> {
  const cleanup = opts.cleanup;
  if (cleanup === undefined) return;
  const limit = delay(opts.timeoutMs);
  try {
    const settled = Promise.resolve().then(() => cleanup(report)).then(
      () => true,
      (err: unknown) => { report.cleanupError = err; return true; },
    );
    if (!(await Promise.race([settled, limit.done.then(() => false)]))) {
      report.cleanupError = new CleanupTimeoutError(opts.timeoutMs);
    }
  } finally {
    limit.cancel();
  }
}

/** Ends a plain Worker (one that never loaded thread-kill) through its own handle. */
async function terminateUnregistered(worker: Worker, tid: number, opts: ParsedKillOptions, t0: number): Promise<KillReport> {
  const report: KillReport = { threadId: tid, outcome: 'killed', attempts: 1, elapsedMs: 0, phases: [] };
  reportKillExitCode(worker, tid, opts.exitCode);
  const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
  void worker.terminate();
  const d = delay(opts.timeoutMs);
  const done = await Promise.race([exited.then(() => true), d.done.then(() => false)]);
  d.cancel();
  report.phases.push({ phase: 'terminate', startMs: 0, durationMs: nowMs() - t0, result: done ? 'killed' : 'timeout', note: 'worker.terminate(): the thread never loaded thread-kill' });
  report.outcome = done ? 'killed' : 'unkillable';
  report.elapsedMs = nowMs() - t0;
  if (!done) {
    report.diagnosis = {
      threadId: tid, osTid: 0, blockedIn: 'unknown', servicingInterrupts: false, watchedMs: opts.timeoutMs,
      summary: 'the thread never loaded thread-kill, so nothing is known about it beyond its Worker handle',
      unavailable: ['not registered with thread-kill: no OS thread id, no heartbeat'],
    };
    if (opts.onUnkillable === 'abandon') { report.abandoned = true; worker.unref(); }
  }
  return report;
}

/**
 * Kills a thread of this process from any thread: the main thread, its
 * parent, a sibling, or its own child. Resolves when the thread's
 * environment has been torn down (or when it is judged unkillable).
 *
 * Killing the current (worker) thread stops it right away: the returned
 * promise never settles and no cleanup runs. The main thread cannot be
 * killed (ERR_THREAD_KILL_MAIN_THREAD); use exitNow() instead.
 */
// (The parentheses make V8 compile it with the module, not at the first
// kill: measured ≈0.07 ms here, before the termination can go out.)
export const kill: (target: Target, options?: KillOptions) => Promise<KillReport> = (function kill(target: Target, options?: KillOptions): Promise<KillReport> {
  const t0 = nowMs();
  // The usual calls, kill(worker) and kill(threadId) without options, reach
  // the native termination through this short function alone: the first kill in a
  // process runs cold code (each function is compiled on its first call),
  // and nothing else can change what happens to the thread.
  if (options === undefined) {
    let tid = -1;
    let worker: Worker | undefined;
    try {
      if (typeof target === 'number') tid = target;
      else if (target instanceof Worker) { worker = target; tid = target.threadId; }
    } catch {
      tid = -1; // (an exotic object: the checked path reports it)
    }
    if (Number.isSafeInteger(tid) && tid > 0 && tid !== currentThreadId) {
      const started = native.startKill(tid, undefined, DEFAULTS.exitCode, DEFAULTS.graceMs > 0, DEFAULTS.captureStack, worker !== undefined);
      return killStarted(tid, worker, DEFAULTS, t0, started, nowMs());
    }
  }
  return killChecked(target, options, t0);
});

/** kill() with every argument validated first. */
const killChecked = (async function killChecked(target: Target, options: KillOptions | undefined, t0: number): Promise<KillReport> {
  const resolved = resolveTarget(target, 'target');
  const opts = parseKillOptions(options);
  const tid = resolved.threadId;
  if (tid === 0) throw new MainThreadError('target');

  if (tid < 0) {
    const report: KillReport = { threadId: tid, outcome: 'already-exited', attempts: 0, elapsedMs: nowMs() - t0, phases: [] };
    await runCleanup(opts, report);
    return report;
  }
  if (tid === currentThreadId) {
    native.terminate(tid, false, false, false, opts.exitCode);
    return new Promise<KillReport>(() => undefined);
  }
  // Everything is validated: stop it first (unless a cooperative phase
  // applies), then set up the bookkeeping.
  const started = native.startKill(tid, opts.reasonBytes, opts.exitCode, opts.graceMs > 0, opts.captureStack, resolved.worker !== undefined);
  return killStarted(tid, resolved.worker, opts, t0, started, nowMs());
});

/**
 * After startKill() stopped the thread: resolves true when it is dead (for
 * its parent: the Worker's 'exit' was emitted), false when the first retry
 * is due (`ms`). Nothing else of kill() runs before: in a fresh process that
 * is cold code (each function compiled at its first call), and on a busy
 * machine it would take the CPU from the thread's teardown — measured, it
 * delayed the termination's landing on the target by up to milliseconds.
 * The interval is timed by Atomics.waitAsync, not a JS timer (whose first
 * use in a process costs ≈0.3 ms); it does not keep the event loop alive,
 * so the thread's inbox does meanwhile (holdLoop).
 */
const firstRetryOrDeath = (function firstRetryOrDeath(tid: number, worker: Worker | undefined, ms: number): Promise<boolean> {
  let wake!: (dead: boolean) => void;
  const woken = new Promise<boolean>((resolve) => { wake = resolve; });
  // The listener first: if a Worker's listener machinery throws (a user's
  // 'newListener' handler), the kill rejects before the loop hold is taken.
  let off: () => void;
  if (worker !== undefined) {
    // Before its 'exit' can be emitted: the event reports the kill's exit code.
    reportKillExitCode(worker, tid);
    const onExit = (): void => wake(true);
    worker.once('exit', onExit);
    off = () => { worker.off('exit', onExit); };
  } else {
    // startKill() made this thread a watcher: its ThreadDead event comes.
    off = addDeathListener(tid, () => wake(true));
  }
  // Nothing below throws: the hold is given back on every path.
  native.holdLoop(true);
  const w = Atomics.waitAsync(NEVER, 0, 0, Math.max(0, ms));
  if (w.async) void w.value.then(() => wake(false));
  else wake(false);
  return woken.then((dead) => {
    native.holdLoop(false);
    off();
    return dead;
  });
});

/**
 * The usual end: stopped by startKill(), dead before the first retry was
 * due. Built in one function compiled with the module: a sibling runs it
 * while the thread's teardown and its parent's 'exit' are still going on, and
 * on a busy machine every cold function here takes CPU from them.
 */
const diedAtOnce = (function diedAtOnce(tid: number, started: number, t0: number, startedAt: number): KillReport {
  const issuedMs = startedAt - t0;
  const report: KillReport = {
    threadId: tid, outcome: 'killed', attempts: 1, elapsedMs: 0,
    phases: [
      { phase: 'cooperative', startMs: issuedMs, durationMs: 0, result: 'skipped', note: cooperativeSkipped((started & TakesPart) !== 0) },
      { phase: 'interrupt', startMs: issuedMs, durationMs: 0, result: 'skipped', note: interruptSkipped((started & InRegion) !== 0) },
      { phase: 'terminate', startMs: issuedMs, durationMs: nowMs() - startedAt, result: 'killed' },
    ],
  };
  const frames = native.capturedStack(tid);
  if (frames && frames.length > 0) report.jsStack = formatFrames(frames);
  report.elapsedMs = nowMs() - t0;
  return report;
});

/** The rest of kill(), once native.startKill() returned `started` at `startedAt` (compiled with the module too). */
const killStarted = (async function killStarted(tid: number, worker: Worker | undefined, opts: ParsedKillOptions, t0: number, started: number, startedAt: number): Promise<KillReport> {
  let report: KillReport;
  const status = startKillKind(started);
  // Issuing the stop, startKill() made this thread a watcher: held for this
  // kill until it ends, whichever way.
  const startHold = status === TerminateStatus.Issued ? holdWatch(tid) : undefined;
  try {
    const firstWait = startHold !== undefined
      ? await firstRetryOrDeath(tid, worker, Math.min(opts.retryIntervalMs, opts.timeoutMs - (nowMs() - t0)))
      : undefined;
    if (status === TerminateStatus.UnknownThread) {
      if (worker !== undefined && worker.threadId === tid) {
        report = await terminateUnregistered(worker, tid, opts, t0);
      } else {
        throw new UnknownThreadError(tid, 'target');
      }
    } else if (status === TerminateStatus.DeadKilled || status === TerminateStatus.DeadNatural) {
      // Gone already; its parent still sees 'exit' before we answer.
      if (worker !== undefined) await new ParentView(worker, tid).exited;
      report = { threadId: tid, outcome: 'already-exited', attempts: 0, elapsedMs: nowMs() - t0, phases: [] };
    } else if (firstWait === true) {
      report = diedAtOnce(tid, started, t0, startedAt);
    } else {
      const parent = worker !== undefined ? new ParentView(worker, tid) : undefined;
      report = await new KillRun(tid, opts, parent, t0, started, startedAt, firstWait).run();
    }
  } finally {
    startHold?.();
  }
  if (opts.cleanup !== undefined) await runCleanup(opts, report);
  if (report.outcome === 'unkillable' && opts.onUnkillable === 'exit') {
    // Synchronously: a worker's process.stderr is asynchronous, and the
    // process leaves right after.
    writeStderrSync(`thread-kill: thread ${tid} could not be killed (${report.diagnosis?.summary ?? 'no diagnosis'}); exiting with code ${opts.exitCode}\n`);
    exitNow(opts.exitCode, { killChildren: opts.killChildren });
  }
  return report;
});
