'use strict';
// The landing rule's costs (docs/DESIGN.md, "Where a delivery may land"):
//   - interrupt() → catch in the target, p50/p99;
//   - how late a deadline fires around a loop over console.log (the delivery
//     waits for Node's code: it lands at the loop's own code or at the
//     entry of console.log);
//   - the interrupt storm: a thread that loops over a trivial region and
//     ~2,000 additions outside any region, hammered by interrupt() from the
//     main thread (50 calls per setImmediate turn): its progress while
//     hammered, as a share of its quiet progress (2 s each, after a warm-up).
// Usage: node bench/landing.js [--lib <thread-kill dir>] [--quick]
// (--lib measures another build side by side, e.g. a worktree of an older commit.)
const path = require('path');
const { Worker } = require('worker_threads');

const argLib = process.argv.indexOf('--lib');
const LIB = argLib > 0 ? path.resolve(process.argv[argLib + 1]) : path.resolve(__dirname, '..');
const QUICK = process.argv.includes('--quick');
const tk = require(LIB);

const median = (a) => { const s = [...a].sort((x, y) => x - y); return s[Math.floor(s.length / 2)]; };
const pct = (a, p) => { const s = [...a].sort((x, y) => x - y); return s[Math.min(s.length - 1, Math.floor(s.length * p))]; };
const turn = () => new Promise((resolve) => setImmediate(resolve));

/** interrupt() → the target's catch, measured with hrtime through a SharedArrayBuffer. */
async function latency(rounds) {
  const sab = new SharedArrayBuffer(24);
  const w = new Worker(`
    const tk = require(${JSON.stringify(LIB)});
    const { workerData } = require('worker_threads');
    const i32 = new Int32Array(workerData, 0, 2);
    const t = new BigInt64Array(workerData, 8, 2);
    for (;;) {
      Atomics.store(i32, 0, 1);
      try { tk.interruptible(() => { for (;;) { /* spin */ } }); } catch (e) { t[1] = process.hrtime.bigint(); }
      Atomics.store(i32, 0, 2);
      Atomics.notify(i32, 0);
      while (Atomics.load(i32, 0) === 2) { /* until the next round */ }
      if (Atomics.load(i32, 1) === 1) break;
    }`, { eval: true, workerData: sab });
  const i32 = new Int32Array(sab, 0, 2);
  const t = new BigInt64Array(sab, 8, 2);
  const us = [];
  for (let r = 0; r < rounds; r++) {
    while (Atomics.load(i32, 0) !== 1 || (tk.threadInfo(w.threadId)?.regionDepth ?? 0) === 0) await turn();
    const t0 = process.hrtime.bigint();
    tk.interrupt(w.threadId);
    while (Atomics.load(i32, 0) !== 2) { /* spin until caught */ }
    us.push(Number(t[1] - t0) / 1000);
    if (r === rounds - 1) Atomics.store(i32, 1, 1);
    Atomics.store(i32, 0, 0);
  }
  await new Promise((resolve) => w.once('exit', resolve));
  return { p50: median(us), p99: pct(us, 0.99), rounds };
}

/** Deadline overshoot in a loop over console.log, stdout a pipe (child process). */
function overshoot(regions) {
  const { spawnSync } = require('child_process');
  const r = spawnSync(process.execPath, ['-e', `
    const tk = require(${JSON.stringify(LIB)});
    const late = [];
    let i = 0;
    for (let r = 0; r < ${regions}; r++) {
      const t0 = performance.now();
      try { tk.interruptible(() => { for (;;) console.log('line ' + i++); }, { timeoutMs: 20 }); } catch { late.push(performance.now() - t0 - 20); }
    }
    require('fs').writeSync(2, JSON.stringify(late));`], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 1 << 28 });
  const late = JSON.parse(r.stderr);
  return { p50: median(late), p90: pct(late, 0.9), max: Math.max(...late), regions };
}

/**
 * Deadline overshoot around loops over sync APIs that spend their time in C++
 * (child process: a clean heap and no other thread of ours). Those whose
 * wrapper ends in `return f(…)` land at the first look after C++ (done
 * frames); the others only between two calls.
 */
function syncLoops(regions) {
  const { spawnSync } = require('child_process');
  const r = spawnSync(process.execPath, ['-e', `
    const tk = require(${JSON.stringify(LIB)});
    const crypto = require('crypto'), zlib = require('zlib'), fs = require('fs'), cp = require('child_process'), os = require('os'), path = require('path');
    const file = path.join(os.tmpdir(), 'tk-bench-' + process.pid);
    fs.writeFileSync(file, Buffer.alloc(1 << 20, 1));
    const gz = zlib.gzipSync(Buffer.alloc(4 << 20));
    const apis = {
      pbkdf2Sync: () => crypto.pbkdf2Sync('pw', 'salt', 2000, 32, 'sha256'),
      scryptSync: () => crypto.scryptSync('pw', 'salt', 32, { N: 1024 }),
      readFileSync: () => fs.readFileSync(file),
      execSync: () => cp.execSync('true'),
      gunzipSync: () => zlib.gunzipSync(gz),
    };
    const out = {};
    for (const [name, call] of Object.entries(apis)) {
      const late = [];
      for (let i = 0; i < ${regions}; i++) {
        const t0 = performance.now();
        try { tk.interruptible(() => { for (;;) call(); }, { timeoutMs: 20 }); } catch { late.push(performance.now() - t0 - 20); }
      }
      const t = performance.now(); call(); call(); call();
      out[name] = { late, callMs: (performance.now() - t) / 3 };
    }
    fs.unlinkSync(file);
    fs.writeSync(2, JSON.stringify(out));`], { encoding: 'utf8', stdio: ['ignore', 'ignore', 'pipe'] });
  const out = JSON.parse(r.stderr);
  const rows = {};
  for (const [name, { late, callMs }] of Object.entries(out)) rows[name] = { p50: median(late), p90: pct(late, 0.9), max: Math.max(...late), callMs, regions };
  return rows;
}

