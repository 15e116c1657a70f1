// thread-kill/node-test: node:test's test()/it()/describe() and hooks, whose
// `timeout` option also stops synchronous code.
//
//   import { test, it, describe } from 'thread-kill/node-test';   // instead of 'node:test'
//
// node:test's timeout is a timer: a test stuck in `for (;;) {}` never lets it
// fire. Here the synchronous part of every test and hook runs inside an
// interruptible() region whose deadline is its own `timeout` option; a stuck
// one fails with "test timed out after <ms>ms" and the stack of where it was
// looping, and the run goes on. Without a `timeout` nothing changes.
import './index';
import * as nodeTest from 'node:test';
import { RegionTimeoutError } from './shared/errors';
import { enterRegion, guardAgainstStuckTests } from './region/interrupt';
import { MAX_TIMEOUT_MS } from './shared/validate';

type Fn = (...args: unknown[]) => unknown;

function timeoutOf(options: unknown): number {
  const ms = options !== null && typeof options === 'object' ? (options as { timeout?: unknown }).timeout : undefined;
  return typeof ms === 'number' && ms > 0 && ms <= MAX_TIMEOUT_MS ? ms : 0;
}

function timedOut(kind: string, ms: number, stuck: RegionTimeoutError): Error {
  const err = new Error(`${kind} timed out after ${ms}ms`) as Error & { code: string };
  err.code = 'ERR_THREAD_KILL_TEST_TIMEOUT';
  err.stack = `Error: ${err.message}\n${String(stuck.stack).split('\n').slice(1).join('\n')}`;
  return err;
}

/** `fn` with its synchronous part under a deadline of `ms`, keeping its arity (node:test reads it). */
function guard(fn: Fn, ms: number, kind: string): Fn {
  if (ms === 0) return fn;
  const call = (self: unknown, args: unknown[]): unknown => {
    // Subtests created with t.test() get the same treatment.
    const t = args[0] as { test?: Fn } | undefined;
    if (kind === 'test' && t !== null && typeof t === 'object' && typeof t.test === 'function') {
      const subtest = t.test.bind(t);
      t.test = (...a: unknown[]) => subtest(...wrapArgs(a, 'test'));
    }
    try {
      return enterRegion(() => fn.apply(self, args), 0, ms, `node:test ${kind} "${(t as { fullName?: string; name?: string } | undefined)?.fullName ?? (t as { name?: string } | undefined)?.name ?? '?'}"`);
    } catch (e) {
      if (e instanceof RegionTimeoutError && !e.kill) throw timedOut(kind, ms, e);
      throw e;
    }
  };
  return fn.length >= 2
    ? function guardedWithDone(this: unknown, t: unknown, done: unknown) { return call(this, [t, done]); }
    : function guarded(this: unknown, ...args: unknown[]) { return call(this, args); };
}

/** node:test's (name?, options?, fn?) with fn guarded by options.timeout. */
function wrapArgs(args: unknown[], kind: string): unknown[] {
  const out = [...args];
  const fnAt = out.findIndex((a) => typeof a === 'function');
  if (fnAt < 0) return out;
  const options = out.slice(0, fnAt).find((a) => a !== null && typeof a === 'object');
  out[fnAt] = guard(out[fnAt] as Fn, timeoutOf(options), kind);
  return out;
}

/** A hook: (fn, options?). */
function wrapHook(hook: Fn, kind: string): Fn {
  return (fn: unknown, options?: unknown) => hook(typeof fn === 'function' ? guard(fn as Fn, timeoutOf(options), kind) : fn, options);
}

// A test whose timeout cannot land never hangs the run: it fails it loudly.
guardAgainstStuckTests(1);

const real = nodeTest as unknown as Record<string, Fn>;
export const test = (...args: unknown[]): unknown => real.test(...wrapArgs(args, 'test'));
export const it = (...args: unknown[]): unknown => real.it(...wrapArgs(args, 'test'));
export const describe = real.describe;
export const suite = real.suite;
export const before = wrapHook(real.before, 'hook');
export const after = wrapHook(real.after, 'hook');
export const beforeEach = wrapHook(real.beforeEach, 'hook');
export const afterEach = wrapHook(real.afterEach, 'hook');
export const mock = (nodeTest as unknown as { mock: unknown }).mock;
for (const [name, variant] of [['skip', 'skip'], ['todo', 'todo'], ['only', 'only']] as const) {
  for (const fn of [test, it] as Array<Fn & Record<string, Fn>>) {
    const base = fn === test ? real.test : real.it;
    (fn as Record<string, Fn>)[name] = (...args: unknown[]) => (base as unknown as Record<string, Fn>)[variant](...wrapArgs(args, 'test'));
  }
}
export default test;
