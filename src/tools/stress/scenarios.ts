// Built-in hang scenarios (the rows of the hang table in docs/DESIGN.md that need no compiler at
// run time). Each is a worker script body that calls `ready()` right before
// it hangs; the harness waits on that flag with Atomics, never with sleeps.
//
// Every script runs after PRELUDE, which provides:
//   tk        the thread-kill module
//   ready()   marks "I am about to hang" (Atomics flag + notify)
//   region(f) f() inside interruptible() in 'interrupt' mode, plain f() otherwise;
//             reports an InterruptedError to the parent and stays healthy
//   token     this thread's stop token ('stop' mode)
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

export type Op = 'kill' | 'interrupt' | 'stop';

export interface Scenario {
  name: string;
  /** Row of the hang-scenario table in docs/DESIGN.md. */
  row: number;
  description: string;
  /** Operations this scenario supports. */
  ops: readonly Op[];
  /**
   * What an interrupt does here: 'interrupted' (InterruptedError at the region
   * boundary) or 'no-region' (nothing to interrupt: interrupt() returns false).
   */
  interrupt?: 'interrupted' | 'no-region';
  /** Files the script needs, created on first use. */
  files?: () => Record<string, string>;
  /** The hang. Runs inside region() (interrupt mode) unless it handles modes itself. */
  body: string;
}

/** Runs first in every scenario worker. */
export const PRELUDE = `
// The FIFO the harness made for this round (it removes it afterwards), or one of our own.
function ownFifo() {
  if (workerData.fifo !== undefined) return workerData.fifo;
  const fs = require('fs'), path = require('path');
  const dir = fs.mkdtempSync(path.join(require('os').tmpdir(), 'tk-fifo-'));
  try {
    require('child_process').execFileSync('mkfifo', [path.join(dir, 'fifo')], { stdio: 'ignore' });
  } catch (e) {
    fs.rmSync(dir, { recursive: true, force: true });
    throw e;
  }
  return path.join(dir, 'fifo');
}
const { workerData, parentPort, Worker, threadId } = require('worker_threads');
const tk = require(workerData.lib);
const flag = new Int32Array(workerData.ready);
function ready() { Atomics.store(flag, 0, 1); Atomics.notify(flag, 0); }
const mode = workerData.mode;
const token = mode === 'stop' ? tk.threadStopToken() : undefined;
function report(msg) { if (parentPort) parentPort.postMessage(msg); }
function region(f) {
  if (mode !== 'interrupt') return f();
  try {
    return tk.interruptible(f);
  } catch (e) {
    report({ kind: 'interrupted', code: e.code, reason: e.reason, by: e.by, stack: e.interruptedStack });
    // Stay healthy and prove it: answer pings until told to leave.
    parentPort.on('message', (m) => { if (m === 'ping') report({ kind: 'pong' }); if (m === 'leave') parentPort.close(); });
  }
}
if (workerData.childKiller) {
  // Row "killed from a child": a child of this thread waits until we hang, then kills us.
  const go = new Int32Array(workerData.go);
  new Worker(\`
    const { workerData } = require('worker_threads');
    const tk = require(workerData.lib);
    const go = new Int32Array(workerData.go);
    Atomics.wait(go, 0, 0);
    // When the operation started, for the harness's latency figure.
    new Float64Array(workerData.go, 8, 1)[0] = performance.timeOrigin + performance.now();
    if (workerData.op === 'interrupt') tk.interrupt(workerData.target, 'from child', { untilDelivered: true, timeoutMs: 10000 });
    else if (workerData.op === 'stop') tk.stop(workerData.target, 'from child');
    else tk.kill(workerData.target);
  \`, { eval: true, workerData: { lib: workerData.lib, go: workerData.go, target: threadId, op: workerData.childKiller } });
  const realReady = ready;
  ready = function () { realReady(); Atomics.store(go, 0, 1); Atomics.notify(go, 0); };
}
`;

let fileDir: string | undefined;
/** A private temp directory for scenario files (created once per process). */
export function scenarioDir(): string {
  if (fileDir === undefined) fileDir = fs.mkdtempSync(path.join(os.tmpdir(), 'thread-kill-'));
  return fileDir;
}

