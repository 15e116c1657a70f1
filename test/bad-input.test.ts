// Every public function fed bad input: the exact error class and code, no
// crash, nothing half-applied — and the library still works afterwards.
import * as assert from 'assert';
import { Worker } from 'worker_threads';
import * as tk from 'thread-kill';
import { stress } from 'thread-kill/stress';
import { hang } from './helpers';

type Expect =
  | { error: string; code: string }
  | { returns: unknown };

const T = (name: string) => ({ error: name, code: 'ERR_THREAD_KILL_INVALID_ARG_TYPE' });
const R = { error: 'OutOfRangeError', code: 'ERR_THREAD_KILL_OUT_OF_RANGE' };
const O = { error: 'UnknownOptionError', code: 'ERR_THREAD_KILL_UNKNOWN_OPTION' };
const C = { error: 'NotCloneableError', code: 'ERR_THREAD_KILL_NOT_CLONEABLE' };
const U = { error: 'UnknownThreadError', code: 'ERR_THREAD_KILL_UNKNOWN_THREAD' };
const M = { error: 'MainThreadError', code: 'ERR_THREAD_KILL_MAIN_THREAD' };
const TE = T('InvalidArgTypeError');

async function outcome(fn: () => unknown): Promise<{ value?: unknown; error?: any }> {
  try {
    return { value: await fn() };
  } catch (error) {
    return { error };
  }
}

