// my-interruptible-worker.js: a script for `thread-kill stress --script … --ops kill,interrupt`
const { interruptible, InterruptedError } = require('thread-kill');
const { signalReady } = require('thread-kill/stress');
try {
  interruptible(() => { signalReady(); for (;;) {} });   // the hang, inside a region
} catch (e) {
  if (!(e instanceof InterruptedError)) throw e;          // interrupted: carry on, end normally
}