// (func (loop (br 0))) exported as "loop".
const WASM_LOOP = [0, 97, 115, 109, 1, 0, 0, 0, 1, 4, 1, 96, 0, 0, 3, 2, 1, 0, 7, 8, 1, 4, 108, 111, 111, 112, 0, 0,
  10, 9, 1, 7, 0, 3, 64, 12, 0, 11, 11];

export const SCENARIOS: readonly Scenario[] = [
  {
    name: 'busy-loop', row: 1, description: 'for(;;){}', ops: ['kill', 'interrupt', 'stop'], interrupt: 'interrupted',
    body: `
      if (mode === 'stop') { ready(); while (!token.stopped) {} report({ kind: 'stopped', reason: token.reason }); }
      else region(() => { ready(); for (;;) {} });`,
  },
  {
    name: 'try-finally', row: 2, description: 'for(;;){} inside try/catch/finally', ops: ['kill', 'interrupt'], interrupt: 'interrupted',
    body: `region(() => { try { ready(); for (;;) {} } catch (e) { report({ kind: 'inner-catch' }); } finally { report({ kind: 'inner-finally' }); } });`,
  },
  {
    name: 'microtask-loop', row: 3, description: 'Promise.resolve().then(f) recursion', ops: ['kill'],
    body: `function f() { Promise.resolve().then(f); } ready(); f();`,
  },
  {
    name: 'atomics-wait', row: 4, description: 'Atomics.wait forever', ops: ['kill', 'interrupt', 'stop'], interrupt: 'interrupted',
    body: `
      if (mode === 'stop') { ready(); token.wait(2 ** 31 - 1); report({ kind: 'stopped', reason: token.reason }); }
      else region(() => { const a = new Int32Array(new SharedArrayBuffer(4)); ready(); Atomics.wait(a, 0, 0); });`,
  },
  {
    name: 'idle-loop', row: 5, description: 'setInterval with a long period', ops: ['kill', 'interrupt', 'stop'], interrupt: 'no-region',
    body: `
      const t = setInterval(() => {}, 2 ** 30);
      if (mode === 'stop') token.signal.addEventListener('abort', () => { clearInterval(t); report({ kind: 'stopped', reason: token.reason }); });
      if (mode === 'interrupt') parentPort.on('message', (m) => { if (m === 'ping') report({ kind: 'pong' }); if (m === 'leave') { clearInterval(t); parentPort.close(); } });
      ready();`,
  },
  {
    name: 'never-settles', row: 6, description: 'a promise that never settles, with a ref\'d timer', ops: ['kill'],
    body: `setTimeout(() => {}, 2 ** 30); (async () => { ready(); await new Promise(() => {}); })();`,
  },
  {
    name: 'regex', row: 7, description: 'catastrophic backtracking /^(a+)+$/', ops: ['kill', 'interrupt'], interrupt: 'interrupted',
    body: `region(() => { const s = 'a'.repeat(40) + 'b'; ready(); /^(a+)+$/.test(s); });`,
  },
  {
    name: 'wasm-loop', row: 8, description: 'a WebAssembly infinite loop', ops: ['kill', 'interrupt'], interrupt: 'interrupted',
    body: `const m = new WebAssembly.Instance(new WebAssembly.Module(new Uint8Array(${JSON.stringify(WASM_LOOP)})));
      region(() => { ready(); m.exports.loop(); });`,
  },
  {
    name: 'recursion', row: 9, description: 'deep recursion that catches RangeError and recurses again', ops: ['kill', 'interrupt'], interrupt: 'interrupted',
    body: `function r() { try { r(); } catch (e) { r(); } } region(() => { ready(); r(); });`,
  },
  {
    // Not interruptible: a delivery waits for Node's loader (its try/finally
    // keeps requireDepth and the stat cache right), which never returns here.
    name: 'require-hang', row: 10, description: 'require() of a module whose top level never ends (an interrupt waits for the loader: kill only)', ops: ['kill'],
    files: () => ({ 'hang-top-level.js': 'globalThis.__tkReady(); for (;;) {}\n' }),
    body: `globalThis.__tkReady = ready; region(() => { require(workerData.files['hang-top-level.js']); });`,
  },
  {
    name: 'import-hang', row: 11, description: 'dynamic import() of an ES module whose top level never ends', ops: ['kill'],
    files: () => ({ 'hang-top-level.mjs': 'globalThis.__tkReady(); for (;;) {}\n' }),
    body: `globalThis.__tkReady = ready; import(require('url').pathToFileURL(workerData.files['hang-top-level.mjs']).href);`,
  },
  {
    name: 'nested-worker', row: 16, description: 'a worker that itself has a busy child worker', ops: ['kill'],
    body: `
      const childFlag = new Int32Array(new SharedArrayBuffer(4));
      const child = new tk.KillableWorker('const f = new Int32Array(require("worker_threads").workerData); Atomics.store(f, 0, 1); Atomics.notify(f, 0); for (;;) {}',
        { eval: true, workerData: childFlag.buffer });
      report({ kind: 'child', threadId: child.threadId });
      Atomics.wait(childFlag, 0, 0);
      ready(); for (;;) {}`,
  },
];

