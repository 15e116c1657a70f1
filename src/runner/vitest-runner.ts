// The body of thread-kill/vitest (src/vitest.mts loads Vitest's own runner
// class and its getFn/getHooks, whichever major is installed, and passes
// them here).
//
// Vitest stores each test and hook as runWithTimeout(fn): a timer, and a
// check after fn returns (vitest#2920) that cannot help while fn spins.
// runWithTimeout tells the runner its budget, synchronously, right before it
// calls fn (runner._deadline = a TaskDeadline in Vitest 5,
// runner._currentTaskTimeout = ms in Vitest 3/4). The runner here calls each
// stored test (runTask) and hook inside a deadline region armed by that
// very assignment, so the synchronous part stops at the test's or hook's own
// timeout and fails with Vitest's timeout message and the loop's stack.
import '../index';
import { RegionTimeoutError } from '../shared/errors';
import { native } from '../shared/native';
import { MAX_TIMEOUT_MS } from '../shared/validate';
import { enterRegion, guardAgainstStuckTests } from '../region/interrupt';
import { compiledAs } from './hide-frames';
import { errorOfRealm, stackOf } from './stack';

type Fn = (this: unknown, ...args: unknown[]) => unknown;
interface TaskLike { name: string; suite?: TaskLike; file?: TaskLike; filepath?: string }
type Hooks = Record<string, Fn[] | undefined>;
interface TaskDeadlineLike { startTime: number; endTime: number; clear?(): void }
interface RunnerLike { _deadline?: unknown; _currentTaskTimeout?: unknown; _currentTaskStartTime?: unknown }

/** One guarded call of a stored test or hook (a record reused call after call: see acquire/release). */
interface Call {
  /** The stored function (its realm makes the error). */
  fn: Function;
  isHook: boolean;
  /** The stuck guard's label: a hook's whole, or a test's suite head (`vitest test "file > suite > `) and its name (joined natively with a quote). */
  label: string;
  name: string | undefined;
  /** The deadline the region started with: the runner's testTimeout / hookTimeout for a stored runWithTimeout, else 0. */
  armed: number;
  /** The budget runWithTimeout announced (0: none, or not yet). */
  ms: number;
  runner: RunnerLike | undefined;
  /** Vitest 5: the TaskDeadline runWithTimeout made, and the one it replaced. */
  deadline: TaskDeadlineLike | undefined;
  previous: unknown;
  /** Vitest 3/4: runWithTimeout's timer (see the safe timers below). */
  timer: unknown;
  /** What the region calls the stored function with (a hook's `this` and arguments; a test has none). */
  self: unknown;
  args: unknown[] | undefined;
  /** The call this one runs inside (rare), and whether runWithTimeout has yet to announce this one's budget. */
  outer: Call | undefined;
  pending: boolean;
}

// A test whose timeout cannot land (blocked outside JavaScript, or inside
// Node's code that a delivery waits for) never hangs the run: it fails it
// loudly, naming the test (the region's label) and where it is stuck.
guardAgainstStuckTests(1);

/** runWithTimeout announced `ms` for the call under way: arm its region's deadline. */
function announced(runner: RunnerLike, ms: number, deadline?: TaskDeadlineLike, previous?: unknown): void {
  const call = active;
  if (call === undefined || !call.pending) return;
  call.pending = false; // only the outermost runWithTimeout of the call
  if (!(ms > 0 && ms <= MAX_TIMEOUT_MS)) return;
  call.ms = ms;
  call.runner = runner;
  call.deadline = deadline;
  call.previous = previous;
  if (deadline === undefined) timerFor = call;
  // (We are inside the call's region: this thread's current one.)
  if (ms !== call.armed) native.rearmDeadline(native.currentRegion(), ms);
}

/** Vitest's timeout error (makeTimeoutError: the same message; Vitest 5's class names), with the loop's stack. */
function timedOut(call: Call, stuck: RegionTimeoutError): Error {
  const kind = call.isHook ? 'Hook' : 'Test';
  const message = `${kind} timed out in ${call.ms || call.armed}ms.\nIf this is a long-running ${kind.toLowerCase()}, pass a timeout value as the last ` +
    `argument or configure it globally with "${call.isHook ? 'hookTimeout' : 'testTimeout'}".`;
  const RealmError = errorOfRealm(call.fn);
  const err = new RealmError(message);
  if (call.deadline !== undefined) err.name = `${kind}TimeoutError`;
  err.stack = stackOf(err.name, message, String(stuck.stack), RealmError);
  // runWithTimeout never got to settle: put back what it would have.
  const runner = call.runner;
  if (runner !== undefined) {
    if (call.deadline !== undefined) {
      try { call.deadline.clear?.(); } catch { /* its timer would only reject a promise nobody holds */ }
      runner._deadline = call.previous;
    } else {
      if (call.timer !== undefined) safeTimers?.clearTimeout(call.timer);
      runner._currentTaskTimeout = undefined;
      runner._currentTaskStartTime = undefined;
    }
  }
  return err;
}

