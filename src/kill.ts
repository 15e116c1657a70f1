// kill(): the escalation ladder, callable from any thread.
//
//   1. cooperative  stop the thread's own token (if it looks at one) and wait
//                   up to graceMs for it to exit;
//   2. interrupt    interrupt its outermost interruptible() region (if any),
//                   so its catch/finally and onKill hooks run; up to graceMs;
//   3. terminate    node::Stop() of its environment, re-issued every
//                   retryIntervalMs until the environment is torn down;
//      unblock      from the first retry on, a thread still blocked in a
//                   read-type syscall gets SIGRTMIN+3 (src/unblock.ts), and
//                   the child process trees of one waiting for them
//                   (spawnSync/execSync) are killed;
//   4. unkillable   at timeoutMs: diagnose, then onUnkillable.
// Phases that cannot apply are skipped at once, so a busy JS loop is killed
// as fast as a plain hard stop.
import { Worker, threadId as currentThreadId } from 'worker_threads';
import { Diagnosis, buildDiagnosis, sampleProc } from './diagnose';
import { InvalidArgTypeError, MainThreadError, UnknownThreadError } from './errors';
import { formatFrames } from './frames';
import { KILL_INTERRUPT_REASON } from './hooks';
import { InterruptStatus, StopStatus, native } from './native';
import { FLAG_KILL, StopToken, serializeReason } from './stop-token';
import { Target, resolveTarget, threadInfo } from './targets';
import { addDeathListener } from './thread';
import { boolean, durationMs, func, oneOf, optionsBag } from './validate';
import { exitNow } from './exit';
import { UnblockDetails, Unblocker } from './unblock';

export type KillOutcome = 'killed' | 'already-exited' | 'unkillable';
export type PhaseName = 'cooperative' | 'interrupt' | 'terminate' | 'unblock';
export type PhaseResult = 'skipped' | 'exited' | 'grace-expired' | 'not-delivered' | 'killed' | 'timeout' | 'signalled' | 'children-killed';

export interface PhaseReport {
  phase: PhaseName;
  /** ms after kill() started. */
  startMs: number;
  durationMs: number;
  result: PhaseResult;
  /** Why a skipped phase did not apply (for 'unblock': also what it did). */
  note?: string;
  /** Phase 'unblock' only: signals sent, child processes killed, or why it was skipped. */
  unblock?: UnblockDetails;
}

export interface KillReport {
  threadId: number;
  outcome: KillOutcome;
  /** Hard-stop (node::Stop) attempts this call made. */
  attempts: number;
  elapsedMs: number;
  phases: PhaseReport[];
  /** The target's JS stack when the hard stop reached it (if it was running JS). */
  jsStack?: string;
  /** Present when outcome is 'unkillable': what the thread is doing instead of dying. */
  diagnosis?: Diagnosis;
  /** onUnkillable: 'abandon' — still retrying in the background; the Worker handle was unref'd. */
  abandoned?: boolean;
  /** The error thrown by options.cleanup, if any (kill() still resolves). */
  cleanupError?: unknown;
}

export type OnUnkillable = 'report' | 'abandon' | 'exit';

export interface KillOptions {
  /** Per cooperative phase (1 and 2): how long to let the thread exit by itself. Default 100. */
  graceMs?: number;
  /** Total time before the thread is judged unkillable. Default 10000. */
  timeoutMs?: number;
  /** How often the hard stop is re-issued. Default 10. */
  retryIntervalMs?: number;
  /** Runs exactly once in the calling thread, after the thread is dead or judged unkillable. */
  cleanup?: (report: KillReport) => unknown;
  /** What to do when the thread cannot be killed in time. Default 'report'. */
  onUnkillable?: OnUnkillable;
  /** Exit code for onUnkillable: 'exit'. Default 1. */
  exitCode?: number;
  /** Passed to the thread's onKill hooks / InterruptedError.reason (structured-cloneable). */
  reason?: unknown;
  /** Capture the target's JS stack as the hard stop lands. Default true. */
  captureStack?: boolean;
  /** Interrupt a blocked read-type syscall of the thread with SIGRTMIN+3 once the hard stop is requested. Default true. */
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
  /** Phase 2's interrupt payload, serialized once (this also validates options.reason). */
  interruptReason: Uint8Array | undefined;
  reasonValue: unknown;
  captureStack: boolean;
  unblock: boolean;
  killChildren: boolean;
}

