// The JS layer's per-thread state: exactly one per thread, whatever the
// module cache does. jest.resetModules(), hot reloaders or a second copy of
// the package can load this library's JS more than once in one thread, but
// the thread has one registry entry, one native event handler (the first
// registered) and one set of onKill hooks — so everything that must be
// shared lives here, on `process` (one per thread) under a registered
// symbol, and every loaded instance reads and writes the same object.
import type { Worker } from 'worker_threads';

export type DeathListener = (killed: boolean) => void;
/** Gets the native DeliveryResult code. */
export type DeliveryListener = (result: number) => void;
export type KillHook = (reason: unknown) => unknown;

export interface ThreadState {
  /** threadId → listeners to call once when it dies (kill() calls in flight). */
  readonly deathListeners: Map<number, Set<DeathListener>>;
  /**
   * threadId → how many of this thread's kill() calls watch it. The registry
   * keeps one watch per watching thread; the last of them to finish unwatches.
   */
  readonly watchHolds: Map<number, number>;
  /** untilDelivered interrupt request id → its listener. */
  readonly deliveryListeners: Map<number, DeliveryListener>;
  /** onKill hooks of this thread. */
  readonly hooks: Set<KillHook>;
  /** This thread's own StopToken (from whichever instance made it first). */
  token: unknown;
  /** A kill reached this thread while it could run JS: its hooks have started (once per thread). */
  killReached: boolean;
  /** The 'uncaughtException' guard that ends a killed thread quietly is installed. */
  uncaughtGuard: boolean;
  /** Modules being loaded right now, innermost last, each with the region clock at its start. */
  readonly loading: Array<[module: object, regionClock: number]>;
  moduleHookInstalled: boolean;
  /** KillableWorkers this thread created, by threadId (a sibling's kill may ask us to terminate one). */
  readonly children: Map<number, WeakRef<Worker>>;
  /** (Main thread) process exit does not join abandoned threads. */
  exitGuard: boolean;
  /**
   * What the layers above the registry do with the events it routes to them
   * (installed by stop/on-kill.ts and kill/exit.ts when they load), so the
   * registry imports nothing above it.
   */
  readonly eventHandlers: { killReached?: () => void; abandoned?: () => void };
}

const KEY = Symbol.for('thread-kill.thread-state.v1');

function create(): ThreadState {
  const state: ThreadState = {
    deathListeners: new Map(),
    watchHolds: new Map(),
    deliveryListeners: new Map(),
    hooks: new Set(),
    token: undefined,
    killReached: false,
    uncaughtGuard: false,
    loading: [],
    moduleHookInstalled: false,
    children: new Map(),
    exitGuard: false,
    eventHandlers: {},
  };
  Object.defineProperty(process, KEY, { value: state, enumerable: false, configurable: false, writable: false });
  return state;
}

export const threadState: ThreadState = (process as unknown as Record<symbol, ThreadState | undefined>)[KEY] ?? create();
