// thread-kill/node-test: node:test's test()/it()/describe() and hooks, whose
// `timeout` option also stops synchronous code.
//
//   import { test, it, describe } from 'thread-kill/node-test';   // instead of 'node:test'
//   import test from 'thread-kill/node-test';                       // also node:test's test()
//
// node:test's timeout is a timer: a test stuck in `for (;;) {}` never lets it
// fire. Here the synchronous part of every test and hook runs inside an
// interruptible() region whose deadline is the timeout node:test gives it: its
// own `timeout` option, else the one it inherits — from the describe()/suite()
// or test it was made in (node:test copies a parent's timeout to its
// children), else the runner's --test-timeout (per test since Node 24; Node 20
// and 22 apply it to each file as a whole, in the runner's process). A stuck
// one fails with "test timed out after <ms>ms" and the stack of where it was
// looping, and the run goes on. Without any timeout nothing changes. The module
// is shaped and typed as node:test's: test() itself, carrying the others.
import './index';
import { AsyncLocalStorage } from 'node:async_hooks';
import nodeTest = require('node:test');
import { RegionTimeoutError } from './shared/errors';
import { enterRegion, guardAgainstStuckTests } from './region/interrupt';
import { MAX_TIMEOUT_MS } from './shared/validate';

type Fn = (...args: unknown[]) => unknown;

/** A `timeout` option as node:test reads it: undefined (and Infinity) = inherit the parent's. */
function ownTimeout(options: unknown): number | undefined {
  const ms = options !== null && typeof options === 'object' ? (options as { timeout?: unknown }).timeout : undefined;
  return typeof ms === 'number' && ms !== Infinity ? ms : undefined;
}

/** A deadline for a timeout: 0 = none (0 itself, and anything node:test refuses). */
function deadlineOf(ms: number): number {
  return ms > 0 && ms <= MAX_TIMEOUT_MS ? ms : 0;
}

/**
 * The runner's --test-timeout (the last one given), which node:test makes
 * every test's default from Node 24 on, with or without --test (its runner
 * passes it to each file's process in execArgv). Before, it bounds whole files
 * in the runner's process, not tests.
 */
function runnerTimeout(): number {
  if (Number(process.versions.node.split('.')[0]) < 24) return 0;
  let ms = 0;
  const argv = process.execArgv;
  for (let i = 0; i < argv.length; i++) {
    const m = /^--test-timeout(?:=(.*))?$/.exec(argv[i]);
    if (m) ms = Number(m[1] ?? argv[++i]);
  }
  return Number.isFinite(ms) ? deadlineOf(ms) : 0;
}

const RUNNER_TIMEOUT = runnerTimeout();

// The timeout of the suite or test whose function is running now (its
// synchronous part): what a test, suite or hook made there inherits. At the top
// level (undefined) tests and suites get the runner's, hooks none: node:test
// never times the root.
let enclosing: number | undefined;
// Whether that synchronous part runs under a deadline.
let inRegion = false;
// An async suite function's timeout, for what it makes after an `await` (as
// node:test finds its parent: by async context). Made on the first one only:
// an AsyncLocalStorage slows every promise of the thread on Node 20 and 22.
let asyncSuites: AsyncLocalStorage<number> | undefined;
const AsyncFunction = Object.getPrototypeOf(async () => {}) as object;

function current(): number | undefined {
  return enclosing ?? asyncSuites?.getStore();
}

function within<T>(ms: number, region: boolean, fn: () => T): T {
  const outer = enclosing;
  const outerRegion = inRegion;
  enclosing = ms;
  inRegion ||= region;
  try {
    return fn();
  } finally {
    enclosing = outer;
    inRegion = outerRegion;
  }
}

function timedOut(kind: string, ms: number, stuck: RegionTimeoutError): Error {
  const err = new Error(`${kind} timed out after ${ms}ms`) as Error & { code: string };
  err.code = 'ERR_THREAD_KILL_TEST_TIMEOUT';
  err.stack = `Error: ${err.message}\n${String(stuck.stack).split('\n').slice(1).join('\n')}`;
  return err;
}

type Context = Record<string, unknown> & { test: Fn };
const CONTEXT_HOOKS = ['before', 'after', 'beforeEach', 'afterEach'];

/** A test's context: its t.test() subtests and t.beforeEach()… hooks inherit its timeout. */
function wrapContext(t: Context, ms: number): void {
  const subtest = t.test.bind(t);
  t.test = (...a: unknown[]) => subtest(...wrapArgs(a, 'test', ms));
  for (const name of CONTEXT_HOOKS) {
    if (typeof t[name] === 'function') t[name] = wrapHook((t[name] as Fn).bind(t), 'hook', ms);
  }
}

/** The test as the stuck-test guard names it. */
function labelOf(kind: string, t: unknown): string {
  const c = t as { fullName?: string; name?: string } | undefined;
  return `node:test ${kind} "${c?.fullName ?? c?.name ?? '?'}"`;
}

/**
 * `fn` with its synchronous part under a deadline of `ms` (0: none), and what
 * it makes inheriting `ms`; keeping its arity (node:test reads it).
 */