function parseKillOptions(options: unknown): ParsedKillOptions {
  const o = optionsBag(options, 'options', KILL_OPTION_KEYS);
  const exitCode = o.exitCode === undefined ? 1 : o.exitCode;
  if (typeof exitCode !== 'number' || !Number.isInteger(exitCode) || exitCode < 0 || exitCode > 255) {
    throw new InvalidArgTypeError(`options.exitCode must be an integer from 0 to 255, got ${String(exitCode)}`);
  }
  return {
    graceMs: durationMs(o.graceMs, 'options.graceMs', 100),
    timeoutMs: durationMs(o.timeoutMs, 'options.timeoutMs', 10_000),
    retryIntervalMs: durationMs(o.retryIntervalMs, 'options.retryIntervalMs', 10, 1),
    cleanup: o.cleanup === undefined ? undefined : func<(report: KillReport) => unknown>(o.cleanup, 'options.cleanup'),
    onUnkillable: oneOf(o.onUnkillable, 'options.onUnkillable', ['report', 'abandon', 'exit'] as const, 'report'),
    exitCode,
    interruptReason: serializeReason({ ...KILL_INTERRUPT_REASON, reason: o.reason }, 'options.reason'),
    reasonValue: o.reason,
    captureStack: boolean(o.captureStack, 'options.captureStack', true),
    unblock: boolean(o.unblock, 'options.unblock', true),
    killChildren: boolean(o.killChildren, 'options.killChildren', true),
  };
}

/** Resolves true when `tid` dies; resolves false at once if it is not live. */
function deathOf(tid: number): { dead: Promise<boolean>; cancel: () => void } {
  let cancel = (): void => undefined;
  const dead = new Promise<boolean>((resolve) => {
    if (!native.watch(tid)) return resolve(false);
    cancel = addDeathListener(tid, () => resolve(true));
  });
  return { dead, cancel };
}

function delay(ms: number): { done: Promise<void>; cancel: () => void } {
  let timer: NodeJS.Timeout | undefined;
  const done = new Promise<void>((resolve) => { timer = setTimeout(resolve, ms); });
  return { done, cancel: () => clearTimeout(timer) };
}

class KillRun {
  private readonly t0 = performance.now();
  private readonly report: KillReport;
  private readonly death: Promise<boolean>;
  private readonly cancelDeath: () => void;
  private dead = false;

  constructor(private readonly tid: number, private readonly opts: ParsedKillOptions, private readonly worker: Worker | undefined) {
    this.report = { threadId: tid, outcome: 'killed', attempts: 0, elapsedMs: 0, phases: [] };
    const { dead, cancel } = deathOf(tid);
    this.death = dead.then((d) => { this.dead = true; return d; });
    this.cancelDeath = cancel;
  }

  private now(): number { return performance.now() - this.t0; }

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

  private finish(outcome: KillOutcome): KillReport {
    this.report.outcome = outcome;
    this.report.elapsedMs = this.now();
    const frames = native.capturedStack(this.tid);
    if (frames && frames.length > 0) this.report.jsStack = formatFrames(frames);
    this.cancelDeath();
    return this.report;
  }

  async run(): Promise<KillReport> {
    const { opts, tid } = this;
    const info = threadInfo(tid);

    // 1. cooperative
    let start = this.now();
    if (info?.hasStopToken && opts.graceMs > 0) {
      const cell = native.stopCell(tid, false);
      if (cell !== undefined) new StopToken(cell).stopWith(opts.reasonValue, FLAG_KILL);
      if (await this.waitDeath(opts.graceMs)) { this.phase('cooperative', start, 'exited'); return this.finish('killed'); }
      this.phase('cooperative', start, 'grace-expired');
    } else {
      this.phase('cooperative', start, 'skipped', info?.hasStopToken ? 'graceMs is 0' : 'the thread has no stop token');
    }

    // 2. interrupt
    start = this.now();
    const depth = threadInfo(tid)?.regionDepth ?? 0;
    if (depth > 0 && opts.graceMs > 0) {
      const status: InterruptStatus = native.interrupt(tid, 0, opts.interruptReason, false, false) % 8;
      if (status === InterruptStatus.Hit) {
        if (await this.waitDeath(opts.graceMs)) { this.phase('interrupt', start, 'exited'); return this.finish('killed'); }
        this.phase('interrupt', start, 'grace-expired');
      } else {
        this.phase('interrupt', start, 'not-delivered', 'the region finished first');
      }
    } else {
      this.phase('interrupt', start, 'skipped', depth > 0 ? 'graceMs is 0' : 'the thread is in no interruptible() region');
    }

    // 3. terminate, re-issued until the environment is gone
    start = this.now();
    const unblock = new Unblocker(tid, { signal: opts.unblock, children: opts.killChildren }, () => this.now());
    const first = this.stopOnce(opts.captureStack);
    if (first === StopStatus.DeadKilled || first === StopStatus.DeadNatural || this.dead) {
      this.phase('terminate', start, 'killed');
      return this.finish('killed');
    }
    const firstSample = sampleProc(threadInfo(tid)?.osTid ?? 0);
    const beatsBefore = native.heartbeat(tid);
    native.ping(tid);
    const retry = setInterval(() => {
      const s = this.stopOnce(false);
      if (s === StopStatus.DeadKilled || s === StopStatus.DeadNatural) this.dead = true;
      else unblock.tick();
    }, opts.retryIntervalMs);
    const died = await this.waitDeath(opts.timeoutMs - this.now());
    clearInterval(retry);
    this.phase('terminate', start, died ? 'killed' : 'timeout');
    const u = unblock.report(died);
    if (u !== undefined) this.report.phases.push({ phase: 'unblock', startMs: u.startMs, durationMs: this.now() - u.startMs, result: u.result, note: u.note, unblock: u.unblock });
    if (died) return this.finish('killed');

    // 4. unkillable
    const osTid = threadInfo(tid)?.osTid ?? 0;
    const frames = native.capturedStack(tid);
    this.report.diagnosis = buildDiagnosis(tid, osTid, { before: beatsBefore, after: native.heartbeat(tid) },
      firstSample, sampleProc(osTid), frames ? formatFrames(frames) : undefined);
    if (opts.onUnkillable === 'abandon') this.abandon();
    return this.finish('unkillable');
  }

