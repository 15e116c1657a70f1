// Kill/respawn RSS in rounds, to see growth level off (BENCHMARKS.md, memory).
// node --expose-gc bench/kill-respawn-plateau.js
const tk = require('..');
(async () => {
  let next = 0, limit = 0;
  async function lane() { while (next < limit) { next++; const w = new tk.KillableWorker('for (;;) {}', { eval: true }); await tk.kill(w); await w.join(); } }
  for (const [i, n] of [[0, 500], [1, 3000], [2, 3000], [3, 3000]]) {
    next = 0; limit = n; await Promise.all([lane(), lane(), lane(), lane()]); global.gc();
    console.log('round', i, n, 'rss', (process.memoryUsage().rss / 2 ** 20).toFixed(1));
  }
})();
