// StopToken: the cooperative stop flag ("stoppable thread"), shared between
// threads through a SharedArrayBuffer.
//
// Layout (Int32 words, then bytes):
//   [0] state   0 running, 1 stopped, 2 a stopper is writing the reason
//   [1] reason  byte length of the encoded reason (src/shared/reason.ts), or -1 for none
//   [2] flags   bit 0: stopped by kill() (the thread's onKill hooks run)
//   [4..]       reason bytes
// Native code can poll word [0] with an atomic load (README has a C example).
import { InvalidArgTypeError, StoppedError } from '../shared/errors';
import { MAX_REASON_BYTES, deserializeReason, serializeReason } from '../shared/reason';
import { MAX_TIMEOUT_MS, durationMs } from '../shared/validate';
import { native } from '../shared/native';

const STATE = 0;
const REASON_LEN = 1;
const FLAGS = 2;
const HEADER_BYTES = 16;
export const TOKEN_BYTES = native.constants.stopCellBytes;
export const FLAG_KILL = 1;

/**
 * kill(): stop `token` with already-validated reason bytes and `flags`
 * (FLAG_KILL). Module-private access to the token's internals, kept out of
 * the public class surface.
 */
export let stopTokenWith: (token: StopToken, bytes: Uint8Array | undefined, flags: number) => boolean;

const RUNNING = 0;
const STOPPED = 1;
const WRITING = 2;

/**
 * A cooperative stop flag any thread can set and every thread holding the
 * token can see at once: a `SharedArrayBuffer` word (pollable from C), an
 * `AbortSignal` for this thread, and blocking (`wait`) or async (`sleep`)
 * waits that return the moment it stops. Send the token (or its `buffer`) to
 * another thread and use `StopToken.from()` there.
 */
export class StopToken {
  /** The shared memory of this token; send it (or the token) to other threads. */
  readonly buffer: SharedArrayBuffer;
  // Private fields stay out of structured clones: a cloned token is just { buffer }.
  readonly #i32: Int32Array;
  #controller: AbortController | undefined;

  constructor(buffer?: SharedArrayBuffer) {
    if (buffer === undefined) buffer = new SharedArrayBuffer(TOKEN_BYTES);
    if (!(buffer instanceof SharedArrayBuffer) || buffer.byteLength < HEADER_BYTES) {
      throw new InvalidArgTypeError(`buffer must be a SharedArrayBuffer of at least ${HEADER_BYTES} bytes from another StopToken`);
    }
    this.buffer = buffer;
    this.#i32 = new Int32Array(buffer, 0, HEADER_BYTES / 4);
  }

  /**
   * The same token in this thread, from what another thread sent: a StopToken
   * after structured cloning (a plain `{ buffer }`), or its SharedArrayBuffer.
   */
  static from(value: unknown): StopToken {
    if (value instanceof StopToken) return value;
    if (value instanceof SharedArrayBuffer) return new StopToken(value);
    if (value !== null && typeof value === 'object' && (value as { buffer?: unknown }).buffer instanceof SharedArrayBuffer) {
      return new StopToken((value as { buffer: SharedArrayBuffer }).buffer);
    }
    throw new InvalidArgTypeError('value must be a StopToken, a cloned StopToken or its SharedArrayBuffer');
  }

