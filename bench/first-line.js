// A worker's first line of its own code (bench/run.js, startup).
require('worker_threads').parentPort.postMessage(process.hrtime.bigint());
