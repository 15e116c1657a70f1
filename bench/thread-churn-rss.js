// Whose RSS growth is the stress run's? Same process: a warm-up of 100 plain
// Worker + terminate() and 100 KillableWorker + kill() (each a busy loop, two
// at a time), then blocks of each in alternating order; RSS growth per side.
// node bench/thread-churn-rss.js [blocks=8] [per block=60]   (docs/DESIGN.md, stress memory)
'use strict';
const { Worker } = require('worker_threads');
const tk = require('..');

const BLOCKS = Number(process.argv[2]) || 8;
const PER = Number(process.argv[3]) || 60;
const SRC = `const f = new Int32Array(require('worker_threads').workerData);
Atomics.store(f, 0, 1); Atomics.notify(f, 0); for (;;) {}`;

async function one(kind) {
  const flag = new Int32Array(new SharedArrayBuffer(4));
  const Ctor = kind === 'plain' ? Worker : tk.KillableWorker;
  const w = new Ctor(SRC, { eval: true, workerData: flag.buffer });
  while (Atomics.load(flag, 0) === 0) {
    const r = Atomics.waitAsync(flag, 0, 0);
    if (r.async) await r.value;
  }
  const exited = new Promise((resolve) => w.once('exit', resolve));
  if (kind === 'plain') await w.terminate();
  else await tk.kill(w);
  await exited;
}
async function batch(kind, n) { for (let i = 0; i < n; i += 2) await Promise.all([one(kind), one(kind)]); }
const rss = () => process.memoryUsage().rss / 2 ** 20;

(async () => {
  const start = rss();
  await batch('plain', 100);
  await batch('killable', 100);
  const warmed = rss();
  const growth = { plain: 0, killable: 0 };
  for (let b = 0; b < BLOCKS; b++) {
    for (const kind of b % 2 ? ['killable', 'plain'] : ['plain', 'killable']) {
      const before = rss();
      await batch(kind, PER);
      growth[kind] += rss() - before;
    }
  }
  console.log(`Node ${process.version}: warm-up (200 threads) +${(warmed - start).toFixed(1)} MB; then ${BLOCKS * PER} each: `
    + `plain Worker + terminate() ${growth.plain.toFixed(1)} MB, KillableWorker + kill() ${growth.killable.toFixed(1)} MB`);
})();
