// Every error the library throws, with a stable `code`. Messages name the
// offending argument.
import { describe } from './describe';
import { formatFrame } from './frames';
import type { RawFrame } from './native';

export class InvalidArgTypeError extends TypeError {
  readonly code = 'ERR_THREAD_KILL_INVALID_ARG_TYPE';
  constructor(message: string) { super(message); this.name = 'InvalidArgTypeError'; }
}

export class OutOfRangeError extends RangeError {
  readonly code = 'ERR_THREAD_KILL_OUT_OF_RANGE';
  constructor(message: string) { super(message); this.name = 'OutOfRangeError'; }
}

export class UnknownOptionError extends TypeError {
  readonly code = 'ERR_THREAD_KILL_UNKNOWN_OPTION';
  constructor(message: string) { super(message); this.name = 'UnknownOptionError'; }
}

export class NotCloneableError extends TypeError {
  readonly code = 'ERR_THREAD_KILL_NOT_CLONEABLE';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'NotCloneableError';
  }
}

export class UnknownThreadError extends Error {
  readonly code = 'ERR_THREAD_KILL_UNKNOWN_THREAD';
  constructor(readonly threadId: number, argName: string) {
    super(`${argName}: no thread with threadId ${threadId} is known to thread-kill ` +
      '(threads become known when they import thread-kill or are started with KillableWorker)');
    this.name = 'UnknownThreadError';
  }
}

export class MainThreadError extends Error {
  readonly code = 'ERR_THREAD_KILL_MAIN_THREAD';
  constructor(argName: string) {
    super(`${argName}: the main thread cannot be killed; use exitNow() to end the process`);
    this.name = 'MainThreadError';
  }
}

/** The whole stack a region captured, from its native handle (see interruptFactory). */
export type TraceResolver = (trace: object) => RawFrame[] | undefined;

// Set by InterruptedError's static block (it needs the private fields).
const ENTER_REGION_SCRIPT = /[\\/]region[\\/]interrupt\.js$/;

let fromCapture: (reason: EncodedReason, by: number, regionFrames: number, trace: object | undefined,
  resolve: TraceResolver, kill: boolean, cause: { cause: unknown } | undefined, timeoutMs: number | undefined) => InterruptedError;

/** A reason still in its sender's encoding: decoded when `reason` is first read. */
export interface EncodedReason {
  bytes: Uint8Array | string | number | boolean | undefined;
  /** For the message, without decoding (undefined: no reason). */
  description: string | undefined;
  decode: (bytes: Uint8Array | string | number | boolean) => unknown;
}

// The constructor's lazy mode, only reachable from this module.
const LAZY: InterruptedErrorOptions = Object.freeze({});

export interface InterruptedErrorOptions {
  /** The error comes from kill() (its interrupt phase). Default false. */
  kill?: boolean;
  /** What the region itself threw as the interrupt arrived. */
  cause?: unknown;
}

/**
 * A thread's interruptible() region was interrupted: by interrupt(), or by
 * kill()'s interrupt phase (then `kill` is true, and the thread is being
 * killed: it may run its catch/finally, but it ends as killed).
 */
export class InterruptedError extends Error {
  readonly code = 'ERR_THREAD_INTERRUPTED';
  // Exactly the value passed to interrupt() (or kill()'s `options.reason`),
  // cloned into this thread when first read (see the `reason` getter).
  #reason: unknown;
  #reasonBytes: Uint8Array | string | number | boolean | undefined;
  #decode: ((bytes: Uint8Array | string | number | boolean) => unknown) | undefined;
  /** threadId of the thread that called interrupt() or kill(). */
  readonly by: number;
  /**
   * True when kill() sent it. Set from the request itself, never from the
   * reason: no reason value makes an interrupt() look like a kill.
   */
  readonly kill: boolean;
  // A string, or (built by a region) how many of the capture's top frames
  // are the interrupted region's own, formatted on first read: most
  // interrupted tasks are retried, never inspected.
  #interruptedStack: string | number;
  // Built by a region: the native handle of everything it captured, until
  // #captured() resolves it into #frames (for `stack` and `interruptedStack`).
  #trace: object | undefined;
  #resolve: TraceResolver | undefined;
  #frames: RawFrame[] | undefined;

