// Test helpers. Synchronisation is always through Atomics, messages or
// events — never a fixed sleep.
//
// Worker programs live in fixture files, not template strings. Convention:
// one TypeScript file per test file (test/fixtures/workers/<name>.ts; a
// family of small programs in one file, chosen by `workerData.case`),
// compiled and type-checked by tsconfig.test.json like the tests, into
// build-test/test/fixtures/workers/<name>.js. A fixture takes every
// parameter through workerData, never by string interpolation; it imports
// thread-kill as 'thread-kill' (the package's own name, the same module the
// tests load) and post()/input() from ./common. Start one with
// fixtureWorker('<name>', workerData, Ctor?) (Ctor: Worker or
// tk.KillableWorker, both take the file path), or pass fixturePath('<name>')
// to a constructor yourself, also inside a child process's program. Only
// trivial one-liners ('for (;;) {}', '0') stay inline with `eval: true`.
import { execFileSync, spawn } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Worker } from 'worker_threads';
import * as tk from 'thread-kill';
import { HungThread, SiblingKiller, scenarioByName, startHung, StartOptions } from 'thread-kill/stress';

export const ROOT = path.resolve(__dirname, '..', '..');
export const LIB = require.resolve('thread-kill');
export const STRESS_LIB = require.resolve('thread-kill/stress');
export const FIXTURE_ADDON = path.join(ROOT, 'test', 'fixtures', 'addon', 'build', 'Release', 'hang_fixture.node');

export function hang(name: string, opts: StartOptions): HungThread {
  const s = scenarioByName(name);
  if (!s) throw new Error(`no scenario ${name}`);
  return startHung(s, opts);
}

/** Resolves on the next turn of the event loop (lets queued events run). */
export function turn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/**
 * Resolves when `predicate` holds, checking once per event-loop turn. The
 * deadline is a safety net against hanging the suite, not a synchronisation.
 */
export async function until(predicate: () => boolean, what: string, deadlineMs = 30_000): Promise<void> {
  const end = performance.now() + deadlineMs;
  while (!predicate()) {
    if (performance.now() > end) throw new Error(`gave up waiting for ${what}`);
    await turn();
  }
}

export function isLive(threadId: number): boolean {
  return tk.threads().some((t) => t.threadId === threadId);
}

/** A worker that creates the hung thread itself and kills it: the "parent worker" killer. */
export function killFromParentWorker(scenario: string, options: Record<string, unknown> = {}): Promise<{ report: tk.KillReport; targetId: number }> {
  const w = new Worker(fixturePath('parent-killer'), { workerData: { scenario, options } });
  return new Promise((resolve, reject) => {
    w.once('message', (m) => (m.live ? reject(new Error('target still registered after kill')) : resolve(m)));
    w.once('error', reject);
  });
}

export { SiblingKiller };

/**
 * A fresh FIFO; `release()` opens its write end and writes one byte, so a
 * blocked read() returns. When nobody has it open for reading any more (the
 * reader's process ended first, as an abandoned thread's process may), there
 * is nothing to release: it returns false.
 */
export function makeFifo(): { path: string; release: () => boolean } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tk-fifo-'));
  const file = path.join(dir, 'fifo');
  execFileSync('mkfifo', [file]);
  return {
    path: file,
    release() {
      let fd: number;
      try {
        fd = fs.openSync(file, fs.constants.O_WRONLY | fs.constants.O_NONBLOCK);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENXIO') return false; // no reader
        throw e;
      }
      fs.writeSync(fd, 'x');
      fs.closeSync(fd);
      return true;
    },
  };
}

/** A started worker: its messages in order, and its exit code. */
export interface WatchedWorker<W extends Worker> {
  w: W;
  /** Messages not yet taken by next(). */
  messages: any[];
  /** The next message the worker posted, in order. */
  next: () => Promise<any>;
  exited: Promise<number>;
}