  get stopped(): boolean {
    const stopped = Atomics.load(this.#i32, STATE) !== RUNNING;
    // Once this thread has seen the stop, its signal agrees (the wake-up of
    // waitAsync would only abort it a turn later).
    if (stopped && this.#controller !== undefined && !this.#controller.signal.aborted) this.#abort();
    return stopped;
  }

  #abort(): void {
    this.#controller!.abort(new StoppedError(this.reason));
  }

  /** True if the token was stopped by kill() rather than stop(). */
  get stoppedByKill(): boolean {
    return this.stopped && (Atomics.load(this.#i32, FLAGS) & FLAG_KILL) !== 0;
  }

  /** The value given to stop(), cloned into this thread (undefined if none or still running). */
  get reason(): unknown {
    let state = Atomics.load(this.#i32, STATE);
    while (state === WRITING) {
      // A stopper is copying the reason right now (a few microseconds).
      Atomics.wait(this.#i32, STATE, WRITING, 1);
      state = Atomics.load(this.#i32, STATE);
    }
    if (state !== STOPPED) return undefined;
    const len = Atomics.load(this.#i32, REASON_LEN);
    if (len <= 0) return undefined;
    const bytes = new Uint8Array(len);
    bytes.set(new Uint8Array(this.buffer, HEADER_BYTES, len));
    return deserializeReason(bytes);
  }

  /**
   * Stops the token (first call wins); wakes every waiter in every thread.
   * Returns false if it was already stopped. `reason` must be
   * structured-cloneable and at most 4080 bytes serialized.
   */
  stop(reason?: unknown): boolean {
    return stopTokenWith(this, serializeReason(reason, 'reason', this.#capacity()), 0);
  }

  #capacity(): number {
    return Math.min(MAX_REASON_BYTES, this.buffer.byteLength - HEADER_BYTES);
  }

  static {
    stopTokenWith = (token, bytes, flags) => token.#stopWith(bytes, flags);
  }

  #stopWith(bytes: Uint8Array | undefined, flags: number): boolean {
    if (bytes !== undefined && bytes.byteLength > this.#capacity()) return false;
    if (Atomics.compareExchange(this.#i32, STATE, RUNNING, WRITING) !== RUNNING) {
      // Already stopped (say by stop(), then kill()): the kill still shows.
      if (flags !== 0) Atomics.or(this.#i32, FLAGS, flags);
      return false;
    }
    if (bytes !== undefined) new Uint8Array(this.buffer, HEADER_BYTES, bytes.byteLength).set(bytes);
    Atomics.store(this.#i32, REASON_LEN, bytes === undefined ? -1 : bytes.byteLength);
    Atomics.store(this.#i32, FLAGS, flags);
    Atomics.store(this.#i32, STATE, STOPPED);
    Atomics.notify(this.#i32, STATE);
    return true;
  }

  throwIfStopped(): void {
    if (this.stopped) throw new StoppedError(this.reason);
  }

  /**
   * An AbortSignal of this thread, aborted when the token stops — also when
   * another thread stops it (the wake-up arrives through Atomics.waitAsync,
   * which does not keep the thread alive by itself).
   */
  get signal(): AbortSignal {
    if (this.#controller === undefined) {
      const controller = (this.#controller = new AbortController());
      const abort = (): void => { if (!controller.signal.aborted) this.#abort(); };
      if (Atomics.load(this.#i32, STATE) !== RUNNING) {
        abort();
      } else {
        const res = Atomics.waitAsync(this.#i32, STATE, RUNNING);
        if (res.async) void res.value.then(abort);
        else abort();
      }
    }
    return this.#controller.signal;
  }

  /**
   * Blocks this thread for up to `ms` (Atomics.wait; no argument: until the
   * token stops) and returns early when the token stops. Returns true if the
   * token is stopped.
   */
  wait(ms?: number): boolean {
    const timeout = ms === undefined ? Infinity : durationMs(ms, 'ms', 0);
    while (!this.stopped) {
      if (Atomics.wait(this.#i32, STATE, RUNNING, timeout) === 'timed-out') break;
    }
    return this.stopped;
  }

  /** Like wait() without blocking the thread (Atomics.waitAsync); no argument: until the token stops. */
  async sleep(ms?: number): Promise<boolean> {
    const timeout = ms === undefined ? Infinity : durationMs(ms, 'ms', 0);
    if (this.stopped) return true;
    const res = Atomics.waitAsync(this.#i32, STATE, RUNNING, timeout);
    if (res.async) {
      // waitAsync does not keep the event loop alive; a timer does, so the
      // sleep behaves like setTimeout for the thread's lifetime (an
      // interval: setTimeout cannot represent "forever").
      const keepAlive = setInterval(() => undefined, Math.min(timeout, MAX_TIMEOUT_MS));
      try {
        await res.value;
      } finally {
        clearInterval(keepAlive);
      }
    }
    return this.stopped;
  }
}