  constructor(reason: unknown, by: number, interruptedStack: string, options?: InterruptedErrorOptions) {
    const lazy = options === LAZY;
    const o = lazy ? (reason as { encoded: EncodedReason; kill: boolean; cause?: { cause: unknown } }) : undefined;
    const kill = lazy ? o!.kill : options?.kill === true;
    const text = lazy ? o!.encoded.description : reason === undefined ? undefined : describe(reason);
    const cause = lazy ? o!.cause : options !== undefined && 'cause' in options ? { cause: options.cause } : undefined;
    super(`${kill ? 'killed' : 'interrupted'} by thread ${by}${text === undefined ? '' : `: ${text}`}`, cause);
    this.name = 'InterruptedError';
    if (lazy) {
      this.#reasonBytes = o!.encoded.bytes;
      this.#decode = o!.encoded.decode;
    } else {
      this.#reason = reason;
    }
    this.by = by;
    this.kill = kill;
    this.#interruptedStack = interruptedStack;
  }

  /** Exactly the value passed to interrupt() (or kill()'s `options.reason`), cloned into this thread. */
  get reason(): unknown {
    const bytes = this.#reasonBytes;
    if (bytes !== undefined) {
      this.#reasonBytes = undefined;
      this.#reason = this.#decode!(bytes);
    }
    return this.#reason;
  }

  /** JS stack of the interrupted code at the moment it was stopped. */
  get interruptedStack(): string {
    const s = this.#interruptedStack;
    if (typeof s === 'string') return s;
    const inRegion = this.#captured().slice(0, s);
    return (this.#interruptedStack = ['InterruptedError: interrupted here', ...inRegion.map(formatFrame)].join('\n'));
  }

  /** A region's capture as frames (top first), resolved once; [] when it had none. */
  #captured(): RawFrame[] {
    if (this.#frames === undefined) {
      const trace = this.#trace;
      // enterRegion() is how every region is entered (the landing rule finds
      // a region's boundary by its frame): an internal step the user's stack
      // does not show.
      this.#frames = ((trace !== undefined ? this.#resolve!(trace) : undefined) ?? [])
        .filter((f) => !(f[0] === 'enterRegion' && ENTER_REGION_SCRIPT.test(String(f[1]))));
      this.#trace = undefined; // resolved: let the native capture go
    }
    return this.#frames;
  }