/** Scenarios that block in native code; used by tests and `--slow` stress runs. */
export const NATIVE_SCENARIOS: readonly Scenario[] = [
  {
    name: 'exec-sync', row: 12, description: "child_process.execSync('sleep 3') (killed: its child is killed)", ops: ['kill', 'interrupt'], interrupt: 'interrupted',
    body: `region(() => { ready(); require('child_process').execSync('sleep ' + (workerData.sleepSeconds || 3)); });`,
  },
  {
    name: 'fifo-read', row: 13, description: 'fs.readSync on a FIFO with no writer (killed by the unblock rung)', ops: ['kill', 'interrupt'], interrupt: 'interrupted',
    body: `const fs = require('fs');
      // workerData.fifo (tests, the harness) or a FIFO of our own, unlinked once open.
      const own = workerData.fifo === undefined;
      const file = ownFifo();
      const fd = fs.openSync(file, 'r+');
      if (own) fs.rmSync(require('path').dirname(file), { recursive: true });
      // workerData.trickle (stress interrupt rounds): the harness writes a byte now
      // and then, and each read that returns goes back to JS, where the pending
      // interrupt lands at the loop's own check (again() is a function of the
      // scenario's: its entry is one; an interpreted loop's back-edge checks only
      // when its budget runs out, and the rule does not cut Node's calls at their
      // entry); the next read blocks again.
      const again = () => workerData.trickle;
      const one = Buffer.alloc(1);
      region(() => { ready(); do fs.readSync(fd, one); while (again()); });`,
  },
  {
    name: 'stdin-read', row: 13, description: 'fs.readSync(0) with stdin a silent pipe (killed by the unblock rung)', ops: ['kill'],
    body: `const fs = require('fs');
      const st = fs.fstatSync(0);
      if (!st.isFIFO() && !st.isSocket() && !st.isCharacterDevice()) throw new Error('stdin-read needs stdin to be a pipe, socket or terminal that stays silent');
      ready(); fs.readSync(0, Buffer.alloc(1));`,
  },
  {
    name: 'fifo-open', row: 13, description: 'fs.openSync of a FIFO without a writer (killed by the unblock rung: it opens the write end)', ops: ['kill'],
    body: `const file = ownFifo(); report({ kind: 'fifo', path: file }); ready(); require('fs').openSync(file, 'r');`,
  },
];

/**
 * Scenarios that no signal can end: kill() reports them unkillable (with
 * this blockedIn) until the call returns. Each is bounded: `release` (run
 * in the thread that started it) lets the call return, so the thread then dies.
 */
export interface UnkillableScenario extends Scenario {
  blockedIn: 'syscall' | 'native-cpu';
  /** For 'syscall': the call it is in. */
  syscall?: readonly string[];
}

export const UNKILLABLE_SCENARIOS: readonly UnkillableScenario[] = [
  {
    name: 'pipe-write', row: 13, description: 'fs.writeSync to a full pipe (write() is retried)', ops: ['kill'],
    blockedIn: 'syscall', syscall: ['write'],
    body: `const fs = require('fs'); const file = ownFifo(); const fd = fs.openSync(file, 'r+'); report({ kind: 'fifo', path: file });
      ready(); fs.writeSync(fd, Buffer.alloc(1 << 20));`,
  },
  {
    name: 'pbkdf2', row: 14, description: 'crypto.pbkdf2Sync for about 2 s, less with a short --timeout (CPU-bound native code)', ops: ['kill'],
    blockedIn: 'native-cpu',
    body: `const crypto = require('crypto');
      // Calibrated here, so the call is bounded on any machine (and long enough to be judged).
      const t0 = performance.now(); crypto.pbkdf2Sync('x', 'y', 50000, 64, 'sha512');
      const n = Math.max(50000, Math.round(50000 * (workerData.nativeMs || 2000) / Math.max(1, performance.now() - t0)));
      ready(); crypto.pbkdf2Sync('x', 'y', n, 64, 'sha512');`,
  },
];