  private stopOnce(capture: boolean): StopStatus {
    const status = native.stop(this.tid, true, capture);
    if (status === StopStatus.Issued || status === StopStatus.ReservedOnly) this.report.attempts++;
    return status;
  }

  /** Keep stopping it quietly, without keeping this thread alive for it. */
  private abandon(): void {
    this.report.abandoned = true;
    this.worker?.unref();
    const retry = setInterval(() => {
      const s = native.stop(this.tid, false, false);
      if (s !== StopStatus.Issued && s !== StopStatus.ReservedOnly) clearInterval(retry);
    }, Math.max(this.opts.retryIntervalMs, 50));
    retry.unref();
  }
}

async function runCleanup(opts: ParsedKillOptions, report: KillReport): Promise<void> {
  if (opts.cleanup === undefined) return;
  try {
    await opts.cleanup(report);
  } catch (err) {
    report.cleanupError = err;
  }
}

/** Ends a plain Worker (one that never loaded thread-kill) through its own handle. */
async function terminateUnregistered(worker: Worker, tid: number, opts: ParsedKillOptions, t0: number): Promise<KillReport> {
  const report: KillReport = { threadId: tid, outcome: 'killed', attempts: 1, elapsedMs: 0, phases: [] };
  const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
  void worker.terminate();
  const d = delay(opts.timeoutMs);
  const done = await Promise.race([exited.then(() => true), d.done.then(() => false)]);
  d.cancel();
  report.phases.push({ phase: 'terminate', startMs: 0, durationMs: performance.now() - t0, result: done ? 'killed' : 'timeout', note: 'worker.terminate(): the thread never loaded thread-kill' });
  report.outcome = done ? 'killed' : 'unkillable';
  report.elapsedMs = performance.now() - t0;
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
export async function kill(target: Target, options?: KillOptions): Promise<KillReport> {
  const t0 = performance.now();
  const resolved = resolveTarget(target, 'target');
  const opts = parseKillOptions(options);
  const tid = resolved.threadId;
  if (tid === 0) throw new MainThreadError('target');

  let report: KillReport;
  if (tid < 0) {
    report = { threadId: tid, outcome: 'already-exited', attempts: 0, elapsedMs: performance.now() - t0, phases: [] };
  } else if (tid === currentThreadId) {
    native.stop(tid, false, false);
    return new Promise<KillReport>(() => undefined);
  } else {
    const status = native.lookup(tid);
    if (status === StopStatus.UnknownThread) {
      if (resolved.worker !== undefined && resolved.worker.threadId === tid) {
        report = await terminateUnregistered(resolved.worker, tid, opts, t0);
      } else {
        throw new UnknownThreadError(tid, 'target');
      }
    } else if (status === StopStatus.DeadKilled || status === StopStatus.DeadNatural) {
      report = { threadId: tid, outcome: 'already-exited', attempts: 0, elapsedMs: performance.now() - t0, phases: [] };
    } else {
      report = await new KillRun(tid, opts, resolved.worker).run();
    }
  }
  await runCleanup(opts, report);
  if (report.outcome === 'unkillable' && opts.onUnkillable === 'exit') {
    process.stderr.write(`thread-kill: thread ${tid} could not be killed (${report.diagnosis?.summary ?? 'no diagnosis'}); exiting with code ${opts.exitCode}\n`);
    exitNow(opts.exitCode, { killChildren: opts.killChildren });
  }
  return report;
}
