// main.js
const { Piscina } = require('piscina');            // or: const { Tinypool } = await import('tinypool')
const { runInterruptible } = require('thread-kill/piscina');
const { InterruptedError } = require('thread-kill');
const pool = new Piscina({ filename: require.resolve('./worker.js') });
const ac = new AbortController();
setTimeout(() => ac.abort('too slow'), 100);
runInterruptible(pool, { n: 0 }, { signal: ac.signal })   // n = 0 never reaches 1
  .catch((e) => console.log(e instanceof InterruptedError, e.reason))   // true 'too slow'
  .then(() => runInterruptible(pool, { n: 27 }))                          // same worker, no respawn
  .then(console.log, console.error)
  .finally(() => pool.destroy());
