// One stress round: start a hung thread, wait until it is really in its
// hang, perform one operation on it from one killer position, and verify the
// outcome. Runs in the main thread or, for the 'parent' killer, inside a
// worker that is the hung thread's parent.
import * as fs from 'fs';
import * as path from 'path';
import { Worker } from 'worker_threads';
import { kill, KillReport } from '../../kill/kill';
import { interrupt, InterruptDelivery } from '../../region/interrupt';
import { stop } from '../../stop/stop';
import { threads } from '../../registry/targets';
import { HungThread, Killer, SiblingKiller, inNativeCode, inSyscall, startHung } from './harness';
import { FIFO_SCENARIOS, Op, Scenario, UnkillableScenario, makeFifo, releaseUnkillable, scenarioByName } from './scenarios';


export interface RoundSpec {
  scenario: string;
  op: Op;
  killer: Killer;
  /** A user worker script instead of a built-in scenario. */
  script?: string;
  seed: number;
  timeoutMs: number;
}

export interface RoundResult {
  spec: RoundSpec;
  ok: boolean;
  /** Why it failed. */
  failure?: string;
  /** ms from the operation to its verified effect. */
  latencyMs: number;
  outcome: string;
  cleanupRan?: boolean;
  unkillable?: boolean;
  diagnosis?: string;
  /** The thread could not be ended after the round: left running (abandoned), see diagnosis. */
  abandoned?: boolean;
}

type Performer = (h: HungThread, spec: RoundSpec, cleanup: () => void) => Promise<unknown>;

/**
 * A round waits on each of its steps for at most its timeoutMs, and has at
 * most this many steps (reaching the hang, entering the call, the operation
 * (twice), the release (twice), the report, the answer, the exit, ending the
 * thread): so a round always ends within ROUND_STEPS * timeoutMs.
 */
export const ROUND_STEPS = 10;

function performer(killer: Killer, sibling: SiblingKiller | undefined): Performer {
  return async (h, spec, cleanup) => {
    // An unkillable scenario is judged so after a short wait, then released.
    const unkillable = (scenarioByName(spec.scenario) as UnkillableScenario | undefined)?.blockedIn !== undefined;
    const options = { timeoutMs: unkillable ? Math.min(spec.timeoutMs, 300) : spec.timeoutMs };
    if (killer === 'sibling') {
      if (!sibling) throw new Error('no sibling killer');
      if (spec.op === 'kill') {
        const r = await sibling.run<KillReport>('kill', h.threadId, options);
        cleanup(); // the cleanup callback cannot cross threads; run it on the report's arrival
        return r;
      }
      if (spec.op === 'interrupt') return sibling.run<InterruptDelivery>('interrupt', h.threadId, { reason: spec.seed, timeoutMs: spec.timeoutMs });
      return sibling.run<boolean>('stop', h.threadId, { reason: spec.seed });
    }
    if (spec.op === 'kill') return kill(h.worker, { ...options, cleanup });
    if (spec.op === 'interrupt') return interrupt(h.threadId, spec.seed, { untilDelivered: true, timeoutMs: spec.timeoutMs });
    return stop(h.threadId, spec.seed);
  };
}

/** What a user script must do for each operation (stress `script`). */
export const SCRIPT_NEEDS: Readonly<Record<Op, string>> = {
  kill: 'call signalReady() right before it hangs',
  interrupt: 'for interrupt rounds a script must hang inside interruptible(), call signalReady() inside it, '
    + 'catch the InterruptedError and end normally (exit code 0)',
  stop: 'for stop rounds a script must watch threadStopToken() (stopped, signal or wait()) and end normally (exit code 0) once stopped',
};

const epochNow = (): number => performance.timeOrigin + performance.now();

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<T>((_, reject) => { timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms); }),
  ]);
}

/**
 * Ends a round's thread with the library's own ladder — never with
 * worker.terminate(), which does not return while the thread is stuck in a
 * system call. Resolves with undefined once the thread is gone, or with the
 * diagnosis when it could not be ended within timeoutMs: it is then
 * abandoned (its handle unref'd; the process can still exit).
 */
async function endThread(h: HungThread, timeoutMs: number): Promise<string | undefined> {
  if (h.hasExited()) return undefined;
  let report: KillReport;
  try {
    report = await kill(h.worker, { timeoutMs, graceMs: 0, onUnkillable: 'abandon' });
  } catch (e) {
    return `kill() failed: ${String((e as Error).message ?? e)}`;
  }
  if (report.outcome === 'unkillable') return report.diagnosis?.summary ?? 'unkillable (no diagnosis)';
  try { await withTimeout(h.exited, timeoutMs, 'the exit event after the kill'); } catch (e) { return String((e as Error).message); }
  return undefined;
}

