// thread-kill/node-test: node:test's test()/it()/describe() and hooks, whose
// `timeout` option also stops synchronous code.
//
//   node --test --import thread-kill/node-test       // every file's 'node:test', unchanged
//   import { test, it, describe } from 'thread-kill/node-test';   // or per file, instead of 'node:test'
//
// Loaded with --import (or --require), it installs module hooks
// (./node-test-hooks.ts) that hand every later `import … from 'node:test'`
// and `require('node:test')` this module's functions instead.
//
// node:test's timeout is a timer: a test stuck in `for (;;) {}` never lets it
// fire. Here the synchronous part of every test and hook runs inside an
// interruptible() region whose deadline is its own `timeout` option; a stuck
// one fails with "test timed out after <ms>ms" and the stack of where it was
// looping, and the run goes on. Without a `timeout` nothing changes.
import './index';
import { createHook } from 'async_hooks';
import { writeSync } from 'fs';
import * as path from 'path';
import * as nodeTest from 'node:test';
import { installNodeTestHooks } from './node-test-hooks';
import { RegionTimeoutError } from './shared/errors';
import { native } from './shared/native';
import { MAX_TIMEOUT_MS } from './shared/validate';

type Fn = (...args: unknown[]) => unknown;
const runRegionDeadline = native.runRegionDeadline;

/** `--test-timeout` (node --test passes it on to each test process): node:test's default for every test. */
function defaultTimeout(): unknown {
  const argv = process.execArgv;
  for (let i = 0; i < argv.length; i++) {
    if (argv[i].startsWith('--test-timeout=')) return Number(argv[i].slice('--test-timeout='.length));
    if (argv[i] === '--test-timeout') return Number(argv[i + 1]);
  }
  return undefined;
}
const DEFAULT_TIMEOUT = defaultTimeout();

function timeoutOf(options: unknown): number {
  const own = options !== null && typeof options === 'object' ? (options as { timeout?: unknown }).timeout : undefined;
  const ms = own === undefined ? DEFAULT_TIMEOUT : own;
  return typeof ms === 'number' && ms > 0 && ms <= MAX_TIMEOUT_MS ? ms : 0;
}

// Where a test is reported: node:test takes its location from the frame
// that called test() — which would be ours. The tests (and hooks) created
// during one of our calls are caught as they are constructed (each is an
// AsyncResource of type 'Test') and given back the location of the user's
// call. Anything of another shape is left as node:test made it.
const OWN_DIR = __dirname + path.sep;
type Loc = { line: number; column: number; file: string };
let created: object[] | undefined;
let depth = 0;
const catchTests = createHook({ init(_id, type, _trigger, resource) { if (type === 'Test') created?.push(resource); } });

/** The first frame outside thread-kill and Node: the user's call. */
function userLocation(): Loc | undefined {
  const prepare = Error.prepareStackTrace;
  const limit = Error.stackTraceLimit;
  let sites: NodeJS.CallSite[] = [];
  try {
    Error.stackTraceLimit = 20;
    Error.prepareStackTrace = (_e, s) => s;
    const holder: { stack?: unknown } = {};
    Error.captureStackTrace(holder, userLocation);
    sites = holder.stack as NodeJS.CallSite[];
  } finally {
    Error.prepareStackTrace = prepare;
    Error.stackTraceLimit = limit;
  }
  for (const site of sites) {
    const file = site.getFileName() ?? site.getScriptNameOrSourceURL?.();
    if (!file || file.startsWith('node:')) continue;
    const fsPath = file.startsWith('file://') ? decodeURIComponent(new URL(file).pathname) : file;
    if (fsPath.startsWith(OWN_DIR)) continue;
    return { file, line: site.getLineNumber() ?? 0, column: site.getColumnNumber() ?? 0 };
  }
  return undefined;
}

function atUserLocation<T>(call: () => T): T {
  const loc = userLocation();
  const mine: object[] = [];
  const outer = created;
  created = mine;
  if (depth++ === 0) catchTests.enable();
  try {
    return call();
  } finally {
    if (--depth === 0) catchTests.disable();
    created = outer;
    if (loc) {
      for (const t of mine) {
        const have = (t as { loc?: Partial<Loc> }).loc;
        if (have && typeof have === 'object' && typeof have.file === 'string' && typeof have.line === 'number') {
          (t as { loc: Loc }).loc = { ...have, ...loc };
        }
      }
    }
  }
}

