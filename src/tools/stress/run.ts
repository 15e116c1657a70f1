// stress(): many rounds of (scenario x operation x killer), verified, timed,
// aggregated into a report. The CLI (src/tools/cli.ts) is a thin shell around it.
import * as fs from 'fs';
import { InvalidArgTypeError, OutOfRangeError } from '../../shared/errors';
import { durationMs, optionsBag, positiveNumber } from '../../shared/validate';
import { Killer, SiblingKiller } from './harness';
import { ParentKiller, RoundResult, RoundSpec, runRoundHere } from './round';
import { FIFO_SCENARIOS, NATIVE_SCENARIOS, Op, SCENARIOS, UNKILLABLE_SCENARIOS, haveMkfifo, scenarioByName } from './scenarios';
import { controlGrowth, MemoryVerdict, judgeMemory, rssMb, warmupRounds } from './memory';

export const ALL_OPS: readonly Op[] = ['kill', 'interrupt', 'stop'];
export const ALL_KILLERS: readonly Killer[] = ['main', 'parent', 'sibling', 'child'];
/**
 * The killers a user script (`script`) can be stopped from: the 'child'
 * killer is a child thread the built-in scenarios start themselves, which a
 * script does not.
 */
export const SCRIPT_KILLERS: readonly Killer[] = ['main', 'parent', 'sibling'];

export interface StressOptions {
  /** Built-in scenario names (default: all of them). */
  scenarios?: string[];
  /** A user worker script to use as the only scenario. */
  script?: string;
  ops?: Op[];
  killers?: Killer[];
  /** Stop after this many rounds... */
  rounds?: number;
  /** ...or after this long (default 10 s when neither is given). */
  durationMs?: number;
  /** Rounds in flight at once. Default 2. */
  concurrency?: number;
  seed?: number;
  /** Per-round limit for each step. Default 10000. */
  timeoutMs?: number;
  /**
   * RSS growth (MB) allowed after the warm-up beyond what the control (plain
   * Worker + terminate(), same run) grew: see ./memory.ts. Default 16.
   */
  rssLimitMb?: number;
  onProgress?: (p: StressProgress) => void;
}

export interface StressProgress {
  done: number;
  failures: number;
  elapsedMs: number;
  /** ms left (duration runs) or rounds left (round runs). */
  remaining: { ms?: number; rounds?: number };
  ratePerSec: number;
}

export interface StressRow {
  scenario: string;
  op: Op;
  count: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  failures: number;
  unkillable: number;
  /** kill rounds whose cleanup ran exactly once, of those with a cleanup (not child-killer rounds). */
  cleanupRan: number;
  cleanupExpected: number;
  killers: Partial<Record<Killer, number>>;
}

export interface StressReport {
  ok: boolean;
  seed: number;
  rounds: number;
  elapsedMs: number;
  rows: StressRow[];
  failures: Array<{ scenario: string; op: Op; killer: Killer; seed: number; failure: string }>;
  rss: MemoryVerdict;
  /** Scenarios not run, and why (e.g. "needs mkfifo"). */
  skipped: Array<{ scenario: string; why: string }>;
  /** Rounds whose thread could not be ended (abandoned: still alive when stress() returned). */
  abandoned: number;
  options: { scenarios: string[]; ops: Op[]; killers: Killer[]; concurrency: number; script?: string };
}