/** The compiled path of fixture worker `name` (test/fixtures/workers/<name>.ts). */
export function fixturePath(name: string): string {
  return path.join(__dirname, 'fixtures', 'workers', `${name}.js`);
}

/** Watches a started worker's messages and exit. */
function watch<W extends Worker>(w: W): WatchedWorker<W> {
  const messages: any[] = [];
  const queue: Array<(m: any) => void> = [];
  w.on('message', (m) => { const q = queue.shift(); if (q) q(m); else messages.push(m); });
  const exited = new Promise<number>((resolve) => w.once('exit', resolve));
  return {
    w, messages, exited,
    next: () => (messages.length ? Promise.resolve(messages.shift()) : new Promise((resolve) => queue.push(resolve))),
  };
}

/**
 * A worker running fixture `name` (test/fixtures/workers/<name>.ts, see the
 * header) with `workerData`; `Ctor` may be tk.KillableWorker (it takes the
 * file path as it is), `options` any other Worker option.
 */
export function fixtureWorker<W extends Worker = Worker>(name: string, workerData?: unknown, Ctor: new (file: string, options: object) => W = Worker as never, options: object = {}): WatchedWorker<W> {
  return watch(new Ctor(fixturePath(name), { ...options, workerData }));
}

/** Runs fixture `name` as fixtureWorker() does; resolves with every message it posted and its exit code once it exits. */
export function fixtureMessages(name: string, workerData: unknown = {}): Promise<{ messages: any[]; code: number }> {
  const s = fixtureWorker(name, workerData);
  return new Promise((resolve, reject) => {
    s.w.once('error', reject);
    s.exited.then((code) => resolve({ messages: s.messages, code }), reject);
  });
}

export interface ChildResult { code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string; ms: number }

/**
 * Runs `source` (the child's main program; its workers are fixtures too,
 * started by fixturePath()) as a CommonJS script in a child Node process (cwd: a fresh
 * temp dir holding `files`), with `tk` = thread-kill's path. The deadline
 * only keeps a broken run from hanging the suite: the child is killed and the
 * result says so (signal SIGKILL).
 */
export function runChild(source: string, opts: { files?: Record<string, string>; args?: string[]; deadlineMs?: number; stdin?: 'pipe' | 'ignore' } = {}): Promise<ChildResult> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tk-child-'));
  for (const [name, content] of Object.entries(opts.files ?? {})) fs.writeFileSync(path.join(dir, name), content);
  const main = path.join(dir, 'main.js');
  fs.writeFileSync(main, `const TK = ${JSON.stringify(LIB)};\n${source}`);
  const { spawn } = require('child_process') as typeof import('child_process');
  const t0 = performance.now();
  const proc = spawn(process.execPath, [...(opts.args ?? []), main], { cwd: dir, stdio: [opts.stdin ?? 'ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  proc.stdout!.on('data', (d: Buffer) => { stdout += d.toString(); });
  proc.stderr!.on('data', (d: Buffer) => { stderr += d.toString(); });
  const deadline = setTimeout(() => proc.kill('SIGKILL'), opts.deadlineMs ?? 60_000);
  return new Promise((resolve) => {
    proc.once('close', (code, signal) => {
      clearTimeout(deadline);
      resolve({ code, signal, stdout, stderr, ms: performance.now() - t0 });
    });
  });
}

export interface NodeRun { code: number | null; stdout: string; stderr: string }

/**
 * Runs `node <args>` in `cwd` and collects its output. The deadline only
 * keeps a run that hangs (exactly the bug some tests are after) from hanging
 * the suite: the child is killed and its code is null.
 */
export function runNode(args: string[], cwd: string, opts: { env?: Record<string, string>; deadlineMs?: number } = {}): Promise<NodeRun> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, args, { cwd, env: { ...process.env, ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    p.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    const deadline = setTimeout(() => p.kill('SIGKILL'), opts.deadlineMs ?? 90_000);
    p.once('close', (code) => { clearTimeout(deadline); resolve({ code, stdout, stderr }); });
  });
}
