// thread-kill/jest: Jest timeouts that stop synchronous code.
//
//   // jest.config.js
//   testEnvironment: 'thread-kill/jest',          // jest-environment-node, plus this
//   // any other environment (jsdom, …): a file of yours, set as testEnvironment
//   module.exports = require('thread-kill/jest').withThreadKill(require('jest-environment-jsdom').TestEnvironment);
//
// Jest's timeout is a timer, and a timer never fires while a test spins
// synchronously: `for (;;) {}` hangs the test file for good. The environment
// sees every test and hook just before Jest calls it (the test_fn_start and
// hook_start events) and runs its synchronous part in a deadline region
// whose budget is that test's or hook's own timeout (test(name, fn, ms),
// jest.setTimeout, testTimeout). A stuck one fails with Jest's own "Exceeded
// timeout of N ms …" and the stack of where it was looping; the file goes on.
// Asynchronous parts keep Jest's timer. test.concurrent tests are not covered:
// Jest starts them all before any test_fn_start, outside any one test's turn.
import './index';
import * as path from 'path';
import { InvalidArgTypeError, RegionTimeoutError } from './shared/errors';
import { MAX_TIMEOUT_MS } from './shared/validate';
import { enterRegion, guardAgainstStuckTests } from './region/interrupt';
import { compiledAs } from './runner/hide-frames';
import { stackOf } from './runner/stack';

// A test whose timeout cannot land (blocked outside JavaScript, or inside
// Node's code that a delivery waits for) never hangs the run: it fails it
// loudly, naming the test (the region's label) and where it is stuck.
guardAgainstStuckTests(1);

type Fn = (this: unknown, ...args: unknown[]) => unknown;
interface Block { name: string; parent?: Block }
interface TestOrHook { fn?: Fn; timeout?: number; name?: string; parent?: Block; type?: string }
interface CircusEvent { name: string; test?: TestOrHook; hook?: TestOrHook }
interface CircusState { testTimeout: number }
/** What thread-kill needs of a Jest environment: `global` (the test realm). */
export interface JestEnvironmentLike { global: typeof globalThis; handleTestEvent?(event: unknown, state: unknown): unknown }
type EnvironmentClass = abstract new (...args: any[]) => JestEnvironmentLike; // eslint-disable-line @typescript-eslint/no-explicit-any

const LABELS = Symbol('thread-kill.jest.labels');
/** A describe block's labels for the stuck guard's report, made once per block (a block belongs to one file). */
interface Labels { prefix: string; test: string; hooks: Map<string | undefined, string> }
const ROOT_LABELS = new Map<string, Labels>();
function labelsOf(block: (Block & { [LABELS]?: Labels }) | undefined, file: string): Labels {
  let labels = block?.[LABELS] ?? (block === undefined ? ROOT_LABELS.get(file) : undefined);
  if (labels === undefined) {
    const names: string[] = [];
    for (let b = block; b !== undefined && b.parent !== undefined; b = b.parent) names.unshift(b.name);
    const prefix = `${[file, ...names].join(' › ')} › `;
    labels = { prefix, test: `jest test "${prefix}`, hooks: new Map() };
    if (block !== undefined) block[LABELS] = labels; else ROOT_LABELS.set(file, labels);
  }
  return labels;
}

/** `jest hook "file › describe › beforeEach hook"`, made once per block and type. */
function hookLabelOf(t: TestOrHook, file: string): string {
  const labels = labelsOf(t.parent, file);
  let label = labels.hooks.get(t.type);
  if (label === undefined) labels.hooks.set(t.type, label = `jest hook "${labels.prefix}${t.type ?? ''} hook"`);
  return label;
}

