// my-stoppable-worker.js: a script for `thread-kill stress --script … --ops kill,interrupt,stop`
const { interruptible, InterruptedError, threadStopToken } = require('thread-kill');
const { signalReady } = require('thread-kill/stress');
const token = threadStopToken();
try {
  interruptible(() => { signalReady(); while (!token.stopped) {} });   // the hang, until stopped
} catch (e) {
  if (!(e instanceof InterruptedError)) throw e;                       // interrupted: carry on, end normally
}
