// Process teardown with a stuck worker, in child processes, asserting exact
// output and exit codes.
import * as assert from 'assert';
import { ChildProcess, execFileSync, spawn } from 'child_process';
import * as fs from 'fs';
import { FIXTURE_ADDON, LIB, fixturePath, makeFifo, until } from './helpers';

/** test/fixtures/workers/teardown.ts: the workers of this file's child processes. */
const TEARDOWN = fixturePath('teardown');

interface Child {
  proc: ChildProcess;
  stdout: string[];
  stderr: string;
  /** Resolves with the first stdout line equal to `line`, and when it arrived. */
  line(line: string): Promise<number>;
  exit: Promise<{ code: number | null; at: number }>;
}

/** Runs `body` in a child process whose worker is blocked in read() on `fifo`. */
function childWithStuckWorker(fifo: string, body: string): Child {
  const source = `
    const tk = require(${JSON.stringify(LIB)});
    const w = new tk.KillableWorker(${JSON.stringify(TEARDOWN)}, { workerData: ${JSON.stringify({ case: 'native-read', fifo, addon: FIXTURE_ADDON })} });
    w.once('message', async () => {
      await require(${JSON.stringify(require.resolve('thread-kill/stress'))}).inSyscall(w.threadId, ['read']);
      ${body}
    });
  `;
  const proc = spawn(process.execPath, ['-e', source], { stdio: ['ignore', 'pipe', 'pipe'] });
  const stdout: string[] = [];
  const waiters: Array<{ line: string; resolve: (at: number) => void }> = [];
  let buf = '';
  proc.stdout!.on('data', (d: Buffer) => {
    buf += d.toString();
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      const l = buf.slice(0, i);
      buf = buf.slice(i + 1);
      stdout.push(l);
      for (const w of waiters.filter((x) => x.line === l)) w.resolve(performance.now());
    }
  });
  const child: Child = {
    proc, stdout, stderr: '',
    line: (line) => new Promise((resolve) => waiters.push({ line, resolve })),
    exit: new Promise((resolve) => proc.once('exit', (code) => resolve({ code, at: performance.now() }))),
  };
  proc.stderr!.on('data', (d: Buffer) => { child.stderr += d.toString(); });
  return child;
}

/** The syscall the process's main thread is in (Linux /proc), e.g. 202 = futex on x64. */
function mainThreadSyscall(pid: number): string {
  try {
    return fs.readFileSync(`/proc/${pid}/task/${pid}/syscall`, 'utf8').split(' ')[0];
  } catch {
    return 'gone';
  }
}

describe('addon lifetime @sanitize', () => {
  it('workers load and unload the addon while the main thread never loads it (no crash)', () => {
    // Node dlclose()s addons a worker loaded when it exits; the addon pins
    // itself because the registry and teardown callbacks live in it.
    const out = execFileSync(process.execPath, ['-e', `
      const { Worker } = require('worker_threads');
      const boot = ${JSON.stringify(require.resolve('thread-kill').replace(/index\.js$/, 'bootstrap.cjs'))};
      (async () => {
        for (let i = 0; i < 30; i++) {
          const w = new Worker("require('worker_threads').parentPort.postMessage(1)", { eval: true, execArgv: ['--require', boot] });
          const exited = new Promise((r) => w.once('exit', r));
          await new Promise((r) => w.once('message', r));
          await exited;
        }
        console.log('ok');
      })();
    `], { encoding: 'utf8' });
    assert.strictEqual(out, 'ok\n');
  });
});

describe('teardown with a worker stuck in native code @sanitize', () => {
  it('plain process.exit() hangs joining the stuck worker (until its read returns)', async () => {
    const fifo = makeFifo();
    const c = childWithStuckWorker(fifo.path, `console.log('exiting'); process.exit(3);`);
    await c.line('exiting');
    // The main thread is parked in pthread_join (a futex wait) for the worker.
    const futex = process.arch === 'arm64' ? '98' : '202';
    await until(() => mainThreadSyscall(c.proc.pid!) === futex, 'the child to block joining its worker');
    assert.strictEqual(c.proc.exitCode, null, 'still running');
    fifo.release();
    const { code } = await c.exit;
    assert.strictEqual(code, 3);
    assert.deepStrictEqual(c.stdout, ['exiting']);
  });

  it('exitNow(code) exits within 1 s anyway, after flushing output', async () => {
    const fifo = makeFifo();
    const c = childWithStuckWorker(fifo.path, `console.log('exiting'); process.stdout.write('last words\\n'); tk.exitNow(7);`);
    const t = await c.line('exiting');
    const { code, at } = await c.exit; // the stuck worker died with the process
    assert.strictEqual(code, 7);
    assert.ok(at - t < 1000, `took ${at - t} ms`);
    assert.deepStrictEqual(c.stdout, ['exiting', 'last words']);
  });

  it("kill(..., { onUnkillable: 'exit' }) exits with the given code and says why", async () => {
    const fifo = makeFifo();
    const c = childWithStuckWorker(fifo.path, `console.log('killing'); tk.kill(w, { timeoutMs: 100, onUnkillable: 'exit', exitCode: 9, unblock: false });`);
    const t = await c.line('killing');
    const { code, at } = await c.exit;
    assert.strictEqual(code, 9);
    assert.ok(at - t < 1000 + 100, `took ${at - t} ms`);
    assert.match(c.stderr, /^thread-kill: thread 1 could not be killed \(blocked in native code, in read\(\) on fd \d+ \(.*fifo\), .*\); exiting with code 9\n$/);
  });

  it('process.exit() on the main thread is not swallowed by a worker inside interruptible()', async () => {
    const proc = spawn(process.execPath, ['-e', `
      const tk = require(${JSON.stringify(LIB)});
      const w = new tk.KillableWorker(${JSON.stringify(TEARDOWN)}, { workerData: { case: 'region' } });
      w.once('message', () => { console.log('exiting'); process.exit(5); });
    `], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    proc.stdout!.on('data', (d) => { out += d; });
    const code = await new Promise((resolve) => proc.once('exit', resolve));
    assert.strictEqual(code, 5);
    assert.strictEqual(out, 'exiting\n');
  });
});