/** Writes a byte to `file` every few ms until stopped (fifo-read interrupt rounds: see the scenario). */
function trickle(file: string): () => void {
  const fd = fs.openSync(file, fs.constants.O_WRONLY | fs.constants.O_NONBLOCK);
  const byte = Buffer.from('x');
  const timer = setInterval(() => { try { fs.writeSync(fd, byte); } catch { /* EAGAIN: the reader is behind */ } }, 5);
  return () => { clearInterval(timer); fs.closeSync(fd); };
}

/** Resolves when the thread is about to hang; rejects if it ends first (with what it threw). */
function reachHang(h: HungThread, timeoutMs: number): Promise<void> {
  const ended = h.exited.then((code) => {
    const error = h.messages.find((m) => m.kind === 'error');
    throw new Error(`the thread ended (exit code ${code}) before reaching its hang${error ? `: ${String(error.message)}` : ''}`);
  });
  return withTimeout(Promise.race([h.ready, ended]), timeoutMs, 'the thread to reach its hang');
}

/**
 * Runs one round in this thread (killer 'main', 'sibling' or 'child').
 * Never hangs: every wait is bounded by spec.timeoutMs (ROUND_STEPS of them
 * at most), and a thread still alive at the end is ended with kill() — or
 * reported as one that could not be ended, with its diagnosis.
 */
export async function runRoundHere(spec: RoundSpec, sibling?: SiblingKiller): Promise<RoundResult> {
  const scenario: Scenario | undefined = spec.script ? undefined : scenarioByName(spec.scenario);
  if (!spec.script && !scenario) return { spec, ok: false, failure: `unknown scenario ${spec.scenario}`, latencyMs: 0, outcome: 'error' };
  let fifo: { path: string; remove: () => void } | undefined;
  if (scenario && FIFO_SCENARIOS.includes(scenario.name)) {
    try {
      fifo = makeFifo();
    } catch (e) {
      return { spec, ok: false, failure: `cannot make a FIFO (mkfifo): ${String((e as Error).message)}`, latencyMs: 0, outcome: 'error' };
    }
  }
  const data: Record<string, unknown> = {
    seed: spec.seed,
    // Native hangs sized to the timeout, so a short --timeout still sees them end by themselves.
    sleepSeconds: Math.min(3, Math.max(0.2, spec.timeoutMs / 4000)),
    nativeMs: Math.min(2000, Math.max(1200, spec.timeoutMs * 0.6)),
  };
  if (fifo) data.fifo = fifo.path;
  const trickles = spec.op === 'interrupt' && scenario?.name === 'fifo-read';
  if (trickles) data.trickle = true;
  const h = startHung(scenario, { mode: spec.op, childKiller: spec.killer === 'child', script: spec.script, data });
  const result: RoundResult = { spec, ok: false, latencyMs: 0, outcome: 'pending' };
  let stopTrickle: (() => void) | undefined;
  const startTrickle = (): void => { if (trickles && fifo && !stopTrickle) stopTrickle = trickle(fifo.path); };
  try {
    try {
      await play(spec, scenario, h, result, sibling, startTrickle);
    } catch (err) {
      result.ok = false;
      result.failure = String((err as Error).message ?? err);
    } finally {
      stopTrickle?.();
    }
    if (!h.hasExited()) {
      const stuck = await endThread(h, spec.timeoutMs);
      if (stuck !== undefined) {
        result.ok = false;
        result.abandoned = true;
        result.diagnosis = stuck;
        result.failure = `${result.failure ?? `outcome ${result.outcome}`}; then the thread could not be ended (abandoned): ${stuck}`;
      } else if (result.ok) {
        result.ok = false;
        result.failure = 'the thread was still running after the round';
      }
    }
  } finally {
    fifo?.remove();
  }
  return result;
}