  static {
    // A region's error has no own `stack` until it is read: this getter then
    // formats the region's capture (the frames where it was stopped, its
    // interruptible() call, the callers) and stores it as an ordinary own
    // property. V8's capture, and even redefining the own property as an
    // accessor, would cost microseconds on every interrupt.
    const own = (err: object, value: unknown): void => {
      Object.defineProperty(err, 'stack', { value, writable: true, configurable: true, enumerable: false });
    };
    Object.defineProperty(InterruptedError.prototype, 'stack', {
      get(this: InterruptedError): string | undefined {
        if (!(#trace in this)) return undefined; // the prototype itself, or another object
        const stack = [`${this.name}: ${this.message}`, ...this.#captured().map(formatFrame)].join('\n');
        try {
          own(this, stack);
        } catch {
          // frozen: compute again (from the resolved frames) on the next read
        }
        return stack;
      },
      set(this: object, value: unknown) { own(this, value); },
      configurable: true,
      enumerable: false,
    });

    fromCapture = (reason, by, regionFrames, trace, resolve, kill, cause, timeoutMs) => {
      const limit = Error.stackTraceLimit;
      let lowered = false;
      try {
        Error.stackTraceLimit = 0; // skip V8's capture: the region has one
        lowered = true;
      } catch {
        // a frozen Error: V8 captures a stack we then replace; slower, still right
      }
      let err: InterruptedError;
      try {
        err = timeoutMs === undefined
          ? new InterruptedError({ encoded: reason, kill, cause }, by, '', LAZY)
          : new RegionTimeoutError(timeoutMs, by, '', cause === undefined ? { kill } : { kill, cause: cause.cause });
      } finally {
        if (lowered) Error.stackTraceLimit = limit;
      }
      delete (err as { stack?: string }).stack; // now served by the getter above
      err.#interruptedStack = regionFrames;
      err.#trace = trace;
      err.#resolve = resolve;
      return err;
    };
  }
}

/**
 * The InterruptedError of a region, from the stack it captured natively:
 * `trace` is the native handle of the whole capture (top first), resolved by
 * `resolve` if `stack` or `interruptedStack` is read; its top `regionFrames`
 * frames are the interrupted region's own.
 */
export function interruptedErrorFromCapture(reason: EncodedReason, by: number, regionFrames: number,
  trace: object | undefined, resolve: TraceResolver, kill: boolean, cause: { cause: unknown } | undefined,
  timeoutMs?: number): InterruptedError {
  return fromCapture(reason, by, regionFrames, trace, resolve, kill, cause, timeoutMs);
}

/**
 * The InterruptedError another thread's region threw, rebuilt in this thread
 * from what crossed (its reason and where it was stopped, `interruptedStack`):
 * thread-kill/piscina's caller side. Its `stack` is that place, not this
 * thread's await machinery — and V8 does not capture one (microseconds on a
 * cancellation's latency path, and nothing a reader could use).
 */
export function interruptedErrorFrom(reason: unknown, by: number, interruptedStack: string): InterruptedError {
  return rebuilt(() => new InterruptedError(reason, by, interruptedStack), interruptedStack);
}

/**
 * The RegionTimeoutError another thread's task failed with (its own
 * deadline), rebuilt in this thread from its budget and its stack as it
 * crossed: thread-kill/piscina's caller side, like interruptedErrorFrom.
 */
export function regionTimeoutErrorFrom(timeoutMs: number, by: number, stack: string): RegionTimeoutError {
  return rebuilt(() => new RegionTimeoutError(timeoutMs, by, stack), stack);
}

/**
 * thread-kill's errors that are all message (the validation errors): what a
 * pool task fails with crosses postMessage as a plain Error, so
 * thread-kill/piscina says which of these it was (its index + 1, 0: none)
 * and the caller's side rebuilds it with its class and `code`.
 */
const MESSAGE_ONLY_ERRORS = [InvalidArgTypeError, OutOfRangeError, UnknownOptionError, NotCloneableError] as const;

/** Which of the message-only errors `err` is (its index + 1), or 0. */
export function messageOnlyErrorKind(err: unknown): number {
  return MESSAGE_ONLY_ERRORS.findIndex((E) => err instanceof E) + 1;
}

/** The message-only error of `kind` (see messageOnlyErrorKind) rebuilt from what crossed, or undefined. */
export function messageOnlyErrorFrom(kind: number, crossed: unknown): Error | undefined {
  const E = MESSAGE_ONLY_ERRORS[kind - 1];
  if (E === undefined || !(crossed instanceof Error)) return undefined;
  return rebuilt(() => new E(crossed.message), crossed.stack ?? '');
}

/** `make()`'s error, built without V8's stack capture; its `stack`: its own header, then the frames of `crossed`. */
function rebuilt<E extends Error>(make: () => E, crossed: string): E {
  const limit = Error.stackTraceLimit;
  let lowered = false;
  try {
    Error.stackTraceLimit = 0;
    lowered = true;
  } catch {
    // a frozen Error: V8 captures a stack we then replace
  }
  let err: E;
  try {
    err = make();
  } finally {
    if (lowered) Error.stackTraceLimit = limit;
  }
  // Its frames, after whatever its header says (a message may span lines).
  const frames = crossed.indexOf('\n    at ');
  err.stack = `${err.name}: ${err.message}${frames < 0 ? '' : crossed.slice(frames)}`;
  return err;
}

/**
 * An interruptible() region ran past its own deadline (`{ timeoutMs }`). An
 * InterruptedError (existing catch code works; `code` is the same), told apart
 * by its class, `timedOut` and the budget it had. `by` is the thread itself.
 */
export class RegionTimeoutError extends InterruptedError {
  readonly timedOut = true;
  constructor(readonly timeoutMs: number, by: number, interruptedStack: string, options?: InterruptedErrorOptions) {
    super(undefined, by, interruptedStack, options);
    this.name = 'RegionTimeoutError';
    this.message = `interruptible() region timed out after ${timeoutMs} ms`;
  }
}

/** kill(): its `cleanup` did not settle within `timeoutMs` (reported as `KillReport.cleanupError`). */
export class CleanupTimeoutError extends Error {
  readonly code = 'ERR_THREAD_KILL_CLEANUP_TIMEOUT';
  constructor(timeoutMs: number) {
    super(`options.cleanup did not settle within ${timeoutMs} ms (options.timeoutMs)`);
    this.name = 'CleanupTimeoutError';
  }
}

/** StopToken.throwIfStopped() after the token was stopped. */
export class StoppedError extends Error {
  readonly code = 'ERR_THREAD_STOPPED';
  constructor(readonly reason: unknown) {
    super(`stopped${reason === undefined ? '' : `: ${describe(reason)}`}`);
    this.name = 'StoppedError';
  }
}