interface Deps {
  enterRegion: typeof enterRegion;
  testHead(suite: TaskLike | undefined): string;
  hookLabel(suite: TaskLike, kind: string): string;
  acquire(fn: Function, isHook: boolean, label: string, name: string | undefined, armed: number, self: unknown, args: unknown[] | undefined): Call;
  /** After the call: hands the record back (and the previous call back its place). */
  release(call: Call): void;
  isTimeout(e: unknown): e is RegionTimeoutError;
  timedOut(call: Call, stuck: RegionTimeoutError): Error;
  getFn(test: TaskLike): Fn | undefined;
  max: number;
}

/**
 * Everything on the stack between Vitest and the user's code: self-contained,
 * compiled again under a name Vitest filters from stacks (./hide-frames).
 * Nothing is made per test: the call's record is reused, the stored function
 * is called by the region as it is (a test) or through one trampoline (a
 * hook, with its `this` and arguments), and a hook's label is made once.
 */
function framesFactory(deps: Deps) {
  /** The call the region is about to make (set right before it, emptied by the trampoline). */
  let next: Call | undefined;
  function trampoline(): unknown {
    const call = next!;
    next = undefined;
    return (call.fn as Fn).apply(call.self, call.args!);
  }
  function run(call: Call): unknown {
    try {
      // (A test: no `this`, no arguments — the stored function itself.)
      const end = call.name === undefined ? undefined : '"';
      if (call.args === undefined) return deps.enterRegion(call.fn as () => unknown, 0, call.armed, call.label, call.name, end);
      next = call;
      return deps.enterRegion(trampoline, 0, call.armed, call.label, call.name, end);
    } catch (e) {
      if ((call.ms > 0 || call.armed > 0) && deps.isTimeout(e)) throw deps.timedOut(call, e);
      throw e;
    } finally {
      next = undefined;
      deps.release(call);
    }
  }
  // The deadline is armed from the start with the runner's default budget
  // when the stored function is Vitest's runWithTimeout (no timeout: the
  // function itself); runWithTimeout's announcement re-arms it if it differs.
  const budget = (fn: Fn, ms: unknown) => (fn.name === 'runWithTimeout' && typeof ms === 'number' && ms > 0 && ms <= deps.max ? ms : 0);
  function runTask(this: { config?: { testTimeout?: number } }, test: TaskLike): unknown {
    const fn = deps.getFn(test);
    if (typeof fn !== 'function') throw new Error('Test function is not found. Did you add it using `setFn`?');
    return run(deps.acquire(fn, false, deps.testHead(test.suite ?? test.file), test.name, budget(fn, this?.config?.testTimeout), undefined, undefined));
  }
  function hook(fn: Fn, kind: string, suite: TaskLike, defaultMs: unknown): Fn {
    const label = deps.hookLabel(suite, kind);
    const armed = budget(fn, defaultMs);
    function guardedHook(this: unknown, ...args: unknown[]): unknown {
      return run(deps.acquire(fn, true, label, undefined, armed, this, args));
    }
    return Object.assign(guardedHook, fn); // (hooks carry properties of their own)
  }
  return { runTask, hook };
}

/** Spare call records (a call inside a call, rare, takes a second one). */
const spares: Call[] = [];
/** The guarded call under way (the innermost), whose runWithTimeout may announce its budget. */
let active: Call | undefined;

const deps: Omit<Deps, 'getFn'> = {
  enterRegion,
  testHead: (suite) => labelsOf(suite).test,
  hookLabel: (suite, kind) => `vitest hook "${labelsOf(suite).prefix}${kind} hook"`,
  max: MAX_TIMEOUT_MS,
  acquire(fn, isHook, label, name, armed, self, args) {
    const call = spares.pop() ?? { fn, isHook, label, name, armed, ms: 0, runner: undefined, deadline: undefined, previous: undefined, timer: undefined, self, args, outer: undefined, pending: false };
    call.fn = fn;
    call.isHook = isHook;
    call.label = label;
    call.name = name;
    call.armed = armed;
    call.self = self;
    call.args = args;
    call.outer = active;
    call.pending = true;
    active = call;
    return call;
  },
  release(call) {
    active = call.outer;
    timerFor = undefined;
    call.fn = call.label = call.name = call.self = call.args = call.runner = call.deadline = call.previous = call.timer = call.outer = undefined as never;
    call.ms = 0;
    call.pending = false;
    spares.push(call);
  },
  isTimeout: (e: unknown): e is RegionTimeoutError => e instanceof RegionTimeoutError && !e.kill,
  timedOut,
};
const compiledFrames = compiledAs(framesFactory, 'thread-kill/vitest/dist/guard.js');