function guard(fn: Fn, ms: number, kind: string): Fn {
  // A suite's function only defines its tests (node:test times the suite's run,
  // not its definition): it just passes its timeout on.
  const deadline = kind === 'suite' ? 0 : deadlineOf(ms);
  const run = (self: unknown, args: unknown[]): unknown => {
    const t = args[0] as Context | undefined;
    if (kind === 'test' && t !== null && typeof t === 'object' && typeof t.test === 'function') wrapContext(t, ms);
    if (kind === 'suite' && Object.getPrototypeOf(fn) === AsyncFunction) {
      asyncSuites ??= new AsyncLocalStorage<number>();
      return asyncSuites.run(ms, () => within(ms, false, () => fn.apply(self, args)));
    }
    if (deadline === 0) return within(ms, false, () => fn.apply(self, args));
    try {
      // within() outside the region: a cut skips every `finally` inside it.
      return within(ms, true, () => enterRegion(() => fn.apply(self, args), 0, deadline, labelOf(kind, t)));
    } catch (e) {
      if (e instanceof RegionTimeoutError && !e.kill) throw timedOut(kind, deadline, e);
      throw e;
    }
  };
  const call = (self: unknown, args: unknown[]): unknown => {
    if (!inRegion) return run(self, args);
    // Started inside another one's deadline (a subtest made in its parent's
    // synchronous part): node:test's own frames (async functions, try blocks)
    // would lie between the two regions. The parent's deadline, due first,
    // waits for them to return, and a nested region's later deadline never
    // fires meanwhile: a stuck subtest would hang the run. So its function runs
    // once that part has returned or awaits, outside the parent's region.
    const done = args.length >= 2 ? args[args.length - 1] : undefined;
    if (typeof done === 'function') {
      queueMicrotask(() => {
        try {
          run(self, args);
        } catch (e) {
          done(e);
        }
      });
      return undefined;
    }
    return Promise.resolve().then(() => run(self, args));
  };
  return fn.length >= 2
    ? function guardedWithDone(this: unknown, t: unknown, done: unknown) { return call(this, [t, done]); }
    : function guarded(this: unknown, ...args: unknown[]) { return call(this, args); };
}

/** node:test's (name?, options?, fn?) with fn guarded by its timeout: its own, else `inherited`. */
function wrapArgs(args: unknown[], kind: string, inherited = current() ?? RUNNER_TIMEOUT): unknown[] {
  const out = [...args];
  const fnAt = out.findIndex((a) => typeof a === 'function');
  if (fnAt < 0) return out;
  const options = out.slice(0, fnAt).find((a) => a !== null && typeof a === 'object');
  out[fnAt] = guard(out[fnAt] as Fn, ownTimeout(options) ?? inherited, kind);
  return out;
}

/** A hook: (fn, options?); it inherits the timeout of the suite or test it is made in. */
function wrapHook(hook: Fn, kind: string, inherited?: number): Fn {
  return (fn: unknown, options?: unknown) =>
    hook(typeof fn === 'function' ? guard(fn as Fn, ownTimeout(options) ?? inherited ?? current() ?? 0, kind) : fn, options);
}

/** test()/it()/describe()/suite() and their .skip/.todo/.only, wrapped. */
function wrapRunnable<T>(base: Fn, kind: string): T {
  const wrapped = (...args: unknown[]): unknown => base(...wrapArgs(args, kind));
  for (const variant of ['skip', 'todo', 'only']) {
    const fn = (base as unknown as Record<string, Fn>)[variant];
    if (typeof fn === 'function') (wrapped as unknown as Record<string, Fn>)[variant] = (...args: unknown[]) => fn(...wrapArgs(args, kind));
  }
  return wrapped as T;
}

// A test whose timeout cannot land never hangs the run: it fails it loudly.
guardAgainstStuckTests(1);

const test = wrapRunnable<typeof nodeTest.test>(nodeTest.test as unknown as Fn, 'test');
const it = wrapRunnable<typeof nodeTest.it>(nodeTest.it as unknown as Fn, 'test');
// A suite's function runs when describe() is called: what it makes inherits its timeout.
const describe = wrapRunnable<typeof nodeTest.describe>(nodeTest.describe as unknown as Fn, 'suite');
const suite = wrapRunnable<typeof nodeTest.suite>(nodeTest.suite as unknown as Fn, 'suite');
const before = wrapHook(nodeTest.before as Fn, 'hook') as typeof nodeTest.before;
const after = wrapHook(nodeTest.after as Fn, 'hook') as typeof nodeTest.after;
const beforeEach = wrapHook(nodeTest.beforeEach as Fn, 'hook') as typeof nodeTest.beforeEach;
const afterEach = wrapHook(nodeTest.afterEach as Fn, 'hook') as typeof nodeTest.afterEach;
const mock = nodeTest.mock;
const { skip, todo, only } = test;
const run = nodeTest.run;

// The module is test() itself carrying the others, as node:test's own is: so
// require() and ESM's default import (which is module.exports) give test(),
// and so do compiled `import test from` (`default`, `__esModule`).
const api = Object.assign(test, { test, it, describe, suite, before, after, beforeEach, afterEach, mock, default: test });
Object.defineProperty(api, '__esModule', { value: true });
// And the rest of node:test as it is (run(), and what newer Nodes add).
for (const [name, value] of Object.entries(nodeTest)) if (!(name in api)) Object.assign(api, { [name]: value });
export = api;
// Never runs: Node reads a CommonJS module's export names (ESM's named
// imports) from its source, and finds them here (as in esbuild's output).
0 && (module.exports = { test, it, describe, suite, before, after, beforeEach, afterEach, mock, skip, todo, only, run });