function timedOut(kind: string, ms: number, stuck: RegionTimeoutError): Error {
  const err = new Error(`${kind} timed out after ${ms}ms`) as Error & { code: string };
  err.code = 'ERR_THREAD_KILL_TEST_TIMEOUT';
  err.stack = `Error: ${err.message}\n${String(stuck.stack).split('\n').slice(1).join('\n')}`;
  return err;
}

/** `fn` with its synchronous part under a deadline of `ms`, keeping its arity (node:test reads it). */
function guard(fn: Fn, ms: number, kind: string): Fn {
  // A test without a timeout is still wrapped: its t.test() subtests may have one.
  if (ms === 0 && kind !== 'test') return fn;
  const call = (self: unknown, args: unknown[]): unknown => {
    // Subtests created with t.test() get the same treatment.
    const t = args[0] as { test?: Fn } | undefined;
    if (kind === 'test' && t !== null && typeof t === 'object' && typeof t.test === 'function') {
      const subtest = t.test.bind(t);
      t.test = (...a: unknown[]) => atUserLocation(() => subtest(...wrapArgs(a, 'test')));
    }
    if (ms === 0) return fn.apply(self, args);
    try {
      return runRegionDeadline(() => fn.apply(self, args), 0, ms);
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
  return (fn: unknown, options?: unknown) => atUserLocation(() => hook(typeof fn === 'function' ? guard(fn as Fn, timeoutOf(options), kind) : fn, options));
}

const real = nodeTest as unknown as Record<string, Fn>;
export const test = (...args: unknown[]): unknown => atUserLocation(() => real.test(...wrapArgs(args, 'test')));
export const it = (...args: unknown[]): unknown => atUserLocation(() => real.it(...wrapArgs(args, 'test')));
// A suite's own function is not guarded (its timeout covers its tests), but
// its location must still be the user's.
export const describe = (...args: unknown[]): unknown => atUserLocation(() => real.describe(...args));
export const suite = (...args: unknown[]): unknown => atUserLocation(() => real.suite(...args));
export const before = wrapHook(real.before, 'hook');
export const after = wrapHook(real.after, 'hook');
export const beforeEach = wrapHook(real.beforeEach, 'hook');
export const afterEach = wrapHook(real.afterEach, 'hook');
export const mock = (nodeTest as unknown as { mock: unknown }).mock;
// skip, todo, only (and expectFailure where Node has it).
for (const name of ['skip', 'todo', 'only', 'expectFailure'].filter((n) => typeof (real.test as unknown as Record<string, unknown>)[n] === 'function')) {
  const variant = name;
  for (const fn of [test, it] as Array<Fn & Record<string, Fn>>) {
    const base = fn === test ? real.test : real.it;
    if (typeof (base as unknown as Record<string, unknown>)[variant] !== 'function') continue;
    (fn as Record<string, Fn>)[name] = (...args: unknown[]) => atUserLocation(() => (base as unknown as Record<string, Fn>)[variant](...wrapArgs(args, 'test')));
  }
  for (const suiteFn of [describe, suite] as Array<Fn & Record<string, Fn>>) {
    const base = (suiteFn === describe ? real.describe : real.suite) as unknown as Record<string, Fn>;
    if (typeof base[name] === 'function') suiteFn[name] = (...args: unknown[]) => atUserLocation(() => base[name](...args));
  }
}
export default test;

installNodeTestHooks();

// Loaded too late to act — e.g. `import 'thread-kill/node-test'` in a test
// file that also imports 'node:test' (static imports are all resolved before
// any runs) — it would protect nothing, silently. So until the first test
// exists, a test node:test creates outside our functions is reported, loudly,
// once. (Not in `node --test`'s own process: it creates a test per file.)
const orchestrator = process.execArgv.includes('--test') && process.env.NODE_TEST_CONTEXT === undefined;
if (!orchestrator) {
  const firstTest = createHook({
    init(_id, type) {
      if (type !== 'Test') return;
      firstTest.disable();
      if (created !== undefined) return; // ours
      const at = userLocation();
      // Written at once: the test may loop before a queued warning would print.
      writeSync(2, `thread-kill/node-test: WARNING: a test was created with node:test's own test()${at ? ` (${at.file}:${at.line})` : ''}, `
        + 'which thread-kill did not replace, so its timeout cannot stop synchronous code. Load thread-kill/node-test before '
        + "the test files (node --test --import thread-kill/node-test), or import test() from 'thread-kill/node-test'.\n");
    },
  });
  firstTest.enable();
}
