// thread-kill/mocha: mocha timeouts that work for synchronous code.
//
//   mocha --require thread-kill/mocha        (or "require": ["thread-kill/mocha"] in .mocharc)
//
// Mocha's timeouts are timers, and a timer never fires while a test spins
// synchronously: `for (;;) {}` in a test hangs the whole run. This plugin
// runs the synchronous part of every test and hook inside an interruptible()
// region whose deadline is that runnable's own timeout (`this.timeout()`,
// --timeout; 0 = none). A stuck runnable fails with mocha's usual timeout
// error, whose stack shows where it was looping, and the run goes on.
// Asynchronous parts keep mocha's own timer. Loaded in the main process and
// in every --parallel worker (mocha passes --require on to them).
import './index';
import * as path from 'path';
import { RegionTimeoutError } from './shared/errors';
import { native } from './shared/native';
import { enterRegion, guardAgainstStuckTests } from './region/interrupt';
import { MAX_TIMEOUT_MS } from './shared/validate';


interface MochaRunnable {
  fn?: ((...args: unknown[]) => unknown) | undefined;
  timeout(): number;
  timeout(ms: number | string): unknown;
  _timeoutError(ms: number): Error;
  run(fn: (err?: unknown) => void): unknown;
}

/** The mocha that runs the tests: the one the working directory resolves (the CLI's), else ours. */
function loadRunnable(): { prototype: MochaRunnable } {
  const candidates = [process.cwd(), path.dirname(require.main?.filename ?? process.cwd()), __dirname];
  for (const from of candidates) {
    try {
      return require(require.resolve('mocha/lib/runnable', { paths: [from] })) as { prototype: MochaRunnable };
    } catch { /* next */ }
  }
  throw new Error('thread-kill/mocha: mocha is not installed (require.resolve("mocha") failed)');
}

const PATCHED = Symbol.for('thread-kill.mocha.patched');
const Runnable = loadRunnable();
const proto = Runnable.prototype as MochaRunnable & { [PATCHED]?: boolean };

/** The runnable whose synchronous part runs right now, and its region. */
let active: { runnable: MochaRunnable; seq: number } | undefined;

/** How the stuck guard names a runnable: its kind and full title. */
function labelOf(runnable: MochaRunnable): string {
  const r = runnable as MochaRunnable & { type?: string; fullTitle?: () => string };
  return `mocha ${r.type === 'hook' ? 'hook' : 'test'} "${typeof r.fullTitle === 'function' ? r.fullTitle() : '?'}"`;
}

/** Mocha's own timeout error for `runnable`, with the stack of where the code was stuck. */
function timeoutError(runnable: MochaRunnable, ms: number, stuck: RegionTimeoutError): Error {
  const err = runnable._timeoutError(ms);
  const frames = String(stuck.stack).split('\n').slice(1).join('\n');
  err.stack = `${err.name}: ${err.message}\n${frames}`;
  return err;
}

/**
 * Installs the plugin on mocha's Runnable (once; loading the module does
 * it). Returns a function that puts mocha's own methods back — for
 * side-by-side measurements in one process.
 */
export function install(): () => void {
  const run = proto.run;
  const timeout = proto.timeout;
  patch(run, timeout);
  return () => {
    proto.run = run;
    proto.timeout = timeout;
    proto[PATCHED] = false;
  };
}

function patch(run: MochaRunnable['run'], timeout: MochaRunnable['timeout']): void {
  proto[PATCHED] = true;
  proto.run = function runWithDeadline(this: MochaRunnable, done: (err?: unknown) => void): unknown {
    const original = this.fn;
    const ms = this.timeout();
    if (typeof original !== 'function') return run.call(this, done);
    const runnable = this;
    // Mocha calls this.fn synchronously inside run(); it is put back right after.
    this.fn = function guarded(this: unknown, done?: unknown): unknown {
      const outer = active;
      const self = this;
      const withDone = arguments.length > 0;
      try {
        // Always a deadline region (with none armed for a timeout of 0), so
        // that this.timeout(ms) inside the body can arm or move it.
        return enterRegion(() => {
          active = { runnable, seq: native.currentRegion() };
          return withDone ? original.call(self, done) : original.call(self);
        }, 0, ms > 0 && ms <= MAX_TIMEOUT_MS ? ms : 0, labelOf(runnable));
      } catch (e) {
        if (e instanceof RegionTimeoutError && !e.kill) throw timeoutError(runnable, runnable.timeout() || ms, e);
        throw e;
      } finally {
        active = outer;
      }
    };
    try {
      return run.call(this, done);
    } finally {
      this.fn = original;
    }
  };
  // this.timeout(ms) inside a test or hook moves its deadline too.
  const original = timeout as (this: MochaRunnable, ms?: number | string) => unknown;
  proto.timeout = function timeoutWithDeadline(this: MochaRunnable, ms?: number | string): unknown {
    if (arguments.length === 0) return original.call(this);
    const result = original.call(this, ms);
    if (active !== undefined && active.runnable === this) native.rearmDeadline(active.seq, original.call(this) as number);
    return result;
  } as MochaRunnable['timeout'];
}

// A test whose timeout cannot land never hangs the run: it fails it loudly.
guardAgainstStuckTests(1);

/** Puts mocha's own methods back (the plugin installs itself when loaded). */
export const uninstall: () => void = proto[PATCHED] ? () => undefined : install();
