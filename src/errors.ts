// Every error the library throws, with a stable `code`. Messages name the
// offending argument.

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

/** A thread's interruptible() region was interrupted by interrupt(). */
export class InterruptedError extends Error {
  readonly code = 'ERR_THREAD_INTERRUPTED';
  /** The value passed to interrupt(), cloned into this thread. */
  readonly reason: unknown;
  /** threadId of the thread that called interrupt(). */
  readonly by: number;
  /** JS stack of the interrupted code at the moment it was stopped. */
  readonly interruptedStack: string;
  constructor(reason: unknown, by: number, interruptedStack: string) {
    super(`interrupted by thread ${by}${reason === undefined ? '' : `: ${describe(reason)}`}`);
    this.name = 'InterruptedError';
    this.reason = reason;
    this.by = by;
    this.interruptedStack = interruptedStack;
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

function describe(v: unknown): string {
  if (typeof v === 'string') return v;
  if (v instanceof Error) return v.message;
  try {
    return JSON.stringify(v) ?? String(v);
  } catch {
    return String(v);
  }
}