async function play(spec: RoundSpec, scenario: Scenario | undefined, h: HungThread, result: RoundResult,
  sibling: SiblingKiller | undefined, afterOp: () => void): Promise<RoundResult> {
  const fail = (why: string): RoundResult => { result.ok = false; result.failure = why; return result; };
  {
    if (spec.script && spec.op !== 'kill') {
      // An interrupt or a stop needs the script in its hang: signalReady() is required.
      const first = await withTimeout(Promise.race([h.ready.then(() => 'ready'), h.exited.then(() => 'exited')]), spec.timeoutMs,
        `the script to call signalReady() (${SCRIPT_NEEDS[spec.op]})`);
      if (first === 'exited') {
        const error = h.messages.find((m) => m.kind === 'error');
        return fail(`the script ended before it called signalReady()${error ? ` (${String(error.message)})` : ''}: ${SCRIPT_NEEDS[spec.op]}`);
      }
    } else if (spec.script) {
      await withTimeout(Promise.race([h.ready, h.exited, new Promise((r) => h.worker.once('online', r))]), spec.timeoutMs, 'the script to start');
    }
    else await reachHang(h, spec.timeoutMs);
    const stuck = scenario as UnkillableScenario | undefined;
    if (stuck?.blockedIn !== undefined && spec.killer !== 'child') {
      // Judged only once it is really in the call no signal can end.
      await withTimeout(stuck.syscall ? inSyscall(h.threadId, stuck.syscall, spec.timeoutMs) : inNativeCode(h.threadId, 200, spec.timeoutMs), spec.timeoutMs, 'the thread to enter its call');
    }
    const t0 = performance.now();
    let cleanups = 0;
    if (spec.killer === 'child') {
      // The hung thread's own child performs the op as soon as it hangs.
      afterOp();
      if (spec.op === 'kill') {
        await withTimeout(h.exited, spec.timeoutMs, 'the thread to die');
        result.latencyMs = epochNow() - h.childOpStartedAt();
        result.outcome = 'killed';
        return check(result, h, true);
      }
    } else {
      const performed = performer(spec.killer, sibling)(h, spec, () => { cleanups++; });
      afterOp();
      const r = await withTimeout(performed, spec.timeoutMs * 2, `${spec.op} to settle`);
      if (spec.op === 'kill') {
        const report = r as KillReport;
        result.latencyMs = report.elapsedMs;
        result.outcome = report.outcome;
        result.cleanupRan = cleanups === 1;
        const expected = (scenario as UnkillableScenario | undefined)?.blockedIn;
        if (expected !== undefined) {
          // No signal can end it: it must be reported unkillable, blocked where it is.
          result.unkillable = report.outcome === 'unkillable';
          result.diagnosis = report.diagnosis?.summary;
          const fifo = h.messages.find((m) => m.kind === 'fifo')?.path as string | undefined;
          // Twice the step: pbkdf2's call is calibrated before it starts, and a busy machine can slow it down after.
          await releaseUnkillable(spec.scenario, fifo, h.exited, performance.now() + 2 * spec.timeoutMs);
          if (report.outcome !== 'unkillable') return fail(`outcome ${report.outcome}, expected unkillable`);
          if (report.diagnosis?.blockedIn !== expected) return fail(`blockedIn ${String(report.diagnosis?.blockedIn)}, expected ${expected}: ${report.diagnosis?.summary}`);
          if (cleanups !== 1) return fail(`cleanup ran ${cleanups} times`);
          result.outcome = 'unkillable';
          return check(result, h, true);
        }
        if (report.outcome === 'unkillable') {
          result.unkillable = true;
          result.diagnosis = report.diagnosis?.summary;
          return fail(`unkillable: ${report.diagnosis?.summary}`);
        }
        if (report.outcome !== 'killed') return fail(`outcome ${report.outcome}`);
        if (cleanups !== 1) return fail(`cleanup ran ${cleanups} times`);
        await withTimeout(h.exited, spec.timeoutMs, 'the exit event');
        // A killed scenario's own FIFO (fifo-open): nobody else removes it.
        const fifo = h.messages.find((m) => m.kind === 'fifo')?.path as string | undefined;
        if (fifo !== undefined) fs.rmSync(path.dirname(fifo), { recursive: true, force: true });
        return check(result, h, true);
      }
      if (spec.op === 'stop' && r !== true) return fail(`stop() returned ${String(r)}`);
      if (spec.script) {
        // A script needs no protocol: the interrupt must reach a region, and
        // the thread must then end normally by itself.
        if (spec.op === 'interrupt') {
          const d = r as InterruptDelivery;
          if (!d.delivered) return fail(`interrupt not delivered (${String(d.why)}): ${SCRIPT_NEEDS.interrupt}`);
        }
        result.outcome = spec.op === 'interrupt' ? 'interrupted' : 'stopped';
        const code = await withTimeout(h.exited, spec.timeoutMs, `the script to end after the ${spec.op} (${SCRIPT_NEEDS[spec.op]})`);
        result.latencyMs = performance.now() - t0;
        if (code !== 0) return fail(`exit code ${code} after the ${spec.op}: ${SCRIPT_NEEDS[spec.op]}`);
        return check(result, h, false);
      }
    }
    // interrupt / stop: the thread reports, then proves it is healthy (interrupt) or exits (stop).
    const expectInterrupt = scenario?.interrupt ?? 'interrupted';
    if (spec.op === 'interrupt' && expectInterrupt === 'no-region') {
      result.latencyMs = performance.now() - t0;
      result.outcome = 'no-region';
    } else {
      const kind = spec.op === 'interrupt' ? 'interrupted' : 'stopped';
      const m = await withTimeout(h.next(kind), spec.timeoutMs, `the thread to report '${kind}'`);
      result.latencyMs = spec.killer === 'child' ? epochNow() - h.childOpStartedAt() : performance.now() - t0;
      result.outcome = kind;
      if (spec.op === 'interrupt' && m.code !== 'ERR_THREAD_INTERRUPTED') return fail(`wrong error ${String(m.code)}`);
      const expectedReason = spec.killer === 'child' ? 'from child' : spec.seed;
      if (!spec.script && m.reason !== expectedReason) return fail(`reason ${String(m.reason)} !== ${String(expectedReason)}`);
    }
    if (spec.op === 'interrupt') {
      h.worker.postMessage('ping');
      await withTimeout(h.next('pong'), spec.timeoutMs, 'the thread to answer after the interrupt');
      h.worker.postMessage('leave');
    }
    const code = await withTimeout(h.exited, spec.timeoutMs, 'the thread to exit');
    if (code !== 0) return fail(`exit code ${code}`);
    return check(result, h, false);
  }
}

