// runaway-task.js: a worker runs tasks; the runaway one is interrupted, and the worker takes the next
const { Worker, isMainThread, parentPort } = require('node:worker_threads');
const { interrupt, interruptible, InterruptedError } = require('thread-kill');
const run = (task) => { if (task === 'runaway') { parentPort.postMessage('started'); for (;;) {} } return `${task}: done`; };
if (!isMainThread) {
  // worker
  parentPort.on('message', (task) => {
    try { parentPort.postMessage(interruptible(() => run(task))); }
    catch (e) { if (e instanceof InterruptedError) parentPort.postMessage({ cancelled: e.reason }); else throw e; }
  });
} else {
  // anywhere else (here, the main thread)
  const worker = new Worker(__filename);
  worker.on('message', (m) => {
    console.log(m);   // 'started', then { cancelled: 'too slow' }, then 'next: done'
    if (m === 'started') interrupt(worker.threadId, 'too slow');   // the task stops; the worker takes the next one
    else if (m === 'next: done') worker.terminate();
  });
  worker.postMessage('runaway');
  worker.postMessage('next');
}
