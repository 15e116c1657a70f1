// Machinery shared by the stress command and the test suite: start a hung
// worker and know (through Atomics) that it is in its hang; perform an
// operation on it from the main thread, a sibling worker or its own child.
import { Worker, workerData } from 'worker_threads';
import { KillableWorker } from '../../killable-worker';
import { kill } from '../../kill/kill';
import { sampleProc } from '../../kill/diagnose';
import { threadInfo } from '../../registry/targets';
import { native } from '../../shared/native';
import { Op, Scenario, scenarioFiles, scenarioSource } from './scenarios';

/** Where a kill comes from: the main thread, the hung thread's parent, a sibling worker, or its own child. */
export type Killer = 'main' | 'parent' | 'sibling' | 'child';

const LIB = require.resolve('../../index');

export interface HungThread {
  worker: Worker;
  threadId: number;
  /** Resolves when the script called ready(), i.e. it is about to hang. */
  ready: Promise<void>;
  /** Resolves with the exit code. */
  exited: Promise<number>;
  /** Whether its 'exit' event has been seen. */
  hasExited(): boolean;
  /** Messages the script reported, in order. */
  messages: Array<Record<string, unknown>>;
  /** When the hung thread's child started its operation (epoch ms), or 0. */
  childOpStartedAt(): number;
  /** Resolves with the next message of `kind`. */
  next(kind: string): Promise<Record<string, unknown>>;
}

export interface StartOptions {
  mode: Op;
  /** A child of the hung thread performs `mode` on it once it hangs. */
  childKiller?: boolean;
  /** Start with a plain Worker instead of KillableWorker. */
  plain?: boolean;
  /** Extra workerData for the script. */
  data?: Record<string, unknown>;
  /** A user script file instead of a built-in scenario (stress --script). */
  script?: string;
}

/** Resolves when word `index` of `flag` is no longer `value` (default: word 0 becomes non-zero). */
export async function waitFlag(flag: Int32Array, index = 0, value = 0): Promise<void> {
  while (Atomics.load(flag, index) === value) {
    const res = Atomics.waitAsync(flag, index, value);
    if (res.async) await res.value;
  }
}

/**
 * Resolves once the thread is blocked in one of `syscalls` (Linux /proc),
 * checking once per event-loop turn: how a native hang is known to have begun.
 */
export async function inSyscall(threadId: number, syscalls: readonly string[], deadlineMs = 30_000): Promise<void> {
  const end = performance.now() + deadlineMs;
  for (;;) {
    const info = threadInfo(threadId);
    if (info === undefined) throw new Error(`thread ${threadId} exited before blocking in ${syscalls.join('/')}`);
    const name = sampleProc(info.osTid).syscall?.name;
    if (name !== undefined && syscalls.includes(name)) return;
    if (performance.now() > end) throw new Error(`thread ${threadId} did not block in ${syscalls.join('/')} (last: ${name})`);
    await new Promise((resolve) => setImmediate(resolve));
  }
}

/**
 * Resolves once the thread stopped servicing interrupts: a heartbeat ping
 * (answered within microseconds by a thread running JS or idling in its
 * loop) stayed unanswered for `quietMs`. How a CPU-bound native hang
 * (pbkdf2Sync) is known to have begun, /proc not telling it from JS.
 */
export async function inNativeCode(threadId: number, quietMs = 50, deadlineMs = 30_000): Promise<void> {
  const end = performance.now() + deadlineMs;
  for (;;) {
    const before = native.heartbeat(threadId);
    if (!before[0]) throw new Error(`thread ${threadId} exited before entering native code`);
    native.ping(threadId);
    const sent = performance.now();
    while (native.heartbeat(threadId)[1] === before[1]) {
      if (performance.now() - sent >= quietMs) return;
      if (performance.now() > end) throw new Error(`thread ${threadId} kept servicing interrupts`);
      await new Promise((resolve) => setImmediate(resolve));
    }
  }
}