function check(result: RoundResult, h: HungThread, killed: boolean): RoundResult {
  if (threads().some((t) => t.threadId === h.threadId)) {
    result.ok = false;
    result.failure = 'the thread is still registered after it exited';
    return result;
  }
  const inner = h.messages.filter((m) => m.kind === 'inner-catch' || m.kind === 'inner-finally' || m.kind === 'error');
  if (killed && inner.length > 0) {
    result.ok = false;
    result.failure = `code inside the killed region ran: ${JSON.stringify(inner)}`;
    return result;
  }
  const child = h.messages.find((m) => m.kind === 'child');
  if (child && threads().some((t) => t.threadId === child.threadId)) {
    result.ok = false;
    result.failure = `its child thread ${String(child.threadId)} survived`;
    return result;
  }
  result.ok = true;
  return result;
}

const PARENT_SOURCE = `
const { parentPort, workerData } = require('worker_threads');
const { runRoundHere } = require(workerData.round);
parentPort.on('message', async (spec) => {
  let result;
  try {
    result = await runRoundHere({ ...spec, killer: 'main' });
  } catch (e) {
    result = { ok: false, failure: 'the round threw: ' + (e && e.stack || e), latencyMs: 0, outcome: 'error' };
  }
  result.spec = spec;
  parentPort.postMessage(result);
});
`;

/** A worker that runs rounds as the hung thread's parent (killer 'parent'). */
export class ParentKiller {
  readonly worker: Worker;
  /** Set when a round did not come back in time: this parent is then replaced. */
  broken = false;
  constructor() {
    this.worker = new Worker(PARENT_SOURCE, { eval: true, workerData: { round: __filename } });
    this.worker.unref();
  }
  /**
   * Runs one round in the parent worker (one at a time per ParentKiller).
   * The round bounds itself (ROUND_STEPS * timeoutMs); should the answer
   * still not come (the parent itself stuck or dead), the round is reported
   * as such and this parent is marked broken.
   */
  send(spec: RoundSpec): Promise<RoundResult> {
    this.worker.ref();
    return new Promise<RoundResult>((resolve) => {
      const settle = (r: RoundResult): void => {
        clearTimeout(timer);
        this.worker.off('message', onMessage);
        this.worker.off('exit', onExit);
        this.worker.unref();
        resolve(r);
      };
      const lost = (why: string): void => { this.broken = true; settle({ spec, ok: false, failure: why, latencyMs: 0, outcome: 'error' }); };
      const bound = spec.timeoutMs * (ROUND_STEPS + 1);
      const timer = setTimeout(() => lost(`the parent worker did not finish the round within ${bound} ms`), bound);
      const onMessage = (r: RoundResult): void => settle(r);
      const onExit = (code: number): void => lost(`the parent worker exited (code ${code}) during the round`);
      this.worker.on('message', onMessage);
      this.worker.once('exit', onExit);
      this.worker.postMessage(spec);
    });
  }
  /** Ends the parent with kill() (a terminate() would wait for a stuck child for good); false if it had to be abandoned. */
  async close(timeoutMs = 10_000): Promise<boolean> {
    const r = await kill(this.worker, { timeoutMs, graceMs: 0, onUnkillable: 'abandon' });
    return r.outcome !== 'unkillable';
  }
}
