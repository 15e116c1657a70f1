// The stress run's memory verdict. RSS grows when threads come and go
// whoever starts them: glibc keeps per-thread malloc arenas, V8 and Node
// keep per-isolate caches. That growth is Node's and plateaus (on Node 24
// and 26 it is several times Node 20's), so a fixed limit on the total
// growth fails one Node and passes another. A leak of ours grows with the
// rounds instead. So the run is judged by comparison, in the same process:
//
//   control   plain `new Worker()` + `worker.terminate()` of a busy loop,
//             CONTROL_THREADS of them, `concurrency` at a time, before any
//             round: Node's own cost of thread churn on this Node (it is
//             also Node's warm-up);
//   warm-up   the first rounds (every combination once, and at least a
//             quarter of the run): the one-time costs of our own code;
//   measured  the rest of the rounds: growth from the end of the warm-up
//             to the end of the run.
//
// Verdict: measured growth <= control growth + allowance (--rss-limit,
// default 16 MB: RSS noise of a run on a busy machine). A run too short to
// tell a leak from noise (under 5 s or 100 rounds, or fewer than
// MIN_MEASURED measured rounds) is not judged, and says so. RSS is read only
// between phases, with no round in flight and the same helper threads
// (sibling, parent workers) alive, so a peak of live threads is never
// compared with an idle end.
import { Worker } from 'worker_threads';

export const CONTROL_THREADS = 64;
export const MIN_MEASURED = 20;
/** Runs at least this long (or with this many rounds) get a control and a verdict. */
const JUDGED_DURATION_MS = 5_000;
const JUDGED_ROUNDS = 100;

export interface MemoryVerdict {
  /** false: too short to judge (ok is then true). */
  judged: boolean;
  ok: boolean;
  /** RSS when stress() started, after the control, after the warm-up rounds, at the end (MB). */
  beforeMb: number;
  afterControlMb?: number;
  warmedMb?: number;
  afterMb: number;
  /** After the warm-up to the end: what is judged. */
  growthMb: number;
  /** The control's growth: CONTROL_THREADS plain Workers started and terminated. */
  controlMb?: number;
  controlThreads?: number;
  allowanceMb: number;
  /** controlMb + allowanceMb. */
  limitMb?: number;
  warmupRounds: number;
  measuredRounds: number;
  /** One line: what was compared. */
  rule: string;
}

export const rssMb = (): number => process.memoryUsage().rss / 2 ** 20;

const BUSY = `const f = new Int32Array(require('worker_threads').workerData);
Atomics.store(f, 0, 1); Atomics.notify(f, 0); for (;;) {}`;

/** One plain Worker in a busy loop, terminated once it runs. A busy JS loop always ends on terminate(); bounded all the same. */
async function oneControlThread(): Promise<void> {
  const flag = new Int32Array(new SharedArrayBuffer(4));
  const w = new Worker(BUSY, { eval: true, workerData: flag.buffer });
  const exited = new Promise<void>((resolve) => w.once('exit', () => resolve()));
  const bounded = (p: Promise<unknown>): Promise<unknown> => {
    let timer: NodeJS.Timeout | undefined;
    return Promise.race([p, new Promise((resolve) => { timer = setTimeout(resolve, 10_000); timer.unref(); })]).finally(() => clearTimeout(timer));
  };
  const running = (async () => {
    while (Atomics.load(flag, 0) === 0) {
      const r = Atomics.waitAsync(flag, 0, 0);
      if (r.async) await r.value;
    }
  })();
  await bounded(Promise.race([running, exited]));
  void w.terminate();
  await bounded(exited);
}

/** The control's growth in MB, or undefined when the run is too short to be judged. */
export async function controlGrowth(concurrency: number, rounds: number | undefined, durationMs: number | undefined): Promise<{ mb: number; threads: number; afterMb: number } | undefined> {
  const long = rounds !== undefined ? rounds >= JUDGED_ROUNDS : (durationMs ?? 0) >= JUDGED_DURATION_MS;
  if (!long) return undefined;
  const before = rssMb();
  let left = CONTROL_THREADS;
  await Promise.all(Array.from({ length: Math.min(concurrency, CONTROL_THREADS) }, async () => {
    while (left-- > 0) await oneControlThread();
  }));
  const afterMb = rssMb();
  return { mb: afterMb - before, threads: CONTROL_THREADS, afterMb };
}

/** When the warm-up is over: every combination once and a quarter of the run, or half of the run at most. */
export function warmupRounds(combos: number, rounds: number | undefined, durationMs: number | undefined): { done: (n: number, elapsedMs: number) => boolean } {
  if (rounds !== undefined) {
    const at = Math.min(Math.max(combos, Math.ceil(rounds / 4)), Math.floor(rounds / 2));
    return { done: (n) => n >= at };
  }
  const d = durationMs ?? 0;
  return { done: (n, elapsed) => (n >= combos && elapsed >= d / 4) || elapsed >= d / 2 };
}

export function judgeMemory(m: {
  beforeMb: number; warmedMb: number | undefined; afterMb: number;
  control: { mb: number; threads: number; afterMb: number } | undefined;
  allowanceMb: number; measuredRounds: number; warmupRounds: number;
}): MemoryVerdict {
  const base = {
    beforeMb: m.beforeMb, afterMb: m.afterMb, allowanceMb: m.allowanceMb,
    warmupRounds: m.warmupRounds, measuredRounds: m.measuredRounds,
  };
  if (m.control === undefined || m.warmedMb === undefined || m.measuredRounds < MIN_MEASURED) {
    return {
      ...base, judged: false, ok: true, growthMb: m.afterMb - m.beforeMb,
      ...(m.control ? { afterControlMb: m.control.afterMb, controlMb: m.control.mb, controlThreads: m.control.threads } : {}),
      ...(m.warmedMb !== undefined ? { warmedMb: m.warmedMb } : {}),
      rule: `not judged: too short to tell a leak from noise (${m.measuredRounds} rounds after the warm-up; `
        + `a verdict needs ${MIN_MEASURED}, and a run of ${JUDGED_DURATION_MS / 1000} s or ${JUDGED_ROUNDS} rounds)`,
    };
  }
  const growthMb = m.afterMb - m.warmedMb;
  const limitMb = Math.max(0, m.control.mb) + m.allowanceMb;
  return {
    ...base, judged: true, ok: growthMb <= limitMb, growthMb,
    afterControlMb: m.control.afterMb, warmedMb: m.warmedMb, controlMb: m.control.mb, controlThreads: m.control.threads, limitMb,
    rule: `growth over the ${m.measuredRounds} rounds after the warm-up (${m.warmupRounds} rounds) <= the control's growth `
      + `(${m.control.threads} plain Workers started and terminated, same run) + ${m.allowanceMb} MB`,
  };
}
