// The package as users load it: require() and import, one registration, no
// other side effects; and the whole API working inside a worker.
import * as assert from 'assert';
import { execFileSync } from 'child_process';
import { Worker } from 'worker_threads';
import { ROOT, fixturePath } from './helpers';

function node(args: string[]): string {
  return execFileSync(process.execPath, args, { cwd: ROOT, encoding: 'utf8' }).trim();
}

describe('entry points', () => {
  it("require('thread-kill') works and only registers the thread", () => {
    const out = node(['-e', `
      const before = process.getActiveResourcesInfo().join();
      const tk = require('thread-kill');
      const after = process.getActiveResourcesInfo().join();
      console.log(JSON.stringify({ same: before === after, threads: tk.threads().length, kill: typeof tk.kill }));
    `]);
    assert.deepStrictEqual(JSON.parse(out), { same: true, threads: 1, kill: 'function' });
  });

  it("import ... from 'thread-kill' works and shares the CommonJS instance", () => {
    const out = node(['--input-type=module', '-e', `
      import { kill, interrupt, interruptible, threads, KillableWorker, InterruptedError } from 'thread-kill';
      import tk from 'thread-kill';
      import { createRequire } from 'module';
      const cjs = createRequire(import.meta.url)('thread-kill');
      const { stress } = await import('thread-kill/stress');
      console.log(JSON.stringify([typeof kill, typeof interrupt, typeof interruptible, typeof KillableWorker,
        cjs.InterruptedError === InterruptedError, tk.kill === kill, threads().length, typeof stress]));
    `]);
    assert.deepStrictEqual(JSON.parse(out), ['function', 'function', 'function', 'function', true, true, 1, 'function']);
  });

  it('the ESM entry exports exactly what the CommonJS entry exports', async () => {
    const cjs = Object.keys(require('thread-kill')).filter((k) => k !== '__esModule').sort();
    const esm = Object.keys(await import('thread-kill')).filter((k) => k !== 'default' && k !== '__esModule' && k !== 'module.exports').sort();
    assert.deepStrictEqual(esm, cjs);
  });
});

describe('inside a worker', () => {
  it('kill, interrupt, interruptible, StopToken and threads all work from a worker', async () => {
    const w = new Worker(fixturePath('entry'));
    const exited = new Promise((resolve) => w.once('exit', resolve)); // before it can happen
    const out = await new Promise((resolve) => w.once('message', resolve));
    assert.deepStrictEqual(out, { kill: 'killed', interrupt: 'self', token: [true, 'x'], threads: true, main: 'ERR_THREAD_KILL_MAIN_THREAD' });
    await exited;
  });
});