/** Jest's own timeout error (jest-circus _makeTimeoutMessage), made in the test's realm, with the stack of where it was stuck. */
function timeoutError(realm: typeof globalThis, ms: number, isHook: boolean, withDone: boolean, stuck: RegionTimeoutError): Error {
  const message = `Exceeded timeout of ${ms} ms for a ${isHook ? 'hook' : 'test'}${withDone ? ' while waiting for `done()` to be called' : ''}.\n` +
    'Add a timeout value to this test to increase the timeout, if this is a long-running test. See https://jestjs.io/docs/api#testname-fn-timeout.';
  const err = new (realm.Error ?? Error)(message);
  err.stack = stackOf('Error', message, String(stuck.stack));
  return err;
}

function isGenerator(fn: Fn): boolean {
  const name = (fn as { constructor?: { name?: string } }).constructor?.name;
  return name === 'GeneratorFunction' || name === 'AsyncGeneratorFunction';
}

/** The test or hook Jest is about to call (set at its test_fn_start / hook_start; Jest then calls it at once). */
interface Current {
  t: TestOrHook;
  fn: Fn;
  isHook: boolean;
  state: CircusState;
  realm: typeof globalThis;
  file: string;
}
interface GuardDeps {
  current(): Current;
  enterRegion: typeof enterRegion;
  isTimeout(e: unknown): e is RegionTimeoutError;
  /** A test's label is its block's head, its name and a quote (joined natively); a hook's is whole. */
  testHead(c: Current): string;
  hookLabel(c: Current): string;
  timedOut(c: Current, ms: number, stuck: RegionTimeoutError): Error;
  max: number;
}

/**
 * What t.fn becomes: one pair of functions for every test and hook (nothing
 * made per test), which call the current one's own function with its
 * synchronous part under a deadline of its timeout, read at each call (a
 * retry, jest.setTimeout). Two arities: Jest passes done by `fn.length`.
 * Self-contained: compiled again under a name Jest filters from stacks
 * (./runner/hide-frames).
 */
function guardFactory(deps: GuardDeps) {
  // What the region calls: the call's function with its `this` and
  // arguments, handed over in these slots (the region calls it at once, and
  // it empties them before calling: a nested call fills them anew) — no
  // closure per call.
  let nextFn: Fn | undefined;
  let nextSelf: unknown;
  let nextArgs: unknown[] | undefined;
  function trampoline(): unknown {
    const fn = nextFn!;
    const self = nextSelf;
    const args = nextArgs;
    nextFn = nextSelf = nextArgs = undefined;
    return args === undefined ? fn.call(self) : fn.apply(self, args);
  }
  function call(self: unknown, args: unknown[] | undefined): unknown {
    const c = deps.current();
    const fn = c.fn;
    const ms = c.t.timeout || c.state.testTimeout;
    if (!(ms > 0 && ms <= deps.max)) return args === undefined ? fn.call(self) : fn.apply(self, args);
    nextFn = fn;
    nextSelf = self;
    nextArgs = args;
    try {
      return c.isHook ? deps.enterRegion(trampoline, 0, ms, deps.hookLabel(c))
        : deps.enterRegion(trampoline, 0, ms, deps.testHead(c), String(c.t.name), '"');
    } catch (e) {
      if (deps.isTimeout(e)) throw deps.timedOut(c, ms, e);
      throw e;
    } finally {
      nextFn = nextSelf = nextArgs = undefined; // (the region may not have called it)
    }
  }
  return {
    guarded: function guarded(this: unknown) { return call(this, undefined); },
    guardedWithDone: function guardedWithDone(this: unknown, done: unknown) { return call(this, [done]); },
  };
}

const current: Current = { t: {}, fn: () => undefined, isHook: false, state: { testTimeout: 0 }, realm: globalThis, file: '' };

const { guarded, guardedWithDone } = compiledAs(guardFactory, 'thread-kill/jest/build/guard.js')({
  current: () => current,
  enterRegion,
  isTimeout: (e: unknown): e is RegionTimeoutError => e instanceof RegionTimeoutError && !e.kill,
  testHead: (c) => labelsOf(c.t.parent, c.file).test,
  hookLabel: (c) => hookLabelOf(c.t, c.file),
  timedOut: (c, ms, stuck) => timeoutError(c.realm, ms, c.isHook, c.fn.length > 0, stuck),
  max: MAX_TIMEOUT_MS,
});

