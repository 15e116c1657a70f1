// main.mjs: a hung worker, and a sibling that kills it (worker.terminate() can't do that)
import { KillableWorker } from 'thread-kill';
import { Worker } from 'node:worker_threads';
new KillableWorker('for (;;) {}', { eval: true, name: 'hung' });
new Worker(`import('thread-kill').then(async ({ kill, threads }) => {
  const victim = threads().find((t) => t.name === 'hung');
  console.log(await kill(victim));  // { outcome: 'killed', elapsedMs: 0.9, ... }
})`, { eval: true });
