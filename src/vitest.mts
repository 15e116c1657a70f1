// thread-kill/vitest: Vitest timeouts that stop synchronous code.
//
//   // vitest.config.ts
//   export default defineConfig({ test: { runner: 'thread-kill/vitest' } });
//
// A test or hook stuck in synchronous code (`for (;;) {}`) fails at its own
// timeout (testTimeout, hookTimeout, test(name, fn, ms)) with Vitest's timeout
// error and the stack of where it was looping; the file and the run go on,
// and the worker answers Vitest's RPC again. Pools forks, threads, vmThreads.
// The class extended is the Vitest's that runs the tests: 'vitest/runners'
// (Vitest 3, 4.0) or the TestRunner export (Vitest 4.1, 5).
import { threadKillRunner } from './runner/vitest-runner.js';

type Fn = (...args: unknown[]) => unknown;
type Mod = Record<string, unknown>;

async function importOr(specifier: string): Promise<Mod | undefined> {
  try {
    return (await import(specifier)) as Mod;
  } catch {
    return undefined;
  }
}

async function loadVitest(): Promise<{ Base: new (...args: any[]) => any; getFn: Fn; getHooks: Fn }> { // eslint-disable-line @typescript-eslint/no-explicit-any
  // Vitest 4.1+ and 5: TestRunner, with the stored functions as its statics.
  const vitest = await importOr('vitest');
  const TestRunner = vitest?.TestRunner as (Fn & { getTestFn?: Fn; getSuiteHooks?: Fn }) | undefined;
  if (typeof TestRunner === 'function' && typeof TestRunner.getTestFn === 'function' && typeof TestRunner.getSuiteHooks === 'function') {
    return { Base: TestRunner as any, getFn: TestRunner.getTestFn, getHooks: TestRunner.getSuiteHooks }; // eslint-disable-line @typescript-eslint/no-explicit-any
  }
  // Vitest 3 and 4.0.
  const runners = await importOr('vitest/runners');
  const suite = await importOr('vitest/suite');
  if (typeof runners?.VitestTestRunner === 'function' && typeof suite?.getFn === 'function' && typeof suite?.getHooks === 'function') {
    return { Base: runners.VitestTestRunner as any, getFn: suite.getFn as Fn, getHooks: suite.getHooks as Fn }; // eslint-disable-line @typescript-eslint/no-explicit-any
  }
  throw new Error('thread-kill/vitest: this Vitest is not supported (it needs vitest\'s TestRunner with getTestFn/getSuiteHooks, ' +
    'or vitest/runners and vitest/suite: Vitest 3 to 5)');
}

// @ts-ignore -- top-level await: this file is ESM (.mts)
const { Base, getFn, getHooks } = await loadVitest();
const ThreadKillRunner = threadKillRunner(Base, getFn as never, getHooks as never);
export default ThreadKillRunner;
