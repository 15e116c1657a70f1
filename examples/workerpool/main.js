// main.js: cancel() and timeout(ms) stop the running task in place; the worker stays
const workerpool = require('workerpool');
const { interruptiblePool } = require('thread-kill/workerpool');
const pool = interruptiblePool(workerpool.pool(require.resolve('./worker.js'), { workerType: 'thread', maxWorkers: 1 }));
(async () => {
  const worker = await pool.exec('whoami');
  await pool.exec('collatz', [0]).timeout(100)   // n = 0 never reaches 1
    .catch((e) => console.log(e.name));          // TimeoutError, at 100 ms
  console.log('same worker:', (await pool.exec('whoami')) === worker, await pool.exec('collatz', [27]));
  await pool.terminate();
})();
