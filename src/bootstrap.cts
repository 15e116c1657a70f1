// Preloaded into every KillableWorker with --require, before the worker's own
// code: registers the thread so it is killable from its first line.
//
// Kept to the bare minimum because it runs on every KillableWorker start:
// it loads only the addon file the parent uses (passed as environment data)
// and registers; the library's JS is loaded lazily, the first time an event
// or an interrupt needs it, or when the worker imports thread-kill itself.
import { getEnvironmentData, isMainThread, threadId } from 'worker_threads';
import type { Native } from './shared/native';

const binary = getEnvironmentData('thread-kill:binary');
if (typeof binary === 'string') {
  // process.dlopen, not require(): no path resolution or realpath on the
  // hot path of every worker start. The file is already loaded in-process.
  // bootstrapOnly: the addon sets up just what this file uses.
  const mod = { exports: { bootstrapOnly: true } as unknown as Native };
  process.dlopen(mod, binary);
  const native = mod.exports;
  // No event handler: events only ever come to a thread that uses the
  // library itself (watching, untilDelivered, onKill hooks), and the
  // library's own registration installs it then.
  native.register(threadId, isMainThread, '', undefined as never);
  let factory: import('./region/error-factory').InterruptFactory | undefined;
  native.setInterruptFactory((...args) =>
    (factory ??= (require('./region/error-factory') as typeof import('./region/error-factory')).interruptFactory(native.traceFrames))(...args));
  process.on('exit', () => native.markExiting());
} else {
  require('./index');
}
