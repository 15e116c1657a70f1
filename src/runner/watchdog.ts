// The runner side of "a runner never hangs silently". A test's timeout is
// an interrupt, and an interrupt cannot land while its thread is blocked in a
// system call or in Node code that a delivery must wait for. Each thread
// that runs tests gets one watchdog thread (started at its first test with a
// timeout, unref'd): the test thread writes "test <name> armed with <ms>" to
// shared memory (a few stores, no message, no syscall), and the watchdog
// polls it. A test still armed timeout + grace after the watchdog first saw
// it is reported on stderr — its name, and where its thread is stuck
// (diagnose()) — and the process exits non-zero (exitNow(): a stuck thread
// cannot be joined). The runner's parent, if any, reports the lost worker.
import * as path from 'path';
import { Worker, threadId } from 'worker_threads';
import { OutOfRangeError } from '../shared/errors';

/**
 * Shared layout: Int32 [0] armed test's number (0: none), [1] its timeout in
 * ms, [2] its name's byte length; then the name: its prefix (file and suites,
 * rewritten only when it changes) and its own title.
 */
export const NAME_AT = 16;
export const NAME_BYTES = 2048;
/** How often the watchdog looks. */
export const POLL_MS = 100;
/** Default grace after a timeout before the watchdog gives up on the interrupt (THREAD_KILL_RUNNER_GRACE_MS overrides). */
export const DEFAULT_GRACE_MS = 2000;

export interface WatchdogData {
  buffer: SharedArrayBuffer;
  /** The thread whose tests are watched. */
  target: number;
  /** e.g. 'thread-kill/jest': says who stopped the run. */
  runner: string;
  graceMs: number;
}

/** THREAD_KILL_RUNNER_GRACE_MS, or the default: an integer of ms, 0 ≤ ms ≤ 1 hour. */
export function graceMs(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env.THREAD_KILL_RUNNER_GRACE_MS;
  if (raw === undefined || raw === '') return DEFAULT_GRACE_MS;
  const ms = Number(raw);
  if (!Number.isInteger(ms) || ms < 0 || ms > 3_600_000) {
    throw new OutOfRangeError(`THREAD_KILL_RUNNER_GRACE_MS must be an integer number of ms from 0 to 3600000 (got ${JSON.stringify(raw)})`);
  }
  return ms;
}

export class Watchdog {
  private readonly ctl: Int32Array;
  private readonly name: Uint8Array;
  private readonly encoder = new TextEncoder();
  private seq = 0;
  private prefix: Uint8Array | undefined;
  private title: Uint8Array;
  private worker: Worker | undefined;
  /** Read (and checked) when the runner's plugin loads: a bad value fails the run at once, not its first test. */
  private readonly graceMs = graceMs();

  constructor(private readonly runner: string) {
    const buffer = new SharedArrayBuffer(NAME_AT + NAME_BYTES);
    this.ctl = new Int32Array(buffer, 0, 4);
    this.name = new Uint8Array(buffer, NAME_AT, NAME_BYTES);
    this.title = this.name;
  }

  /** A name's prefix ("file › suite › "), encoded once (per suite) for arm(). */
  encode(prefix: string): Uint8Array {
    return this.encoder.encode(prefix).subarray(0, NAME_BYTES - 256);
  }

  /**
   * Marks a test as running with a timeout of `timeoutMs` (> 0): its name is
   * `prefix` (from encode()) then `title`. Returns the token for disarm().
   * A few stores a test: the prefix is copied only when it changes.
   */
  arm(prefix: Uint8Array, title: string, timeoutMs: number): number {
    if (this.worker === undefined) this.start();
    if (prefix !== this.prefix) {
      this.name.set(prefix);
      this.title = this.name.subarray(prefix.length);
      this.prefix = prefix;
    }
    this.ctl[2] = prefix.length + this.encoder.encodeInto(title, this.title).written;
    this.ctl[1] = timeoutMs;
    const token = this.seq = (this.seq % 0x7ffffffe) + 1;
    Atomics.store(this.ctl, 0, token);
    return token;
  }

  /** The test armed as `token` is no longer running synchronously. */
  disarm(token: number): void {
    Atomics.compareExchange(this.ctl, 0, token, 0);
  }

  private start(): void {
    const data: WatchdogData = { buffer: this.ctl.buffer as SharedArrayBuffer, target: threadId, runner: this.runner, graceMs: this.graceMs };
    const worker = new Worker(path.join(__dirname, 'watchdog-worker.js'), { workerData: data, stdout: false, stderr: false });
    worker.unref();
    // The watchdog never fails the run by itself failing: a test run without it is what the runner had before.
    worker.on('error', () => undefined);
    this.worker = worker;
  }
}

// Kept on `process`, which a thread's vm contexts share (Vitest's vmThreads
// loads this module again in each test file's context): one watchdog a thread.
const KEY = Symbol.for('thread-kill.runner.watchdogs');
const watchdogs: Map<string, Watchdog> = ((process as unknown as Record<symbol, Map<string, Watchdog>>)[KEY] ??= new Map());

/** This thread's watchdog for `runner` (one per runner per thread). */
export function watchdogFor(runner: string): Watchdog {
  let w = watchdogs.get(runner);
  if (w === undefined) watchdogs.set(runner, w = new Watchdog(runner));
  return w;
}
