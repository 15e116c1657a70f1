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
import { native } from './shared/native';
import { MAX_TIMEOUT_MS } from './shared/validate';
import { watchdogFor } from './runner/watchdog';
import { compiledAs } from './runner/hide-frames';
import { stackOf } from './runner/stack';

const runRegionDeadline = native.runRegionDeadline;
const watchdog = watchdogFor('thread-kill/jest');

type Fn = (this: unknown, ...args: unknown[]) => unknown;
interface Block { name: string; parent?: Block }
interface TestOrHook { fn?: Fn; timeout?: number; name?: string; parent?: Block; type?: string }
interface CircusEvent { name: string; test?: TestOrHook; hook?: TestOrHook }
interface CircusState { testTimeout: number }
/** What thread-kill needs of a Jest environment: `global` (the test realm). */
export interface JestEnvironmentLike { global: typeof globalThis; handleTestEvent?(event: unknown, state: unknown): unknown }
type EnvironmentClass = abstract new (...args: any[]) => JestEnvironmentLike; // eslint-disable-line @typescript-eslint/no-explicit-any

const GUARDED = Symbol('thread-kill.jest.guarded');

/** The full name Jest reports ("describe › test"), for the watchdog's report. */
function fullName(t: TestOrHook, isHook: boolean, file: string): string {
  const names: string[] = [isHook ? `${t.type ?? 'hook'} hook` : String(t.name)];
  for (let b = t.parent; b !== undefined && b.parent !== undefined; b = b.parent) names.unshift(b.name);
  return `${file} › ${names.join(' › ')}`;
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

interface GuardCall {
  /** The budget in ms, read at each call (a retry, jest.setTimeout may change it). */
  timeout(): number;
  /** Called once the loop was stopped at its deadline: the error to fail with. */
  timedOut(ms: number, stuck: RegionTimeoutError): Error;
  /** For the watchdog. */
  name(): string;
}
interface GuardDeps {
  runRegionDeadline: typeof runRegionDeadline;
  isTimeout(e: unknown): e is RegionTimeoutError;
  arm(name: string, ms: number): number;
  disarm(token: number): void;
  max: number;
}

/**
 * `fn` whose synchronous part runs under a deadline, keeping its arity (Jest
 * passes done by it). Self-contained: compiled again under a name Jest
 * filters from stacks (./runner/hide-frames).
 */
function guardFactory(deps: GuardDeps) {
  return function guard(fn: Fn, c: GuardCall): Fn {
    function guarded(this: unknown, ...args: unknown[]): unknown {
      const ms = c.timeout();
      if (!(ms > 0 && ms <= deps.max)) return fn.apply(this, args);
      const token = deps.arm(c.name(), ms);
      const self = this;
      try {
        return deps.runRegionDeadline(() => fn.apply(self, args), 0, ms);
      } catch (e) {
        if (deps.isTimeout(e)) throw c.timedOut(ms, e);
        throw e;
      } finally {
        deps.disarm(token);
      }
    }
    Object.defineProperty(guarded, 'length', { value: fn.length });
    return guarded;
  };
}

const guardFn = compiledAs(guardFactory, 'thread-kill/jest/build/guard.js')({
  runRegionDeadline,
  isTimeout: (e: unknown): e is RegionTimeoutError => e instanceof RegionTimeoutError && !e.kill,
  arm: (name, ms) => watchdog.arm(name, ms),
  disarm: (token) => watchdog.disarm(token),
  max: MAX_TIMEOUT_MS,
});

/** Puts t.fn's synchronous part under a deadline of its timeout. Once per test or hook. */
function guard(t: TestOrHook, state: CircusState, isHook: boolean, realm: typeof globalThis, file: string): void {
  const fn = t.fn;
  if (typeof fn !== 'function' || (fn as { [GUARDED]?: boolean })[GUARDED] || isGenerator(fn)) return;
  const withDone = fn.length > 0;
  let name: string | undefined;
  const guarded = guardFn(fn, {
    timeout: () => t.timeout || state.testTimeout,
    timedOut: (ms, stuck) => timeoutError(realm, ms, isHook, withDone, stuck),
    name: () => (name ??= fullName(t, isHook, file)),
  });
  (guarded as { [GUARDED]?: boolean })[GUARDED] = true;
  t.fn = guarded;
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
        if (e.name === 'test_fn_start' && e.test !== undefined) guard(e.test, state as CircusState, false, this.global, file);
        else if (e.name === 'hook_start' && e.hook !== undefined) guard(e.hook, state as CircusState, true, this.global, file);
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