/**
 * Jest is about to call t.fn: make it the guard, for this test or hook,
 * until its call is over (unguard). One record, reused: Jest calls one test
 * or hook at a time, right after this event.
 */
function guard(t: TestOrHook, state: CircusState, isHook: boolean, realm: typeof globalThis, file: string): void {
  unguard(current.t); // (a start with no end event: a test whose beforeEach failed is not called)
  const fn = t.fn;
  if (typeof fn !== 'function' || isGenerator(fn)) return;
  t.fn = (fn.length > 0 ? guardedWithDone : guarded) as Fn;
  current.t = t;
  current.fn = fn;
  current.isHook = isHook;
  current.state = state;
  current.realm = realm;
  current.file = file;
}

/** The call of t is over: its own function back in place (a retry guards it again). */
function unguard(t: TestOrHook | undefined): void {
  if (t === current.t && (t.fn === guarded || t.fn === guardedWithDone)) t.fn = current.fn;
}

/**
 * `Environment` (a Jest environment class, e.g. jest-environment-jsdom's
 * TestEnvironment) whose tests' and hooks' timeouts also stop synchronous code.
 */
export function withThreadKill<C extends EnvironmentClass>(Environment: C): C {
  if (typeof Environment !== 'function') {
    throw new InvalidArgTypeError('Environment must be a Jest test environment class (e.g. require("jest-environment-jsdom").TestEnvironment)');
  }
  abstract class ThreadKillEnvironment extends (Environment as EnvironmentClass) {
    constructor(...args: any[]) { // eslint-disable-line @typescript-eslint/no-explicit-any
      super(...args);
      const context = args[1] as { testPath?: string } | undefined;
      const file = typeof context?.testPath === 'string' ? path.relative(process.cwd(), context.testPath) : 'test file';
      // The environment's own handler, prototype method or instance field, still runs after ours.
      const own = this.handleTestEvent;
      this.handleTestEvent = (event: unknown, state: unknown): unknown => {
        const e = event as CircusEvent;
        switch (e.name) {
          case 'test_fn_start': if (e.test !== undefined) guard(e.test, state as CircusState, false, this.global, file); break;
          case 'hook_start': if (e.hook !== undefined) guard(e.hook, state as CircusState, true, this.global, file); break;
          case 'test_fn_success': case 'test_fn_failure': unguard(e.test); break;
          case 'hook_success': case 'hook_failure': unguard(e.hook); break;
          default:
        }
        return own?.call(this, event, state);
      };
    }
  }
  Object.defineProperty(ThreadKillEnvironment, 'name', { value: `ThreadKill${Environment.name || 'Environment'}` });
  return ThreadKillEnvironment as unknown as C;
}

/** jest-environment-node as the project resolves it (the Jest that runs the tests), else ours. */
function loadNodeEnvironment(): EnvironmentClass {
  const from = [process.cwd(), path.dirname(require.main?.filename ?? process.cwd()), __dirname];
  for (const dir of from) {
    try {
      const mod = require(require.resolve('jest-environment-node', { paths: [dir] })) as Record<string, unknown>;
      return (mod.TestEnvironment ?? mod.default ?? mod) as EnvironmentClass;
    } catch { /* next */ }
  }
  throw new Error('thread-kill/jest: jest-environment-node is not installed (it comes with jest; require.resolve("jest-environment-node") failed)');
}

/** jest-environment-node with thread-kill's timeouts: `testEnvironment: 'thread-kill/jest'`. */
const ThreadKillNodeEnvironment = withThreadKill(loadNodeEnvironment());
export default ThreadKillNodeEnvironment;
export const TestEnvironment = ThreadKillNodeEnvironment;
