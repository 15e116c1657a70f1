// my-worker.js: a script for `thread-kill stress --script ./my-worker.js`
const { signalReady } = require('thread-kill/stress');
signalReady();   // the harness acts once this is called
for (;;) {}      // the hang