// Vitest 3/4: runWithTimeout's timer is local to it, and when a deadline
// stops fn inside its promise's executor, nothing settles that promise: the
// timer would later abort the test's signal and reject promises nobody holds
// (an "unhandled error" that fails the run). runWithTimeout takes its
// setTimeout from Vitest's "safe timers" (saved at worker start) when the test
// is collected: ours, installed before collection, hands the first timer made
// after the announcement to the call, whose timeout then clears it.
interface SafeTimers { setTimeout: (...args: unknown[]) => unknown; clearTimeout: (id: unknown) => void }
let safeTimers: SafeTimers | undefined;
let timerFor: Call | undefined;
function installSafeTimers(): void {
  if (safeTimers !== undefined) return;
  const g = globalThis as unknown as Record<symbol, SafeTimers | undefined>;
  const key = Object.getOwnPropertySymbols(g).find((k) => k.description === 'vitest:SAFE_TIMERS');
  const timers = key === undefined ? undefined : g[key];
  if (timers === undefined || typeof timers.setTimeout !== 'function') return;
  const real = timers.setTimeout;
  timers.setTimeout = function setTimeout(this: unknown, ...args: unknown[]): unknown {
    const id = real.apply(this, args);
    if (timerFor !== undefined) { timerFor.timer = id; timerFor = undefined; }
    return id;
  };
  safeTimers = timers;
}

const guardedHooks = new WeakSet<Function>();
const DEADLINE = Symbol('thread-kill.vitest.deadline');
const TIMEOUT = Symbol('thread-kill.vitest.timeout');
const HOOK_NAMES = ['beforeAll', 'afterAll', 'beforeEach', 'afterEach'] as const;

/** A suite's labels for the stuck guard's report ("file > suite > ", as Vitest prints names), made once per suite. */
interface Labels { prefix: string; test: string }
const suiteLabels = new WeakMap<TaskLike, Labels>();
let noSuite: Labels | undefined;
function labelsOf(suite: TaskLike | undefined): Labels {
  let labels = suite === undefined ? noSuite : suiteLabels.get(suite);
  if (labels === undefined) {
    const names: string[] = [];
    let t = suite;
    for (; t !== undefined && t.filepath === undefined; t = t.suite) names.unshift(t.name);
    const file = t?.name ?? suite?.file?.name;
    const prefix = [file, ...names].filter(Boolean).map((n) => `${n} > `).join('');
    labels = { prefix, test: `vitest test "${prefix}` };
    if (suite === undefined) noSuite = labels; else suiteLabels.set(suite, labels);
  }
  return labels;
}

type RunnerClass = new (...args: any[]) => any; // eslint-disable-line @typescript-eslint/no-explicit-any

/** Vitest's runner class `Base`, whose tests and hooks stop at their timeouts even when synchronous. */
export function threadKillRunner(Base: RunnerClass, getFn: (task: unknown) => Fn | undefined, getHooks: (suite: unknown) => Hooks | undefined): RunnerClass {
  const frames = compiledFrames({ ...deps, getFn: getFn as Deps['getFn'] });
  class ThreadKillRunner extends Base {
    onBeforeCollect(paths: unknown): unknown {
      installSafeTimers();
      return super.onBeforeCollect?.(paths);
    }

    onBeforeRunSuite(suite: TaskLike): unknown {
      const hooks = getHooks(suite);
      if (hooks !== undefined) {
        for (const kind of HOOK_NAMES) {
          const list = hooks[kind];
          if (!Array.isArray(list)) continue;
          for (let i = 0; i < list.length; i++) {
            const fn = list[i];
            if (typeof fn !== 'function' || guardedHooks.has(fn)) continue;
            const g = frames.hook(fn, kind, suite, (this as { config?: { hookTimeout?: number } }).config?.hookTimeout);
            guardedHooks.add(g);
            list[i] = g;
          }
        }
      }
      return super.onBeforeRunSuite?.(suite);
    }
  }
  Object.defineProperty(ThreadKillRunner.prototype, 'runTask', { configurable: true, writable: true, value: frames.runTask });
  // Vitest 5: runWithTimeout assigns runner._deadline = new TaskDeadline(ms) before calling fn.
  Object.defineProperty(ThreadKillRunner.prototype, '_deadline', {
    configurable: true,
    get(this: Record<symbol, unknown>) { return this[DEADLINE]; },
    set(this: Record<symbol, unknown> & RunnerLike, d: unknown) {
      const previous = this[DEADLINE];
      this[DEADLINE] = d;
      if (active?.pending === true && d !== null && typeof d === 'object') {
        const td = d as TaskDeadlineLike;
        announced(this, Math.round(td.endTime - td.startTime), td, previous); // (a difference of two clock readings)
      }
    },
  });
  // Vitest 3/4: runner._currentTaskTimeout = ms.
  Object.defineProperty(ThreadKillRunner.prototype, '_currentTaskTimeout', {
    configurable: true,
    get(this: Record<symbol, unknown>) { return this[TIMEOUT]; },
    set(this: Record<symbol, unknown> & RunnerLike, ms: unknown) {
      this[TIMEOUT] = ms;
      if (active?.pending === true && typeof ms === 'number') announced(this, ms);
    },
  });
  Object.defineProperty(ThreadKillRunner, 'name', { value: `ThreadKill${Base.name || 'Runner'}` });
  return ThreadKillRunner;
}