/**
 * Ends the call an unkillable scenario is stuck in (from the thread that
 * started it): opens the FIFO's write end (fifo-open) or drains it
 * (pipe-write) until \`done\` resolves or \`stopAt\` (performance.now()) passes;
 * pbkdf2 ends by itself. Never waits past \`stopAt\`: it then rejects.
 */
export async function releaseUnkillable(name: string, fifoPath: string | undefined, done: Promise<unknown>, stopAt = Infinity): Promise<void> {
  let finished = false;
  void done.then(() => { finished = true; });
  const until = async (): Promise<void> => {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      if (stopAt !== Infinity) timer = setTimeout(() => reject(new Error(`${name}: the call did not return after its release`)), Math.max(0, stopAt - performance.now()));
    });
    try { await Promise.race([done, late]); } finally { clearTimeout(timer); }
  };
  if (fifoPath !== undefined && name === 'fifo-open') {
    try {
      fs.closeSync(fs.openSync(fifoPath, fs.constants.O_WRONLY | fs.constants.O_NONBLOCK));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENXIO') throw e; // no reader: the thread is not in open() any more
    }
  } else if (fifoPath !== undefined && name === 'pipe-write') {
    const fd = fs.openSync(fifoPath, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
    try {
      const buf = Buffer.alloc(1 << 16);
      while (!finished) {
        if (performance.now() > stopAt) throw new Error(`${name}: the call did not return after its release`);
        try { fs.readSync(fd, buf); } catch (e) { if ((e as NodeJS.ErrnoException).code !== 'EAGAIN') throw e; }
        await new Promise((resolve) => setImmediate(resolve));
      }
    } finally {
      fs.closeSync(fd);
    }
  }
  await until();
  // A FIFO the scenario made itself (no workerData.fifo) lives in its own tk-fifo-* directory.
  if (fifoPath !== undefined) fs.rmSync(path.dirname(fifoPath), { recursive: true, force: true });
}

/** Scenarios that need a FIFO (made with mkfifo(1): Node has no mkfifo()). */
export const FIFO_SCENARIOS: readonly string[] = ['fifo-read', 'fifo-open', 'pipe-write'];

/** Whether `mkfifo` is on PATH. */
export function haveMkfifo(): boolean {
  return (process.env.PATH ?? '').split(path.delimiter).filter(Boolean).some((dir) => {
    try { fs.accessSync(path.join(dir, 'mkfifo'), fs.constants.X_OK); return true; } catch { return false; }
  });
}

/** A FIFO in a private temp directory, for one round; remove() deletes both. */
export function makeFifo(): { path: string; remove: () => void } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tk-fifo-'));
  const file = path.join(dir, 'fifo');
  const remove = (): void => fs.rmSync(dir, { recursive: true, force: true });
  try {
    execFileSync('mkfifo', [file], { stdio: 'ignore' });
  } catch (e) {
    remove();
    throw e;
  }
  return { path: file, remove };
}

export function scenarioByName(name: string): Scenario | undefined {
  return [...SCENARIOS, ...NATIVE_SCENARIOS, ...UNKILLABLE_SCENARIOS].find((s) => s.name === name);
}

/** Writes a scenario's files (once) and returns name -> absolute path. */
export function scenarioFiles(s: Scenario): Record<string, string> {
  const out: Record<string, string> = {};
  if (!s.files) return out;
  for (const [name, content] of Object.entries(s.files())) {
    const file = path.join(scenarioDir(), name);
    if (!fs.existsSync(file)) fs.writeFileSync(file, content);
    out[name] = file;
  }
  return out;
}

export function scenarioSource(s: Scenario): string {
  return `${PRELUDE}\n${s.body}\n`;
}