/** mulberry32: small, seedable, good enough to shuffle rounds reproducibly. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

const STRESS_KEYS = ['scenarios', 'script', 'ops', 'killers', 'rounds', 'durationMs', 'concurrency', 'seed', 'timeoutMs', 'rssLimitMb', 'onProgress'] as const;

function list<T extends string>(value: unknown, name: string, allowed: readonly T[], fallback: readonly T[]): T[] {
  if (value === undefined) return [...fallback];
  if (!Array.isArray(value) || value.length === 0) throw new InvalidArgTypeError(`${name} must be a non-empty array`);
  for (const v of value) {
    if (!allowed.includes(v as T)) throw new InvalidArgTypeError(`${name}: unknown value ${JSON.stringify(v)} (known: ${allowed.join(', ')})`);
  }
  return value as T[];
}

function count(value: unknown, name: string, fallback: number | undefined, max: number): number | undefined {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > max) {
    throw new OutOfRangeError(`${name} must be an integer from 1 to ${max}, got ${String(value)}`);
  }
  return value;
}

export async function stress(options: StressOptions = {}): Promise<StressReport> {
  const o = optionsBag(options, 'options', STRESS_KEYS);
  const names = SCENARIOS.map((s) => s.name);
  if (o.script !== undefined && typeof o.script !== 'string') throw new InvalidArgTypeError('options.script must be a path');
  const scenarios = list(o.scenarios, 'options.scenarios', [...names, ...NATIVE_SCENARIOS.map((s) => s.name), ...UNKILLABLE_SCENARIOS.map((s) => s.name)], names);
  const ops = list(o.ops, 'options.ops', ALL_OPS, o.script ? ['kill'] : ALL_OPS);
  const killers = list(o.killers, 'options.killers', ALL_KILLERS, o.script ? SCRIPT_KILLERS : ALL_KILLERS);
  if (o.script !== undefined) {
    if (killers.includes('child')) {
      throw new InvalidArgTypeError(`options.killers: the child killer cannot stop a script (it is a child thread only the built-in scenarios start); use ${SCRIPT_KILLERS.join(', ')}`);
    }
    let file: fs.Stats | undefined;
    try { file = fs.statSync(o.script as string); } catch { /* reported below */ }
    if (!file?.isFile()) throw new InvalidArgTypeError(`options.script: no such file: ${o.script as string}`);
  }
  const rounds = count(o.rounds, 'options.rounds', undefined, 10_000_000);
  if (rounds !== undefined && o.durationMs !== undefined) {
    throw new InvalidArgTypeError('options.rounds and options.durationMs cannot be combined: give one (a number of rounds, or a duration)');
  }
  const duration = o.durationMs === undefined ? (rounds === undefined ? 10_000 : undefined) : durationMs(o.durationMs, 'options.durationMs', 0, 1);
  const concurrency = count(o.concurrency, 'options.concurrency', 2, 64)!;
  const seed = o.seed === undefined ? Math.floor(Math.random() * 2 ** 31) : count(o.seed, 'options.seed', 1, 2 ** 31)!;
  const timeoutMs = durationMs(o.timeoutMs, 'options.timeoutMs', 10_000, 1);
  const rssLimitMb = positiveNumber(o.rssLimitMb, 'options.rssLimitMb', 16);
  const onProgress = o.onProgress === undefined ? undefined : (o.onProgress as (p: StressProgress) => void);
  if (onProgress !== undefined && typeof onProgress !== 'function') throw new InvalidArgTypeError('options.onProgress must be a function');
  if (o.script === undefined) {
    for (const s of scenarios) if (!scenarioByName(s)) throw new InvalidArgTypeError(`options.scenarios: unknown scenario ${s}`);
  }

  // Every combination the scenarios support, in a seeded order.
  const random = rng(seed);
  const combos: Array<Omit<RoundSpec, 'seed' | 'timeoutMs'>> = [];
  // Without mkfifo(1) the FIFO scenarios cannot run (Node cannot make a FIFO): skipped, and said so.
  const skipped: Array<{ scenario: string; why: string }> = [];
  const runnable = o.script !== undefined || haveMkfifo() ? scenarios : scenarios.filter((name) => {
    if (!FIFO_SCENARIOS.includes(name)) return true;
    skipped.push({ scenario: name, why: 'needs mkfifo (not on PATH)' });
    return false;
  });
  const scenarioList = o.script !== undefined ? ['script'] : runnable;
  for (const scenario of scenarioList) {
    const supported = o.script !== undefined ? ops : ops.filter((op) => scenarioByName(scenario)!.ops.includes(op));
    // An unkillable scenario's own child could only die with it: no 'child' killer.
    const unkillable = UNKILLABLE_SCENARIOS.some((s) => s.name === scenario);
    for (const op of supported) for (const killer of killers) if (!(unkillable && killer === 'child')) combos.push({ scenario, op, killer, script: o.script as string | undefined });
  }
  if (combos.length === 0 && skipped.length === 0) throw new InvalidArgTypeError('options: no scenario supports the selected ops');
  for (let i = combos.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [combos[i], combos[j]] = [combos[j], combos[i]];
  }

  // Memory: a control first (Node's own cost of starting and terminating
  // threads, which also warms Node up), then the rounds, judged after their
  // own warm-up (./memory.ts).
  const rssBefore = rssMb();
  const control = combos.length > 0 ? await controlGrowth(concurrency, rounds, duration) : undefined;
  const warmup = warmupRounds(combos.length, rounds, duration);
  let rssWarmed: number | undefined = undefined;
  let warmedAtRound = 0;
  const sibling = new SiblingKiller();
  const t0 = performance.now();
  const results: RoundResult[] = [];
  let next = 0;
  let failures = 0;
  const more = (): boolean => combos.length > 0 && (rounds !== undefined ? next < rounds : performance.now() - t0 < duration!);
  const progress = (): void => {
    const elapsedMs = performance.now() - t0;
    onProgress?.({
      done: results.length, failures, elapsedMs,
      remaining: rounds !== undefined ? { rounds: rounds - results.length } : { ms: Math.max(0, duration! - elapsedMs) },
      ratePerSec: results.length / (elapsedMs / 1000 || 1),
    });
  };
  const ticker = onProgress ? setInterval(progress, 250) : undefined;
  // Two phases, each drained before RSS is read (no round in flight, the same
  // helper threads alive): the warm-up, then the measured rounds.
  const parents: Array<ParentKiller | undefined> = new Array(concurrency).fill(undefined);
  const warming = (): boolean => more() && !warmup.done(next, performance.now() - t0);
  async function lane(slot: number, go: () => boolean): Promise<void> {
    while (go()) {
      const i = next++;
      const spec: RoundSpec = { ...combos[i % combos.length], seed: (seed + i) % 2 ** 31, timeoutMs };
      const r = spec.killer === 'parent'
        ? await (parents[slot] ??= new ParentKiller()).send(spec)
        : await runRoundHere(spec, sibling);
      const parent = parents[slot];
      if (parent?.broken) { parents[slot] = undefined; await parent.close(timeoutMs); }
      results.push(r);
      if (!r.ok) failures++;
    }
  }
  let rssAfter: number;
  try {
    await Promise.all(parents.map((_, slot) => lane(slot, warming)));
    rssWarmed = rssMb();
    warmedAtRound = results.length;
    await Promise.all(parents.map((_, slot) => lane(slot, more)));
    rssAfter = rssMb();
  } finally {
    if (ticker) clearInterval(ticker);
    await Promise.all(parents.map((p) => p?.close(timeoutMs)));
    await sibling.close(timeoutMs);
  }
  progress();
  const elapsedMs = performance.now() - t0;
  const rss = judgeMemory({
    beforeMb: rssBefore, warmedMb: rssWarmed, afterMb: rssAfter, control, allowanceMb: rssLimitMb,
    measuredRounds: results.length - warmedAtRound, warmupRounds: warmedAtRound,
  });

  const rows = new Map<string, StressRow & { lat: number[] }>();
  for (const r of results) {
    const key = `${r.spec.scenario}/${r.spec.op}`;
    let row = rows.get(key);
    if (!row) {
      row = { scenario: r.spec.scenario, op: r.spec.op, count: 0, p50: 0, p90: 0, p99: 0, max: 0, failures: 0, unkillable: 0, cleanupRan: 0, cleanupExpected: 0, killers: {}, lat: [] };
      rows.set(key, row);
    }
    row.count++;
    row.killers[r.spec.killer] = (row.killers[r.spec.killer] ?? 0) + 1;
    if (!r.ok) row.failures++;
    if (r.unkillable) row.unkillable++;
    if (r.cleanupRan) row.cleanupRan++;
    if (r.spec.op === 'kill' && r.spec.killer !== 'child') row.cleanupExpected++;
    if (r.ok) row.lat.push(r.latencyMs);
  }
  const outRows: StressRow[] = [...rows.values()].map(({ lat, ...row }) => {
    lat.sort((a, b) => a - b);
    return { ...row, p50: percentile(lat, 50), p90: percentile(lat, 90), p99: percentile(lat, 99), max: lat[lat.length - 1] ?? 0 };
  }).sort((a, b) => a.scenario.localeCompare(b.scenario) || a.op.localeCompare(b.op));
  return {
    ok: failures === 0 && rss.ok,
    seed, rounds: results.length, elapsedMs, rows: outRows, rss, skipped,
    abandoned: results.filter((r) => r.abandoned).length,
    failures: results.filter((r) => !r.ok).map((r) => ({ scenario: r.spec.scenario, op: r.spec.op, killer: r.spec.killer, seed: r.spec.seed, failure: r.failure ?? '?' })),
    options: { scenarios: scenarioList, ops, killers, concurrency, ...(o.script !== undefined ? { script: o.script as string } : {}) },
  };
}