describe('bad input', () => {
  it('gets a typed error with a stable code for every public function (table)', async function () {
    this.timeout(60_000);
    const busy = hang('busy-loop', { mode: 'interrupt' });
    await busy.ready;
    const b = busy.threadId;
    const token = new tk.StopToken();
    const exited = new Worker('0', { eval: true });
    await new Promise((resolve) => exited.once('exit', resolve));
    const kw = new tk.KillableWorker('setTimeout(() => {}, 60000)', { eval: true });
    let finished: tk.RegionHandle | null = null;
    tk.interruptible(() => { finished = tk.currentRegion(); });

    const table: Array<[string, () => unknown, Expect]> = [
      ["kill('1')", () => tk.kill('1' as never), TE],
      ['kill(NaN)', () => tk.kill(NaN), R],
      ['kill(-1)', () => tk.kill(-1), R],
      ['kill(1.5)', () => tk.kill(1.5), R],
      ['kill(2**53)', () => tk.kill(2 ** 53), R],
      ['kill(null)', () => tk.kill(null as never), TE],
      ['kill({})', () => tk.kill({} as never), TE],
      ["kill({ threadId: 'x' })", () => tk.kill({ threadId: 'x' } as never), TE],
      ['kill(unknown id)', () => tk.kill(987654), U],
      ['kill(main thread)', () => tk.kill(0), M],
      ['kill(region handle)', () => tk.kill({ threadId: b, regionSeq: 1 } as never), TE],
      ['kill(b, { timeoutMs: -1 })', () => tk.kill(b, { timeoutMs: -1 }), R],
      ['kill(b, { timeoutMs: Infinity })', () => tk.kill(b, { timeoutMs: Infinity }), R],
      ['kill(b, { timeoutMs: 2**53 })', () => tk.kill(b, { timeoutMs: 2 ** 53 }), R],
      ['kill(b, { retryIntervalMs: 0 })', () => tk.kill(b, { retryIntervalMs: 0 }), R],
      ['kill(b, { graceMs: NaN })', () => tk.kill(b, { graceMs: NaN }), R],
      ["kill(b, { graceMs: '5' })", () => tk.kill(b, { graceMs: '5' as never }), TE],
      ['kill(b, { bogus: 1 })', () => tk.kill(b, { bogus: 1 } as never), O],
      ["kill(b, { onUnkillable: 'explode' })", () => tk.kill(b, { onUnkillable: 'explode' as never }), TE],
      ['kill(b, { cleanup: 5 })', () => tk.kill(b, { cleanup: 5 as never }), TE],
      ['kill(b, { exitCode: 300 })', () => tk.kill(b, { exitCode: 300 }), R],
      ['kill(b, { exitCode: \'1\' })', () => tk.kill(b, { exitCode: '1' as never }), TE],
      ['kill(b, { reason: 5 KB })', () => tk.kill(b, { reason: 'x'.repeat(5000) }), R],
      ['interrupt(b, 5 KB)', () => tk.interrupt(b, 'x'.repeat(5000)), R],
      ['interruptible(async () => 1)', () => tk.interruptible(async () => 1), TE],
      ['kill(b, { reason: fn })', () => tk.kill(b, { reason: () => 1 }), C],
      ['kill(b, [])', () => tk.kill(b, [] as never), TE],
      ["kill(b, { captureStack: 'yes' })", () => tk.kill(b, { captureStack: 'yes' as never }), TE],
      ["kill(b, { unblock: 'no' })", () => tk.kill(b, { unblock: 'no' as never }), TE],
      ['kill(b, { unblock: 0 })', () => tk.kill(b, { unblock: 0 as never }), TE],
      ["kill(b, { killChildren: 'no' })", () => tk.kill(b, { killChildren: 'no' as never }), TE],
      ["exitNow(0, { killChildren: 'x' })", () => tk.exitNow(0, { killChildren: 'x' as never }), TE],
      ['exitNow(0, { bogus: 1 })', () => tk.exitNow(0, { bogus: 1 } as never), O],
      ['kill(exited Worker)', () => tk.kill(exited).then((r) => r.outcome), { returns: 'already-exited' }],
      ["interrupt('x')", () => tk.interrupt('x' as never), TE],
      ['interrupt(-1)', () => tk.interrupt(-1), R],
      ['interrupt(unknown id)', () => tk.interrupt(987654), U],
      ['interrupt(b, Symbol())', () => tk.interrupt(b, Symbol('s')), C],
      ['interrupt(b, { f: fn })', () => tk.interrupt(b, { f: () => 1 }), C],
      ["interrupt(b, r, { pending: 'yes' })", () => tk.interrupt(b, 'r', { pending: 'yes' as never }), TE],
      ['interrupt(b, r, { timeoutMs: -5 })', () => tk.interrupt(b, 'r', { untilDelivered: true, timeoutMs: -5 }), R],
      ['interrupt(b, r, { extra: 1 })', () => tk.interrupt(b, 'r', { extra: 1 } as never), O],
      ['interrupt({ regionSeq: -3 })', () => tk.interrupt({ threadId: b, regionSeq: -3 }), TE],
      ['interrupt({ regionSeq: 1.5 })', () => tk.interrupt({ threadId: b, regionSeq: 1.5 }), TE],
      ['interrupt(finished region)', () => tk.interrupt(finished!), { returns: false }],
      ['interrupt(exited Worker)', () => tk.interrupt(exited), { returns: false }],
      ['interruptible(5)', () => tk.interruptible(5 as never), TE],
      ['interruptible(undefined)', () => tk.interruptible(undefined as never), TE],
      ['interruptible(f, { restoreModuleCache: 1 })', () => tk.interruptible(() => 1, { restoreModuleCache: 1 as never }), TE],
      ['interruptible(f, { bogus })', () => tk.interruptible(() => 1, { bogus: true } as never), O],
      ["interruptible(f, 'opts')", () => tk.interruptible(() => 1, 'opts' as never), TE],
      ['threads(1)', () => (tk.threads as (...a: unknown[]) => unknown)(1), TE],
      ['new StopToken(5)', () => new tk.StopToken(5 as never), TE],
      ['new StopToken(tiny SAB)', () => new tk.StopToken(new SharedArrayBuffer(4)), TE],
      ['StopToken.from(null)', () => tk.StopToken.from(null), TE],
      ['token.wait(-1)', () => token.wait(-1), R],
      ["token.wait('5')", () => token.wait('5' as never), TE],
      ['token.sleep(NaN)', () => token.sleep(NaN), R],
      ['token.stop(fn)', () => token.stop(() => 1), C],
      ['new KillableWorker(f, null)', () => new tk.KillableWorker('0', null as never), TE],
      ["new KillableWorker(f, { execArgv: 'x' })", () => new tk.KillableWorker('0', { eval: true, execArgv: 'x' as never }), TE],
      ['killableWorker.join(-1)', () => kw.join(-1), R],
      ['stress({ rounds: 0 })', () => stress({ rounds: 0 }), R],
      ["stress({ ops: ['explode'] })", () => stress({ ops: ['explode' as never] }), TE],
      ["stress({ scenarios: ['nope'] })", () => stress({ scenarios: ['nope'] }), TE],
      ['stress({ bogus: 1 })', () => stress({ bogus: 1 } as never), O],
      ['stress({ concurrency: 1.5 })', () => stress({ concurrency: 1.5 }), R],
      ["diagnose('x')", () => tk.diagnose('x' as never), TE],
      ['diagnose(b, { sampleMs: -1 })', () => tk.diagnose(b, { sampleMs: -1 }), R],
      ['diagnose(unknown id)', () => tk.diagnose(987654), U],
      ['stop(unknown id)', () => tk.stop(987654), U],
      ['stop(b, Symbol())', () => tk.stop(b, Symbol('s')), C],
      ['exitNow(256)', () => tk.exitNow(256), R],
      ['exitNow(\'1\')', () => tk.exitNow('1' as never), TE],
      ["exitNow('1')", () => tk.exitNow('1' as never), TE],
      ["onKill('x')", () => tk.onKill('x' as never), TE],
    ];
    assert.ok(table.length >= 40);
    const problems: string[] = [];
    for (const [name, fn, expect] of table) {
      const got = await outcome(fn);
      if ('error' in expect) {
        if (!got.error) problems.push(`${name}: expected ${expect.error}, got value ${String(got.value)}`);
        else if (got.error.name !== expect.error || got.error.code !== expect.code) {
          problems.push(`${name}: expected ${expect.error}/${expect.code}, got ${got.error.name}/${got.error.code}: ${got.error.message}`);
        } else if (!(got.error instanceof Error) || !/\S/.test(got.error.message)) {
          problems.push(`${name}: not a proper Error`);
        }
      } else if (got.error) {
        problems.push(`${name}: expected ${String(expect.returns)}, threw ${got.error.message}`);
      } else {
        assert.deepStrictEqual(got.value, expect.returns, name);
      }
    }
    assert.deepStrictEqual(problems, []);

    // Nothing was half-applied: the busy target was neither killed nor
    // interrupted by any of the rejected calls, and its token is untouched.
    assert.strictEqual(tk.threadInfo(b)?.state, 'running');
    assert.strictEqual(token.stopped, false);
    assert.ok(!busy.messages.some((m) => m.kind === 'interrupted'));
    // ... and the library still works.
    const d = await tk.interrupt(b, 'after the table', { untilDelivered: true });
    assert.strictEqual(d.delivered, true);
    assert.strictEqual((await busy.next('interrupted')).reason, 'after the table');
    busy.worker.postMessage('leave');
    await busy.exited;
    assert.strictEqual((await tk.kill(kw)).outcome, 'killed');
  });

  it('error messages name the argument', async () => {
    await assert.rejects(tk.kill(1, { timeoutMs: -1 }), /options\.timeoutMs/);
    await assert.rejects(tk.kill('x' as never), /^InvalidArgTypeError: target must be a threadId, a Worker or a ThreadInfo, got string$/);
    assert.throws(() => tk.interruptible(5 as never), /fn must be a function, got number 5/);
    assert.throws(() => tk.interrupt(1, 'r', { extra: 1 } as never), /options\.extra is not a known option/);
  });
});