export function startHung(scenario: Scenario | undefined, opts: StartOptions): HungThread {
  const flag = new Int32Array(new SharedArrayBuffer(8));
  const go = new SharedArrayBuffer(16);
  const workerData = {
    lib: LIB, ready: flag.buffer, mode: opts.mode, go,
    childKiller: opts.childKiller ? opts.mode : undefined,
    files: scenario ? scenarioFiles(scenario) : {},
    ...opts.data,
  };
  const Ctor = opts.plain ? Worker : KillableWorker;
  const worker = opts.script !== undefined
    ? new Ctor(opts.script, { workerData, stdout: false })
    : new Ctor(scenarioSource(scenario!), { eval: true, workerData });
  const messages: Array<Record<string, unknown>> = [];
  const waiters: Array<{ kind: string; resolve: (m: Record<string, unknown>) => void }> = [];
  worker.on('message', (m: Record<string, unknown>) => {
    messages.push(m);
    const i = waiters.findIndex((w) => w.kind === m.kind);
    if (i >= 0) waiters.splice(i, 1)[0].resolve(m);
  });
  let hasExited = false;
  const exited = new Promise<number>((resolve) => worker.once('exit', (code) => { hasExited = true; resolve(code); }));
  worker.on('error', (err) => messages.push({ kind: 'error', message: String(err) }));
  const ready = waitFlag(flag);
  const threadId = worker.threadId;
  return {
    worker, threadId, ready, exited, messages, hasExited: () => hasExited,
    childOpStartedAt: () => new Float64Array(go, 8, 1)[0],
    next(kind) {
      const have = messages.find((m) => m.kind === kind);
      if (have) return Promise.resolve(have);
      return new Promise((resolve) => waiters.push({ kind, resolve }));
    },
  };
}

const SIBLING_SOURCE = `
const { parentPort, workerData } = require('worker_threads');
const tk = require(workerData.lib);
parentPort.postMessage({ id: 0, ok: true });
parentPort.on('message', async ({ id, op, target, options }) => {
  try {
    let result;
    if (op === 'kill') result = await tk.kill(target, options);
    else if (op === 'interrupt') result = await tk.interrupt(target, options && options.reason, { untilDelivered: true, timeoutMs: (options && options.timeoutMs) || 10000 });
    else if (op === 'stop') result = tk.stop(target, options && options.reason);
    else if (op === 'threads') result = tk.threads();
    else if (op === 'interrupt-storm') {
      // Fire options.count interrupts as fast as possible; returns how many hit a region.
      result = 0;
      for (let i = 0; i < options.count; i++) if (tk.interrupt(target, i)) result++;
    }
    parentPort.postMessage({ id, ok: true, result });
  } catch (e) {
    parentPort.postMessage({ id, ok: false, error: { name: e.name, code: e.code, message: e.message } });
  }
});
`;

/** A worker that performs operations on other threads on request (the "sibling" killer). */
export class SiblingKiller {
  readonly worker: Worker;
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  /** Resolves once the sibling has loaded thread-kill (and so is registered). */
  readonly ready: Promise<void>;

  constructor() {
    this.worker = new Worker(SIBLING_SOURCE, { eval: true, workerData: { lib: LIB } });
    this.ready = new Promise((resolve) => this.pending.set(0, { resolve: () => resolve(), reject: () => undefined }));
    this.worker.on('message', ({ id, ok, result, error }) => {
      const p = this.pending.get(id);
      if (!p) return;
      this.pending.delete(id);
      if (this.pending.size === 0) this.worker.unref();
      if (ok) p.resolve(result);
      else p.reject(Object.assign(new Error(error.message), error));
    });
    this.worker.unref();
  }

  get threadId(): number { return this.worker.threadId; }

  run<T = unknown>(op: Op | 'threads' | 'interrupt-storm', target: number, options?: Record<string, unknown>): Promise<T> {
    const id = this.nextId++;
    this.worker.ref();
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.worker.postMessage({ id, op, target, options });
    });
  }

  /** Ends the sibling with kill() (never a terminate() that could wait for good); resolves false if it had to be abandoned. */
  async close(timeoutMs = 10_000): Promise<boolean> {
    const r = await kill(this.worker, { timeoutMs, graceMs: 0, onUnkillable: 'abandon' });
    return r.outcome !== 'unkillable';
  }
}

/**
 * For `thread-kill stress --script FILE`: call right before your script
 * hangs, so the harness knows the hang has begun. A no-op elsewhere.
 */
export function signalReady(): void {
  const buf = (workerData as { ready?: unknown } | null)?.ready;
  if (!(buf instanceof SharedArrayBuffer)) return;
  const flag = new Int32Array(buf);
  Atomics.store(flag, 0, 1);
  Atomics.notify(flag, 0);
}
