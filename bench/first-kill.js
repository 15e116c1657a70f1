'use strict';
// The first kill in a fresh process (bench/run.js --first-kill).
//
// A user kills a hung worker once, in a process that never killed before:
// nothing of kill()'s code has run, nothing is compiled or warmed up. So
// every sample is its own child process (`node bench/first-kill.js <spec>
// <side>`), which loads thread-kill (as the user's process did), starts one
// sibling worker that loaded thread-kill too, starts the hung worker of one
// built-in scenario (src/stress/scenarios.ts, a plain `Worker` whose code
// requires thread-kill; `--killable`: a `KillableWorker`), waits until it is
// in its hang (the scenario's Atomics flag, and the 'online' event), and
// times from the call until the Worker's 'exit' event in the parent:
//
//   terminate  worker.terminate() from the parent
//   kill       kill(worker) from the parent
//   sibling    kill(threadId) from the sibling (its call time crosses to the
//              parent as process.hrtime through a SharedArrayBuffer)
//
// `killOptions` (default none) are passed to both kills, e.g. { captureStack: false }.
// Every process has the same threads whatever the side. The driver
// alternates the three sides sample by sample (rotating their order) and
// reports medians per scenario and the median of the per-scenario ratios.
const fs = require('fs');
const os = require('os');
const path = require('path');
const { execFileSync } = require('child_process');

const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor((s.length - 1) / 2)]; };
const SIDES = ['terminate', 'kill', 'sibling'];

/** Runs in the child: one sample. */
async function child(specFile, side) {
  const { Worker } = require('worker_threads');
  const tk = require('..');
  const spec = JSON.parse(fs.readFileSync(specFile, 'utf8'));
  const now = () => process.hrtime.bigint();
  const clock = new BigInt64Array(new SharedArrayBuffer(16));
  const sibling = new Worker(`
    const { parentPort, workerData } = require('worker_threads');
    const tk = require(workerData.lib);
    const clock = new BigInt64Array(workerData.clock);
    const options = workerData.options;
    parentPort.on('message', (threadId) => {
      clock[0] = process.hrtime.bigint();
      tk.kill(threadId, options).then((r) => { clock[1] = process.hrtime.bigint(); parentPort.postMessage(r.outcome); });
    });
    parentPort.postMessage('ready');
  `, { eval: true, workerData: { lib: spec.lib, clock: clock.buffer, options: spec.killOptions } });
  await new Promise((resolve) => sibling.once('message', resolve));

  const flag = new Int32Array(new SharedArrayBuffer(8));
  const Ctor = spec.killable ? tk.KillableWorker : Worker;
  const w = new Ctor(spec.source, { eval: true, workerData: { lib: spec.lib, ready: flag.buffer, mode: 'kill', go: new SharedArrayBuffer(16), files: spec.files } });
  w.on('message', () => undefined);
  w.on('error', (err) => { process.stderr.write(`hung worker failed: ${err}\n`); process.exit(2); });
  let exitAt = 0n;
  let code;
  const exited = new Promise((resolve) => w.once('exit', (c) => { exitAt = now(); code = c; resolve(); }));
  const online = new Promise((resolve) => w.once('online', resolve));
  const hung = (async () => { while (Atomics.load(flag, 0) === 0) { const r = Atomics.waitAsync(flag, 0, 0); if (r.async) await r.value; } })();
  await Promise.all([hung, online]);

  let t0 = 0n;
  let resolvedAt = 0n;
  let outcome;
  let settled;
  if (side === 'terminate') {
    t0 = now();
    settled = w.terminate();
  } else if (side === 'kill') {
    t0 = now();
    settled = tk.kill(w, spec.killOptions).then((r) => { resolvedAt = now(); outcome = r.outcome; });
  } else {
    sibling.postMessage(w.threadId);
    settled = new Promise((resolve) => sibling.once('message', (o) => { outcome = o; resolve(); }));
  }
  await exited;
  await settled;
  if (side === 'sibling') { t0 = clock[0]; resolvedAt = clock[1]; }
  const ms = (t) => Number(t - t0) / 1e6;
  fs.writeSync(1, JSON.stringify({ ms: ms(exitAt), resolvedMs: resolvedAt ? ms(resolvedAt) : undefined, code, outcome }));
  process.exit(0);
}

/**
 * The driver: `samples` fresh processes per scenario and side. Returns rows
 * { scenario, terminate, kill, sibling, killRatio, siblingRatio } (medians,
 * ms) and the overall figures.
 */
function firstKill({ samples = 11, killable = false, killOptions = undefined, log = () => undefined } = {}) {
  const { SCENARIOS, scenarioSource, scenarioFiles } = require('thread-kill/stress');
  const lib = require.resolve('..');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tk-first-kill-'));
  const scenarios = SCENARIOS.filter((s) => s.ops.includes('kill'));
  const specs = scenarios.map((s) => {
    const file = path.join(dir, `${s.name}.json`);
    fs.writeFileSync(file, JSON.stringify({ lib, killable, killOptions, source: scenarioSource(s), files: scenarioFiles(s) }));
    return file;
  });
  const times = scenarios.map(() => ({ terminate: [], kill: [], sibling: [] }));
  const loadBefore = os.loadavg()[0];
  try {
    for (let i = 0; i < samples; i++) {
      log(`  sample ${i + 1}/${samples}`);
      scenarios.forEach((s, k) => {
        for (let j = 0; j < SIDES.length; j++) {
          const side = SIDES[(i + k + j) % SIDES.length];
          const out = JSON.parse(execFileSync(process.execPath, [__filename, specs[k], side], { encoding: 'utf8' }));
          const wantCode = side === 'sibling' && !killable ? 0 : 1;
          if (out.code !== wantCode || (side !== 'terminate' && out.outcome !== 'killed')) {
            throw new Error(`${s.name} ${side}: exit code ${out.code}, outcome ${out.outcome}`);
          }
          times[k][side].push(out.ms);
        }
      });
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  const rows = scenarios.map((s, k) => {
    const m = Object.fromEntries(SIDES.map((side) => [side, median(times[k][side])]));
    return { scenario: s.name, ...m, killRatio: m.kill / m.terminate, siblingRatio: m.sibling / m.terminate };
  });
  return {
    samples, killable, killOptions, rows, load: [loadBefore, os.loadavg()[0]],
    killRatio: median(rows.map((r) => r.killRatio)),
    siblingRatio: median(rows.map((r) => r.siblingRatio)),
    terminate: median(rows.map((r) => r.terminate)),
    kill: median(rows.map((r) => r.kill)),
    sibling: median(rows.map((r) => r.sibling)),
  };
}

module.exports = { firstKill };

if (require.main === module) {
  child(process.argv[2], process.argv[3]).catch((err) => { process.stderr.write(`${err.stack}\n`); process.exit(1); });
}