/** The storm: progress of a thread hammered by interrupts that mostly miss. */
async function storm(seconds) {
  const sab = new SharedArrayBuffer(16);
  const w = new Worker(`
    const tk = require(${JSON.stringify(LIB)});
    const { workerData } = require('worker_threads');
    const count = new Float64Array(workerData, 0, 1);
    const stop = new Int32Array(workerData, 8, 1);
    const one = () => 1;
    let n = 0, s = 0;
    while (Atomics.load(stop, 0) === 0) {
      try { s += tk.interruptible(one); } catch { /* an interrupt that hit */ }
      for (let k = 0; k < 2000; k++) s += k;
      count[0] = ++n;
    }`, { eval: true, workerData: sab });
  const count = new Float64Array(sab, 0, 1);
  const stop = new Int32Array(sab, 8, 1);
  const id = w.threadId;
  while (!tk.threads().some((t) => t.threadId === id)) await turn(); // registered
  const phase = async (ms, hammer) => {
    const c0 = count[0];
    const end = performance.now() + ms;
    let calls = 0;
    while (performance.now() < end) {
      if (hammer) for (let k = 0; k < 50; k++, calls++) tk.interrupt(id);
      await turn();
    }
    return { progress: count[0] - c0, calls };
  };
  await phase(QUICK ? 300 : 1000, true); // warm-up
  const quiet = await phase(seconds * 1000, false);
  const hammered = await phase(seconds * 1000, true);
  Atomics.store(stop, 0, 1);
  // A starved target (an older build) may take minutes to drain what it was
  // sent: kill() it rather than wait.
  await tk.kill(w);
  return { kept: hammered.progress / quiet.progress, calls: hammered.calls, quiet: quiet.progress, hammered: hammered.progress };
}

async function landing() {
  if (process.argv.includes('--storm')) return { storms: [await storm(2), await storm(2), await storm(2)] };
  if (process.argv.includes('--sync')) return { sync: syncLoops(QUICK ? 10 : 40) };
  const lat = await latency(QUICK ? 300 : 2000);
  const over = overshoot(QUICK ? 20 : 60);
  const sync = syncLoops(QUICK ? 10 : 40);
  const storms = [];
  for (let i = 0; i < (QUICK ? 2 : 5); i++) storms.push(await storm(2));
  return { lat, over, sync, storms };
}

const f = (v, d = 2) => (typeof v === 'number' ? v.toFixed(d) : String(v));

/** The BENCHMARKS.md section for one run of landing(). */
function landingSection(r, date) {
  const kept = r.storms.map((s) => s.kept);
  return `
## The landing rule: interrupt latency, deadlines around console.log and sync APIs, the interrupt storm

Command: node bench/landing.js (also part of npm run bench), ${date}.

| measure | result |
|---|---|
| interrupt() → catch in the target, p50 / p99 (${r.lat.rounds} rounds) | ${f(r.lat.p50, 1)} / ${f(r.lat.p99, 1)} µs |
| a 20 ms deadline around a loop over console.log (stdout a pipe): how late, p50 / p90 / max (${r.over.regions} regions) | ${f(r.over.p50)} / ${f(r.over.p90)} / ${f(r.over.max)} ms |
${Object.entries(r.sync).map(([name, x]) => `| a 20 ms deadline around a loop over ${name} (a call takes ${f(x.callMs)} ms): how late, p50 / p90 / max (${x.regions} regions) | ${f(x.p50)} / ${f(x.p90)} / ${f(x.max)} ms |`).join('\n')}
| the storm: progress kept while hammered by interrupt() (50 per setImmediate turn), per run | ${kept.map((k) => f(k * 100, 0) + ' %').join(', ')} (target ≥ 50 % in every run) |
| the storm: interrupt() calls the sender made in 2 s, per run | ${r.storms.map((s) => f(s.calls / 1e6, 1)).join(', ')} M |
`;
}

module.exports = { landing, landingSection };

if (require.main === module) {
  landing().then((r) => process.stdout.write(`${JSON.stringify({ lib: LIB, ...r }, null, 2)}\n`)).catch((err) => { console.error(err); process.exitCode = 1; });
}
