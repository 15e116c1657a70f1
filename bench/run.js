#!/usr/bin/env node
'use strict';
// npm run bench: every figure in BENCHMARKS.md, measured side by side in one
// run (alternating the two sides round by round, so machine noise hits both).
// Writes BENCHMARKS.md. `--quick` runs fewer rounds (for a smoke check).
const fs = require('fs');
const os = require('os');
const path = require('path');
const { Worker } = require('worker_threads');
const tk = require('..');
const { runInterruptible } = require('../lib/piscina');
const { waitFlag } = require('../lib/tools/stress');

const QUICK = process.argv.includes('--quick');
const LIB = require.resolve('..');
const ROOT = path.resolve(__dirname, '..');
const n = (full, quick) => (QUICK ? quick : full);

const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor((s.length - 1) / 2)]; };
const pct = (xs, p) => { const s = [...xs].sort((a, b) => a - b); return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]; };
const once = (emitter, event) => new Promise((resolve) => emitter.once(event, resolve));
const mb = (bytes) => bytes / 2 ** 20;
const gc = () => { if (global.gc) { global.gc(); global.gc(); } };

const HANG = {
  busy: 'for (;;) {}',
  idle: 'setInterval(() => {}, 1e9);',
  'atomics-wait': 'Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0);',
};

/** A worker that loaded thread-kill, and is in its hang once `ready` resolves. */
function hungWorker(kind, Ctor = Worker) {
  const flag = new Int32Array(new SharedArrayBuffer(4));
  const w = new Ctor(`
    const { workerData } = require('worker_threads');
    require(${JSON.stringify(LIB)});
    const f = new Int32Array(workerData);
    Atomics.store(f, 0, 1); Atomics.notify(f, 0);
    ${HANG[kind]}
  `, { eval: true, workerData: flag.buffer });
  const exited = once(w, 'exit');
  return { w, exited, ready: waitFlag(flag, 0, 0) };
}

async function killVsTerminate() {
  const rows = [];
  for (const kind of Object.keys(HANG)) {
    const ours = [];
    const theirs = [];
    for (let i = 0; i < n(60, 8); i++) {
      for (const side of i % 2 ? ['kill', 'terminate'] : ['terminate', 'kill']) {
        const h = hungWorker(kind);
        await h.ready;
        const t = performance.now();
        if (side === 'kill') await tk.kill(h.w); else await h.w.terminate();
        (side === 'kill' ? ours : theirs).push(performance.now() - t);
        await h.exited;
      }
    }
    rows.push({ kind, kill: median(ours), terminate: median(theirs), ratio: median(ours) / median(theirs) });
  }
  return rows;
}

// Blocked in a system call: the unblock rung (a signal for reads, the wait
// satisfied for a FIFO's open, the child and the pipe holders for
// spawnSync/execSync) against worker.terminate(), which waits for the call to
// return (bounded here by TERMINATE_BOUND_MS, then "hangs").
const TERMINATE_BOUND_MS = 1000;
const CHILD_WAIT = ['epoll_wait', 'epoll_pwait'];
const OPEN = ['open', 'openat'];
const SYSCALL_HANG = {
  'readSync on a silent FIFO': { syscalls: ['read'], frees: 'signal', body: "const fd = fs.openSync(workerData.fifo, 'r+'); ready(); fs.readSync(fd, Buffer.alloc(1));" },
  'readFileSync of a FIFO with a silent writer': { syscalls: ['read'], frees: 'signal', body: "fs.openSync(workerData.fifo, 'r+'); ready(); fs.readFileSync(workerData.fifo);" },
  "openSync(fifo, 'r'), no writer": { syscalls: OPEN, frees: 'wait satisfied (write end opened)', body: "ready(); fs.openSync(workerData.fifo, 'r');" },
  "openSync(fifo, 'w'), no reader": { syscalls: OPEN, frees: 'wait satisfied (read end opened)', body: "ready(); fs.openSync(workerData.fifo, 'w');" },
  "execSync('sleep 30')": { syscalls: CHILD_WAIT, frees: 'child processes', body: "ready(); require('child_process').execSync('sleep 30');" },
  'spawnSync, grandchild holds the pipes': { syscalls: CHILD_WAIT, frees: 'child processes', body: "ready(); require('child_process').spawnSync('sh', ['-c', 'sleep 30 & sleep 31; wait']);" },
  "execSync('sleep 25 & echo started') (orphan holds the pipes)": { syscalls: CHILD_WAIT, frees: 'pipe holders', body: "ready(); require('child_process').execSync('sleep 25 & echo started');" },
};

async function syscallBlocked() {
  const { inSyscall } = require('../lib/tools/stress');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tk-bench-'));
  const fifo = path.join(dir, 'fifo');
  require('child_process').execFileSync('mkfifo', [fifo]);
  const start = async (kind) => {
    const w = new Worker(`
      const { workerData, parentPort } = require('worker_threads');
      const fs = require('fs');
      require(${JSON.stringify(LIB)});
      const ready = () => parentPort.postMessage('ready');
      ${SYSCALL_HANG[kind].body}
    `, { eval: true, workerData: { fifo } });
    const exited = once(w, 'exit');
    await once(w, 'message');
    await inSyscall(w.threadId, SYSCALL_HANG[kind].syscalls);
    return { w, exited };
  };
  const rows = [];
  for (const kind of Object.keys(SYSCALL_HANG)) {
    const ours = [];
    for (let i = 0; i < n(30, 5); i++) {
      const h = await start(kind);
      const t = performance.now();
      const r = await tk.kill(h.w);
      ours.push(performance.now() - t);
      if (r.outcome !== 'killed') throw new Error(`${kind}: ${r.outcome}`);
      await h.exited;
    }
    let hung = 0;
    const rounds = n(3, 1);
    const theirs = [];
    for (let i = 0; i < rounds; i++) {
      const h = await start(kind);
      const t = performance.now();
      const done = await Promise.race([h.w.terminate().then(() => true), new Promise((r) => setTimeout(r, TERMINATE_BOUND_MS, false))]);
      if (done) theirs.push(performance.now() - t); else hung++;
      await tk.kill(h.w); // end it (terminate() alone would wait for the call)
      await h.exited;
    }
    rows.push({ kind, frees: SYSCALL_HANG[kind].frees, kill: median(ours), p90: pct(ours, 90), terminate: hung === rounds ? `hangs (${hung}/${rounds} still blocked after ${TERMINATE_BOUND_MS} ms)` : `${f(median(theirs))} (${hung}/${rounds} hung)` });
  }
  fs.rmSync(dir, { recursive: true, force: true });
  return rows;
}

/** The first kill in a fresh process (bench/first-kill.js), as a BENCHMARKS.md section. */
function firstKillSection(r, date, noCapture) {
  const x = (v) => `${f(v)}×`;
  return `## The first kill in a fresh process (\`node bench/run.js --first-kill\`, ${date})

Every sample is its own child process, which never killed before: it loads thread-kill, starts a
sibling worker (which loads thread-kill too) and the hung worker of one built-in scenario
(\`src/stress/scenarios.ts\`: a plain \`Worker\` whose code requires thread-kill), waits until it is in
its hang (the scenario's Atomics flag and \`'online'\`), then times from the call until the Worker's
\`'exit'\` event in the parent (process.hrtime; the sibling's call time crosses in a SharedArrayBuffer).
${r.samples} samples per scenario and side, the three sides alternating (their order rotating).
Machine: ${os.cpus().length} × ${os.cpus()[0]?.model ?? 'unknown CPU'}, Node ${process.version}; 1-minute load average
${r.load[0].toFixed(1)} at the start, ${r.load[1].toFixed(1)} at the end (the machine is shared: the ratios move with it).

| scenario | \`terminate()\` (parent) ms | \`kill(worker)\` (parent) ms | \`kill(threadId)\` (sibling) ms | parent / terminate | sibling / terminate |
|---|---|---|---|---|---|
${r.rows.map((w) => `| ${w.scenario} | ${f(w.terminate)} | ${f(w.kill)} | ${f(w.sibling)} | ${x(w.killRatio)} | ${x(w.siblingRatio)} |`).join('\n')}
| **median over the scenarios** | ${f(r.terminate)} | ${f(r.kill)} | ${f(r.sibling)} | **${x(r.killRatio)}** (target ≤ 1.0×) | **${x(r.siblingRatio)}** (target ≤ 1.0×) |

The ratios in the last row are the medians of the per-scenario ratios.
${noCapture === undefined ? '' : `
The same run with \`{ captureStack: false }\` passed to both kills (the report then has no \`jsStack\`;
with options, the call also validates them before its stop), medians over the scenarios:
\`terminate()\` ${f(noCapture.terminate)} ms, \`kill(worker)\` ${f(noCapture.kill)} ms (**${x(noCapture.killRatio)}**),
\`kill(threadId)\` from a sibling ${f(noCapture.sibling)} ms (**${x(noCapture.siblingRatio)}**).
`}`;
}

function syscallSection(rows) {
  return `## Killing a thread blocked in a system call (the unblock rung)

| worker is in | what frees it | kill() median ms (target ≤ 50) | kill() p90 ms | \`worker.terminate()\` |
|---|---|---|---|---|
${rows.map((r) => `| ${r.kind} | ${r.frees} | ${f(r.kill)} | ${f(r.p90)} | ${r.terminate} |`).join('\n')}

From \`kill()\` (the worker already in its system call, seen in /proc) until its promise resolves.
The read-type calls are ended by one SIGRTMIN+3 after the first retry interval (10 ms); a FIFO's open by
opening its other end (non-blocking, closed at once); spawnSync/execSync by killing the child it started
(with its descendants) and the holders of the pipes it reads. \`worker.terminate()\` waits for the call to return.
${n(30, 5)} kills and ${n(3, 1)} \`terminate()\` calls per row. Machine: ${os.cpus().length} × ${os.cpus()[0]?.model ?? 'unknown CPU'}, Node ${process.version};
1-minute load average ${os.loadavg()[0].toFixed(1)} at the end (shared machine).
`;
}

async function killFromSibling() {
  const killer = new Worker(`
    const { parentPort } = require('worker_threads');
    const tk = require(${JSON.stringify(LIB)});
    parentPort.on('message', async (id) => {
      const t = performance.now();
      const r = await tk.kill(id);
      parentPort.postMessage({ ms: performance.now() - t, outcome: r.outcome });
    });
  `, { eval: true });
  const out = {};
  for (const kind of Object.keys(HANG)) {
    const ms = [];
    for (let i = 0; i < n(40, 6); i++) {
      const h = hungWorker(kind);
      await h.ready;
      killer.postMessage(h.w.threadId);
      const r = await once(killer, 'message');
      if (r.outcome !== 'killed') throw new Error(`sibling kill: ${r.outcome}`);
      ms.push(r.ms);
      await h.exited;
    }
    out[kind] = median(ms);
  }
  await killer.terminate();
  return out;
}

function regionOverhead() {
  const { runInterruptible: interruptorRun } = require('interruptor');
  const fn = () => 1;
  const { interruptible } = tk; // as `import { interruptible }` binds it
  const CALLS = n(2_000_000, 200_000);
  const sides = {
    'plain call': () => { let s = 0; for (let i = 0; i < CALLS; i++) s += fn(); return s; },
    'thread-kill interruptible(() => 1)': () => { let s = 0; for (let i = 0; i < CALLS; i++) s += interruptible(fn); return s; },
    'interruptor runInterruptible(() => 1)': () => { let s = 0; for (let i = 0; i < CALLS; i++) s += interruptorRun(fn); return s; },
  };
  const samples = Object.fromEntries(Object.keys(sides).map((k) => [k, []]));
  for (let batch = 0; batch < n(9, 3); batch++) {
    for (const [name, run] of Object.entries(sides)) {
      const t = process.hrtime.bigint();
      run();
      samples[name].push(Number(process.hrtime.bigint() - t) / CALLS);
    }
  }
  return Object.fromEntries(Object.entries(samples).map(([k, v]) => [k, median(v)]));
}

// The reasons the latency rows measure: [label, source in the interrupter (i: the round)].
const LATENCY_REASONS = [
  ['no reason', undefined],
  ['a number', 'i'],
  ['a short string', "'too slow'"],
  ['a small object', '{ round: i, why: "too slow" }'],
  ['a small nested object', '{ round: i, tags: ["slow", "retry"], limits: { ms: 50, ok: false } }'],
];

/**
 * interrupt() → catch in the target, for each reason source in `reasons`
 * (JS source evaluated in the interrupter with `i` the round; undefined: no
 * reason), the kinds alternating round by round in one pair of threads, so
 * machine noise hits every kind alike.
 */
async function interruptLatency(reasons = [undefined]) {
  const PER_KIND = n(10_000, 1000);
  const kinds = reasons.length;
  const ROUNDS = PER_KIND * kinds;
  const shared = new SharedArrayBuffer(16 + ROUNDS * 8);
  const target = new Worker(`
    const { workerData: { shared, rounds, kinds, hasReason } } = require('worker_threads');
    const tk = require(${JSON.stringify(LIB)});
    const flag = new Int32Array(shared, 0, 1);
    const t0 = new BigInt64Array(shared, 8, 1);
    const lat = new Float64Array(shared, 16, rounds);
    // flag = round number while in that round's region (1-based), -round after catching it.
    for (let i = 1; i <= rounds; i++) {
      try {
        tk.interruptible(() => { Atomics.store(flag, 0, i); Atomics.notify(flag, 0); for (;;) {} });
      } catch (e) {
        lat[i - 1] = Number(process.hrtime.bigint() - t0[0]) / 1000; // the catch runs: µs since interrupt()
        if (i <= kinds && hasReason[(i - 1) % kinds] && e.reason === undefined) throw new Error('no reason');
      }
      Atomics.store(flag, 0, -i); Atomics.notify(flag, 0);
    }
  `, { eval: true, workerData: { shared, rounds: ROUNDS, kinds, hasReason: reasons.map((r) => r !== undefined) } });
  const interrupter = new Worker(`
    const { workerData: { shared, rounds, target } } = require('worker_threads');
    const tk = require(${JSON.stringify(LIB)});
    const flag = new Int32Array(shared, 0, 1);
    const t0 = new BigInt64Array(shared, 8, 1);
    const send = [${reasons.map((r) => `(i) => tk.interrupt(target${r === undefined ? '' : `, ${r}`})`).join(', ')}];
    for (let i = 1; i <= rounds; i++) {
      // The target is in region i (it cannot move past it until interrupted).
      for (let v; (v = Atomics.load(flag, 0)) !== i;) Atomics.wait(flag, 0, v);
      t0[0] = process.hrtime.bigint();
      send[(i - 1) % ${kinds}](i);
      // It caught the interrupt and left region i (it may already be in i + 1).
      Atomics.wait(flag, 0, i);
    }
  `, { eval: true, workerData: { shared, rounds: ROUNDS, target: target.threadId } });
  await Promise.all([once(target, 'exit'), once(interrupter, 'exit')]);
  const all = new Float64Array(shared, 16, ROUNDS);
  return reasons.map((_, k) => {
    const lat = [];
    for (let i = k; i < ROUNDS; i += kinds) lat.push(all[i]);
    return { rounds: lat.length, p50: pct(lat, 50), p99: pct(lat, 99), max: Math.max(...lat) };
  });
}

const POOL_WORKER = `
  const { parentPort } = require('worker_threads');
  const tk = require(${JSON.stringify(LIB)});
  const started = new Int32Array(require('worker_threads').workerData);
  parentPort.on('message', () => {
    try { tk.interruptible(() => { Atomics.store(started, 0, 1); Atomics.notify(started, 0); for (;;) {} }); }
    catch (e) { Atomics.store(started, 0, 0); parentPort.postMessage('ready'); }
  });
  parentPort.postMessage('ready');
`;

async function cancelAndReuse() {
  const reuse = [];
  const respawn = [];
  const started = new Int32Array(new SharedArrayBuffer(4));
  let w = new Worker(POOL_WORKER, { eval: true, workerData: started.buffer });
  await once(w, 'message');
  for (let i = 0; i < n(30, 5); i++) {
    // In place: interrupt the runaway task; the same worker is ready again.
    for (let k = 0; k < 5; k++) {
      w.postMessage('task');
      await waitFlag(started, 0, 0);
      const t = performance.now();
      tk.interrupt(w.threadId, 'cancel');
      await once(w, 'message');
      reuse.push(performance.now() - t);
    }
    // The pool way: terminate the worker, spawn a new one, wait until ready.
    w.postMessage('task');
    await waitFlag(started, 0, 0);
    const t = performance.now();
    await w.terminate();
    Atomics.store(started, 0, 0);
    w = new Worker(POOL_WORKER, { eval: true, workerData: started.buffer });
    await once(w, 'message');
    respawn.push(performance.now() - t);
  }
  await w.terminate();
  return { reuse: median(reuse), respawn: median(respawn), ratio: median(respawn) / median(reuse) };
}

/**
 * Run in a child process without --expose-gc: a process-wide flag forces
 * KillableWorker to list execArgv explicitly, which a plain Worker skips, and
 * users do not normally run with it.
 */
function startupCostInChild() {
  const out = require('child_process').execFileSync(process.execPath, [__filename, '--startup-child', ...(QUICK ? ['--quick'] : [])], { encoding: 'utf8' });
  return JSON.parse(out);
}

/**
 * Time from the constructor call to the worker's first line of user code,
 * KillableWorker vs Worker, alternating, as the median of the paired
 * differences (robust to the machine's drift). Both a worker file (how pools
 * start workers) and an eval'd string.
 */
async function startupCost() {
  const file = path.join(__dirname, 'first-line.js');
  const src = fs.readFileSync(file, 'utf8');
  const out = {};
  for (const [kind, args] of [['file', [file, {}]], ['eval', [src, { eval: true }]]]) {
    const plain = [];
    const killable = [];
    for (let i = 0; i < n(400, 20); i++) {
      for (const Ctor of i % 2 ? [Worker, tk.KillableWorker] : [tk.KillableWorker, Worker]) {
        const t = process.hrtime.bigint();
        const w = new Ctor(...args);
        const exited = once(w, 'exit');
        const firstLine = await once(w, 'message');
        (Ctor === Worker ? plain : killable).push(Number(firstLine - t) / 1e6);
        await exited;
      }
    }
    out[kind] = { plain: median(plain), killable: median(killable), added: median(killable.map((k, i) => k - plain[i])) };
  }
  return out;
}

/** V8's young generation (new space) in MB, as reported by v8.getHeapSpaceStatistics(). */
function newSpaceMb() {
  const space = require('v8').getHeapSpaceStatistics().find((sp) => sp.space_name === 'new_space');
  return space ? mb(space.space_size) : 0;
}

/**
 * The most newSpaceMb() grows to: two semi-spaces of at most 16 MB each,
 * V8's default on 64-bit (V8 11), unless --max-semi-space-size says otherwise.
 */
function maxNewSpaceMb() {
  return 2 * Number(/--max-semi-space-size[= ](\d+)/.exec(process.execArgv.join(' '))?.[1] ?? 16);
}

/**
 * Kill/respawn cycles in a fresh process (one per kind, so neither inherits
 * the other's heap). kind 'killable': KillableWorker + kill(); 'plain': Worker
 * + terminate(), the baseline. Each cycle waits until the worker is online.
 *
 * Warm-up: V8 grows the main thread's young generation in steps while
 * objects keep surviving scavenges (any busy process gets there; it is sized
 * once, up to --max-semi-space-size, never a leak), and glibc grows per-thread
 * arenas. We warm up until the young generation is at its maximum (at most
 * WARMUP_MAX cycles) and then WARMUP_SETTLE cycles more (its new pages only
 * become resident as allocation sweeps through them), then measure growth
 * over CYCLES more.
 */
async function respawnMemory(kind) {
  const CYCLES = n(10_000, 300);
  const WARMUP_MIN = n(500, 50);
  const WARMUP_MAX = n(10_000, 100);
  const WARMUP_SETTLE = n(1_500, 50);
  const maxNewSpace = maxNewSpaceMb();
  let next = 0;
  let limit = 0;
  async function lane() {
    while (next < limit) {
      next++;
      if (kind === 'plain') {
        const w = new Worker('for (;;) {}', { eval: true });
        await once(w, 'online');
        await w.terminate();
      } else {
        const w = new tk.KillableWorker('for (;;) {}', { eval: true });
        await once(w, 'online');
        const r = await tk.kill(w);
        if (r.outcome !== 'killed') throw new Error(`kill/respawn: ${r.outcome}`);
        await w.join();
      }
    }
  }
  const run = async (cycles) => { next = 0; limit = cycles; await Promise.all([lane(), lane(), lane(), lane()]); gc(); };
  const start = process.memoryUsage().rss;
  let warmup = 0;
  for (const step = WARMUP_MIN; warmup < WARMUP_MAX && (warmup === 0 || newSpaceMb() < maxNewSpace);) {
    await run(step);
    warmup += step;
  }
  // A grown young generation is committed at once but becomes resident as
  // allocation first sweeps through it: give it that sweep too.
  await run(WARMUP_SETTLE);
  warmup += WARMUP_SETTLE;
  const before = process.memoryUsage().rss;
  const newBefore = newSpaceMb();
  const t = performance.now();
  await run(CYCLES);
  const after = process.memoryUsage().rss;
  return {
    kind, cycles: CYCLES, warmup, warmupMb: mb(before - start), growthMb: mb(after - before),
    newSpaceBefore: newBefore, newSpaceAfter: newSpaceMb(), seconds: (performance.now() - t) / 1000,
  };
}

function respawnMemoryInChild(kind) {
  const out = require('child_process').execFileSync(process.execPath,
    ['--expose-gc', __filename, '--memory-child', kind, ...(QUICK ? ['--quick'] : [])], { encoding: 'utf8', maxBuffer: 1 << 20 });
  return JSON.parse(out);
}

/**
 * RSS over TOTAL interrupt() calls at a thread that enters and leaves regions
 * in a loop (some interrupts hit a region and are caught). Run in rounds of
 * TOTAL / 10; between rounds both threads gc() and the target reports its
 * young generation. Warm-up as for respawn memory: until the target's young
 * generation (it allocates every InterruptedError) is at its maximum (at
 * most 40 rounds), ten rounds more to settle, then the measured TOTAL.
 */
async function interruptMemory() {
  const TOTAL = n(1_000_000, 50_000);
  const ROUND = TOTAL / 10;
  const stopFlag = new Int32Array(new SharedArrayBuffer(4));
  const target = new Worker(`
    const { workerData, parentPort } = require('worker_threads');
    const tk = require(${JSON.stringify(LIB)});
    const v8 = require('v8');
    const stop = new Int32Array(workerData);
    let caught = 0;
    let report = false;
    parentPort.on('message', () => { report = true; });
    function chunk() {
      for (let i = 0; i < 1000; i++) {
        try { tk.interruptible(() => { let x = 0; for (let j = 0; j < 20; j++) x += j; return x; }); } catch (e) { caught++; }
      }
      if (report) {
        report = false;
        gc();
        const young = v8.getHeapSpaceStatistics().find((sp) => sp.space_name === 'new_space').space_size;
        parentPort.postMessage({ caught, young });
      }
      if (Atomics.load(stop, 0) === 0) setImmediate(chunk); else parentPort.close();
    }
    parentPort.postMessage('registered');
    chunk();
  `, { eval: true, workerData: stopFlag.buffer });
  const exited = once(target, 'exit');
  await once(target, 'message');
  let hits = 0;
  const round = async () => {
    for (let i = 0; i < ROUND; i++) if (tk.interrupt(target.threadId, i)) hits++;
    target.postMessage('report');
    const r = await once(target, 'message');
    gc();
    return r;
  };
  const maxNewSpace = maxNewSpaceMb();
  let rounds = 0;
  let r;
  do {
    r = await round();
    rounds++;
  } while (rounds < 40 && mb(r.young) < maxNewSpace);
  // Settle: the grown young generation's pages become resident over the
  // next million or so calls (measured: RSS levels off after that).
  for (let i = 0; i < 10; i++, rounds++) r = await round();
  const before = process.memoryUsage().rss;
  const youngBefore = [newSpaceMb(), mb(r.young)];
  hits = 0;
  const caughtBefore = r.caught;
  for (let i = 0; i < 10; i++) r = await round();
  const growth = mb(process.memoryUsage().rss - before);
  Atomics.store(stopFlag, 0, 1);
  await exited;
  return {
    interrupts: TOTAL, hits, caught: r.caught - caughtBefore, growthMb: growth, warmup: rounds * ROUND,
    youngBefore, youngAfter: [newSpaceMb(), mb(r.young)],
  };
}

/**
 * piscina: abort() of a running task until the pool has run the next one,
 * runInterruptible (cancel in place) vs piscina's own abort (terminate and
 * respawn). Each side has its own pool in its own process (so neither side's
 * respawns, worker teardowns or their garbage cool the other's worker), and
 * the parent alternates the two round by round.
 */
async function piscinaCancel() {
  const { fork } = require('child_process');
  const sides = ['ours', 'piscina'];
  const children = Object.fromEntries(sides.map((side) => [side, fork(__filename, ['--piscina-child', side], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] })]));
  const ask = (side, msg) => new Promise((resolve, reject) => {
    const child = children[side];
    const onExit = (code) => reject(new Error(`piscina child (${side}) exited with ${code}`));
    child.once('exit', onExit);
    child.once('message', (m) => { child.off('exit', onExit); resolve(m); });
    child.send(msg);
  });
  // Turns alternate; a turn is PER_TURN cycles in a row on one side. The
  // first cycle of a turn comes right after the other side's turn (a cold
  // machine: its caches went to the respawns), the rest are steady state.
  const PER_TURN = 6;
  const rounds = { ours: [], piscina: [] };
  const first = { ours: [], piscina: [] };
  try {
    await Promise.all(sides.map((side) => ask(side, 'warm')));
    for (let i = 0; i < n(16, 2); i++) {
      for (const side of i % 2 ? ['ours', 'piscina'] : ['piscina', 'ours']) {
        const [cold, ...steady] = await ask(side, PER_TURN);
        first[side].push(cold);
        rounds[side].push(...steady);
      }
    }
  } finally {
    await Promise.all(sides.map((side) => new Promise((resolve) => { children[side].once('exit', resolve); children[side].send('done'); })));
  }
  const ours = median(rounds.ours.map((r) => r.total));
  const theirs = median(rounds.piscina.map((r) => r.total));
  const oursFirst = median(first.ours.map((r) => r.total));
  const theirsFirst = median(first.piscina.map((r) => r.total));
  return {
    rounds: rounds.ours.length, firstRounds: first.ours.length, perTurn: PER_TURN,
    inPlace: ours, piscina: theirs, ratio: theirs / ours,
    inPlaceReject: median(rounds.ours.map((r) => r.reject)), inPlaceNext: median(rounds.ours.map((r) => r.next)),
    inPlaceFirst: oursFirst, piscinaFirst: theirsFirst, ratioFirst: theirsFirst / oursFirst,
  };
}

/** One side of piscinaCancel, in its own process: answers 'warm', then a number k with k rounds' times (ms), back to back. */
function piscinaChild(side) {
  const { Piscina } = require('piscina');
  const filename = path.join(ROOT, 'test', 'fixtures', 'piscina-worker.js');
  const pool = new Piscina({ filename, minThreads: 1, maxThreads: 1 });
  // Both sides warm up alike: a long-lived pool has run its code paths before.
  const WARM_ROUNDS = n(30, 3);
  const round = async () => {
    const started = new Int32Array(new SharedArrayBuffer(4));
    const ac = new AbortController();
    const task = { runaway: true, started: started.buffer };
    const running = side === 'ours' ? runInterruptible(pool, task, { signal: ac.signal }) : pool.run(task, { signal: ac.signal });
    running.catch(() => {});
    await waitFlag(started, 0, 0);
    const t = performance.now();
    ac.abort('cancel');
    await running.catch(() => {});
    const t1 = performance.now();
    await pool.run({ value: 2 }); // the next task has run
    const t2 = performance.now();
    return { total: t2 - t, reject: t1 - t, next: t2 - t1 };
  };
  process.on('message', (m) => {
    if (m === 'done') {
      pool.destroy().then(() => process.disconnect());
      return;
    }
    const work = m === 'warm'
      ? (async () => { await pool.run({ value: 1 }); for (let i = 0; i < WARM_ROUNDS; i++) await round(); return 'warm'; })()
      : (async () => { const times = []; for (let i = 0; i < m; i++) times.push(await round()); return times; })();
    work.then((r) => process.send(r), (err) => { console.error(err); process.exit(1); });
  });
}

/**
 * Deadlines: a region with a deadline that does not fire, side by side with
 * a plain region and with vm's timeout (a watchdog thread per call); and how
 * late a deadline fires (its catch runs), on this thread.
 */
function deadlines() {
  const vm = require('vm');
  const { interruptible } = tk;
  const fn = () => 1;
  const options = { timeoutMs: 1000 };
  const CALLS = n(1_000_000, 100_000);
  const VM_CALLS = n(4000, 1000);
  const script = new vm.Script('1');
  const ctx = vm.createContext({});
  const sides = {
    region: [CALLS, () => { let s = 0; for (let i = 0; i < CALLS; i++) s += interruptible(fn); return s; }],
    deadline: [CALLS, () => { let s = 0; for (let i = 0; i < CALLS; i++) s += interruptible(fn, options); return s; }],
    vmTimeout: [VM_CALLS, () => { let s = 0; for (let i = 0; i < VM_CALLS; i++) s += script.runInContext(ctx, { timeout: 1000 }); return s; }],
    vmPlain: [VM_CALLS, () => { let s = 0; for (let i = 0; i < VM_CALLS; i++) s += script.runInContext(ctx); return s; }],
  };
  const samples = Object.fromEntries(Object.keys(sides).map((k) => [k, []]));
  for (let batch = 0; batch < n(9, 3); batch++) {
    for (const [name, [calls, run]] of Object.entries(sides)) {
      const t = process.hrtime.bigint();
      run();
      samples[name].push(Number(process.hrtime.bigint() - t) / calls);
    }
  }
  const ns = Object.fromEntries(Object.entries(samples).map(([k, v]) => [k, median(v)]));
  // Lateness: from the deadline to the catch, 5 ms budgets.
  const late = [];
  const ROUNDS = n(500, 100);
  for (let i = 0; i < ROUNDS; i++) {
    const t0 = process.hrtime.bigint();
    try { interruptible(() => { for (;;) { /* spin */ } }, { timeoutMs: 5 }); } catch { late.push(Number(process.hrtime.bigint() - t0) / 1e6 - 5); }
  }
  late.sort((a, b) => a - b);
  return { ns, late: { p50: late[Math.floor(late.length / 2)], p99: late[Math.floor(late.length * 0.99)], max: late[late.length - 1] }, rounds: ROUNDS };
}

/**
 * thread-kill/mocha: a suite of trivial synchronous tests run again and
 * again in one child process, alternating mocha alone and mocha with the
 * plugin installed (it can be uninstalled for exactly this), each run timed
 * from run() to its end.
 */
function mochaPlugin() {
  const TESTS = n(10_000, 2000);
  const ROUNDS = n(15, 5);
  const r = JSON.parse(require('child_process').execFileSync(process.execPath,
    [__filename, '--mocha-child', String(TESTS), String(ROUNDS)], { encoding: 'utf8' }));
  const perTest = (runs) => median(runs) * 1e6 / TESTS; // ns
  const diffs = r.plugged.map((v, i) => (v - r.plain[i]) * 1e6 / TESTS);
  return { tests: TESTS, rounds: ROUNDS, plain: perTest(r.plain), plugged: perTest(r.plugged), added: median(diffs) };
}

async function mochaChild(tests, rounds) {
  const Mocha = require('mocha');
  const plugin = require(path.join(ROOT, 'lib', 'mocha.js'));
  plugin.uninstall(); // it installed itself on require: start from mocha alone
  let restore = () => undefined;
  const once = () => new Promise((resolve) => {
    const mocha = new Mocha({ reporter: function Silent() { /* no output */ }, timeout: 2000 });
    const suite = Mocha.Suite.create(mocha.suite, 'trivial');
    for (let i = 0; i < tests; i++) suite.addTest(new Mocha.Test(`t${i}`, function () { /* trivial */ }));
    const t0 = process.hrtime.bigint();
    mocha.run(() => resolve(Number(process.hrtime.bigint() - t0) / 1e6));
  });
  const out = { plain: [], plugged: [] };
  for (let i = -1; i < rounds; i++) {
    for (const side of i % 2 ? ['plain', 'plugged'] : ['plugged', 'plain']) {
      restore();
      restore = side === 'plugged' ? plugin.install() : () => undefined;
      const ms = await once();
      if (i >= 0) out[side].push(ms); // round -1 warms both up
    }
  }
  process.stdout.write(JSON.stringify(out));
}

/**
 * thread-kill/jest: what the environment adds to each test, as jest-circus
 * drives it: a second handler for each of a test's 5 async events (circus
 * awaits every handler), test.fn swapped for the guard and back, and the
 * test called through it (a deadline region labelled with the test's name,
 * the watchdog's arm/disarm). Both sides run
 * the same loop in one process, batches alternating; the difference is the
 * plugin's. (A whole Jest run costs tens of µs a test and swings by more than
 * that on this machine: the added µs cannot be read from it.)
 */
async function jestPlugin() {
  const { withThreadKill } = require('../lib/jest');
  class Bare { constructor() { this.global = globalThis; } }
  const env = new (withThreadKill(Bare))({}, { testPath: path.join(ROOT, 'bench.test.js') });
  const ours = env.handleTestEvent.bind(env);
  const circus = () => undefined; // jest-circus's own handler: on both sides
  const state = { testTimeout: 5000 };
  const root = { name: 'ROOT_DESCRIBE_BLOCK' };
  const parent = { name: 'trivial', parent: root };
  const TESTS = n(20_000, 4000);
  const side = async (handlers) => {
    const dispatch = async (event) => { for (const h of handlers) await h(event, state); };
    const t0 = cpuNs();
    for (let i = 0; i < TESTS; i++) {
      const test = { name: 't', fn: () => undefined, timeout: undefined, parent };
      await dispatch({ name: 'test_start', test });
      await dispatch({ name: 'test_started', test });
      await dispatch({ name: 'test_fn_start', test });
      await new Promise((resolve, reject) => { try { test.fn.call(undefined); } catch (e) { reject(e); return; } resolve(); }); // callAsyncCircusFn
      await dispatch({ name: 'test_fn_success', test });
      await dispatch({ name: 'test_done', test });
    }
    return (cpuNs() - t0) / TESTS;
  };
  const r = await alternate({ plain: () => side([circus]), plugged: () => side([circus, ours]) }, RUNNER_ROUNDS, TESTS);
  // Of which: being a handler at all (an environment's handleTestEvent that does nothing), same method.
  const noop = () => undefined;
  r.handler = (await alternate({ plain: () => side([circus]), plugged: () => side([circus, noop]) }, RUNNER_ROUNDS, TESTS)).added;
  return r;
}

/**
 * thread-kill/vitest: what the runner adds to each test: Vitest calls
 * runner.runTask(test) instead of the stored runWithTimeout(fn) (here a
 * stand-in doing what Vitest 4's does: announce the budget on the runner, a
 * promise, a timer), which runs it in a deadline region armed by the
 * announcement, with the watchdog's arm/disarm.
 */
async function vitestPlugin() {
  const { threadKillRunner } = require('../lib/runner/vitest-runner');
  const fns = new WeakMap();
  let runner;
  const withTimeout = (fn, timeout) => function runWithTimeout() {
    runner._currentTaskStartTime = performance.now();
    runner._currentTaskTimeout = timeout;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('timed out')), timeout);
      try { resolve(fn()); } catch (e) { reject(e); } finally { clearTimeout(timer); }
    });
  };
  class Bare { constructor(config) { this.config = config; } }
  const Plugged = threadKillRunner(Bare, (t) => fns.get(t), () => undefined);
  const TESTS = n(20_000, 4000);
  const side = async (plugged) => {
    runner = plugged ? new Plugged({ testTimeout: 5000 }) : new Bare({ testTimeout: 5000 });
    const tests = [];
    const file = { name: 'bench.test.js', filepath: path.join(ROOT, 'bench.test.js') }; // one file: its tests share it
    for (let i = 0; i < TESTS; i++) { const t = { name: 't', suite: file }; fns.set(t, withTimeout(() => undefined, 5000)); tests.push(t); }
    gc(); // (Vitest collects a file's tests before it runs them: they are old by then, not garbage the loop's collections copy)
    const t0 = cpuNs();
    for (const test of tests) {
      if (plugged) await runner.runTask(test);
      else await fns.get(test)(); // Vitest without a runTask: getFn(test)()
    }
    return (cpuNs() - t0) / TESTS;
  };
  return alternate({ plain: () => side(false), plugged: () => side(true) }, RUNNER_ROUNDS, TESTS);
}

/**
 * CPU time of this process (user + system), in ns: what the loop itself costs, without the time it
 * waited for a core on this shared machine (wall time swings by more than the difference measured).
 */
function cpuNs() {
  const u = process.cpuUsage();
  return (u.user + u.system) * 1000;
}

// Batches per side for the Jest/Vitest plugins: a batch's paired difference swings by hundreds of
// ns on this shared machine, so the median needs many.
const RUNNER_ROUNDS = n(61, 5);

/**
 * Runs the two sides batch by batch, alternating (one warm-up round each): medians (ns/test), the
 * median paired difference and the quartiles of the paired differences (how much they swing).
 */
async function alternate(sides, rounds, tests) {
  const out = { plain: [], plugged: [] };
  for (let i = -1; i < rounds; i++) {
    for (const name of i % 2 ? ['plain', 'plugged'] : ['plugged', 'plain']) {
      gc();
      const ns = await sides[name]();
      if (i >= 0) out[name].push(ns);
    }
  }
  const diffs = out.plugged.map((v, i) => v - out.plain[i]);
  return { tests, rounds, plain: median(out.plain), plugged: median(out.plugged), added: median(diffs), q1: pct(diffs, 25), q3: pct(diffs, 75) };
}

/**
 * workerpool: cancel() of a running task until the pool has run the next
 * one: thread-kill/workerpool (in place) vs workerpool's own (its cleanup
 * request goes unanswered, the worker is terminated after
 * workerTerminateTimeout — set to 1 ms here, the fastest it can be — and a new
 * one started). Each side has its own pool of one thread in its own process,
 * turns alternating, as for piscina.
 */
async function workerpoolCancel() {
  const { fork } = require('child_process');
  const sides = ['ours', 'workerpool'];
  const children = Object.fromEntries(sides.map((side) => [side, fork(__filename, ['--workerpool-child', side], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] })]));
  const ask = (side, msg) => new Promise((resolve, reject) => {
    const child = children[side];
    const onExit = (code) => reject(new Error(`workerpool child (${side}) exited with ${code}`));
    child.once('exit', onExit);
    child.once('message', (m) => { child.off('exit', onExit); resolve(m); });
    child.send(msg);
  });
  const PER_TURN = 6;
  const rounds = { ours: [], workerpool: [] };
  try {
    await Promise.all(sides.map((side) => ask(side, 'warm')));
    for (let i = 0; i < n(12, 2); i++) {
      for (const side of i % 2 ? sides : [...sides].reverse()) rounds[side].push(...(await ask(side, PER_TURN)).slice(1));
    }
  } finally {
    await Promise.all(sides.map((side) => new Promise((resolve) => { children[side].once('exit', resolve); children[side].send('done'); })));
  }
  // workerpool's own cancel as it comes (workerTerminateTimeout 1000 ms: its cleanup request
  // goes unanswered for a second, then the worker is terminated and replaced): a few cycles.
  const byDefault = fork(__filename, ['--workerpool-child', 'default'], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
  children.default = byDefault;
  let asDefault;
  try {
    await ask('default', 'warm-once');
    asDefault = median((await ask('default', n(3, 1))).map((r) => r.total));
  } finally {
    await new Promise((resolve) => { byDefault.once('exit', resolve); byDefault.send('done'); });
  }
  const ours = median(rounds.ours.map((r) => r.total));
  const theirs = median(rounds.workerpool.map((r) => r.total));
  return {
    rounds: rounds.ours.length, perTurn: PER_TURN, inPlace: ours, workerpool: theirs, ratio: theirs / ours,
    workerpoolDefault: asDefault, ratioDefault: asDefault / ours,
    inPlaceReject: median(rounds.ours.map((r) => r.reject)), inPlaceNext: median(rounds.ours.map((r) => r.next)),
  };
}

/** One side of workerpoolCancel, in its own process. */
function workerpoolChild(side) {
  const workerpool = require('workerpool');
  const { interruptiblePool } = require('../lib/workerpool');
  const fixture = (name) => path.join(ROOT, 'test', 'fixtures', name);
  const pool = side === 'ours'
    ? interruptiblePool(workerpool.pool(fixture('workerpool-worker.js'), { workerType: 'thread', maxWorkers: 1 }))
    : side === 'default'
      ? workerpool.pool(fixture('workerpool-plain-worker.js'), { workerType: 'thread', maxWorkers: 1 })
      : workerpool.pool(fixture('workerpool-plain-worker.js'), { workerType: 'thread', maxWorkers: 1, workerTerminateTimeout: 1 });
  const round = async () => {
    const started = new Int32Array(new SharedArrayBuffer(4));
    const running = pool.exec('runaway', [started.buffer]);
    running.catch(() => {});
    await waitFlag(started, 0, 0);
    const t = performance.now();
    running.cancel();
    await running.catch(() => {});
    const t1 = performance.now();
    await pool.exec('double', [2]); // the next task has run
    const t2 = performance.now();
    return { total: t2 - t, reject: t1 - t, next: t2 - t1 };
  };
  process.on('message', (m) => {
    if (m === 'done') { pool.terminate().then(() => process.disconnect()); return; }
    const work = m === 'warm' || m === 'warm-once'
      ? (async () => { await pool.exec('double', [1]); for (let i = 0; i < (m === 'warm' ? n(20, 3) : 1); i++) await round(); return 'warm'; })()
      : (async () => { const times = []; for (let i = 0; i < m; i++) times.push(await round()); return times; })();
    work.then((r) => process.send(r), (err) => { console.error(err); process.exit(1); });
  });
}

/** The runner integrations' sections of BENCHMARKS.md. */
function runnersSection(jp, vp, wp, date) {
  return `## Test-runner timeouts: \`thread-kill/jest\` and \`thread-kill/vitest\`

What each plugin adds to a trivial synchronous test (default timeout 5 s, armed for every test), the
two sides alternating batch by batch in one process (${jp.rounds} batches of ${jp.tests} tests each), timed in the
process's CPU time (this machine is shared: wall time swings by more than what is measured); "added"
is the median of the paired differences. The loops are what the runners do per test around the plugin (Jest:
jest-circus awaiting each handler for a test's 5 events and its callAsyncCircusFn; Vitest: runTask
instead of the stored runWithTimeout), not a whole CLI run, whose cost per test (tens of µs) swings by
more than the added work on this shared machine.

| | without, per test | with, per test | added by the plugin (target ≤ 1 µs) | middle half of the batches' differences |
|---|---|---|---|---|
| Jest: \`testEnvironment: 'thread-kill/jest'\` | ${f(jp.plain / 1000, 2)} µs | ${f(jp.plugged / 1000, 2)} µs | ${f(jp.added, 0)} ns | ${f(jp.q1, 0)}–${f(jp.q3, 0)} ns |
| of which: any environment with a \`handleTestEvent\` (a no-op one, measured alike) | | | ${f(jp.handler, 0)} ns | |
| Vitest: \`runner: 'thread-kill/vitest'\` | ${f(vp.plain / 1000, 2)} µs | ${f(vp.plugged / 1000, 2)} µs | ${f(vp.added, 0)} ns | ${f(vp.q1, 0)}–${f(vp.q3, 0)} ns |

## workerpool: cancel a task in place vs workerpool's own cancel

Time from \`cancel()\` of a running task until the pool has run the next task; a pool of one thread
per side, each in its own process, turns of ${wp.perTurn} cycles alternating (${wp.rounds} cycles a side measured).

| | median ms |
|---|---|
| thread-kill/workerpool \`interruptiblePool\` (worker kept) | ${f(wp.inPlace, 3)} |
| of which cancel() → rejected / → the next task done | ${f(wp.inPlaceReject, 3)} / ${f(wp.inPlaceNext, 3)} |
| workerpool's own cancel, \`workerTerminateTimeout: 1\`, its fastest (worker terminated, a new one started) | ${f(wp.workerpool)} |
| ratio against that (target ≥ 200×) | ${f(wp.ratio, 0)}× faster |
| workerpool's own cancel with its defaults (\`workerTerminateTimeout\` 1000 ms: its cleanup request waits that second, then the worker is terminated and replaced) | ${f(wp.workerpoolDefault)} |
| ratio against that | ${f(wp.ratioDefault, 0)}× faster |

Where the in-place path's time goes (one cycle traced on this machine, µs after cancel()): the
interrupt is sent at 2 (before workerpool's own cancellation work), the task's catch runs at
55–75, workerpool's worker sends the task's error at ~80 and its cleanup answer at 120–200, the
pool sends the next task at 180–300 and has its result at 300–450. What follows the interrupt is
workerpool's protocol: three messages between the threads (the cleanup answer, the next task, its
result), each a wake-up of an idle event loop (a bare postMessage round trip here: p50 41–50 µs),
plus workerpool's own work on the main thread (~90 µs from cancel() to the caller's rejection). With
the task stopped in zero time the cycle would still take ~0.25 ms: against workerpool at its
fastest that is a ceiling of about 120–160× when this machine terminates and starts a worker
thread in 30–40 ms (as in this run), 240–440× at the 59–110 ms of earlier runs.
${date ? `\n(These sections alone: \`node --expose-gc bench/run.js --runners\`, run on ${date}. Machine: ${os.cpus().length} × ${os.cpus()[0]?.model ?? 'unknown CPU'}, Node ${process.version}; 1-minute load average ${f(jp.load, 1)} at the start, ${f(os.loadavg()[0], 1)} at the end: the machine is shared.)\n` : ''}`;
}

const f = (x, d = 2) => x.toFixed(d);

async function main() {
  const started = new Date();
  const log = (s) => process.stderr.write(`${s}\n`);
  log('kill vs worker.terminate() ...');
  const kvt = await killVsTerminate();
  log('kill from a sibling ...');
  const sib = await killFromSibling();
  log('the first kill in a fresh process ...');
  const first = require('./first-kill').firstKill({ samples: n(11, 3), log });
  const firstNoCapture = require('./first-kill').firstKill({ samples: n(11, 3), killOptions: { captureStack: false }, log });
  log('blocked in a system call ...');
  const sys = await syscallBlocked();
  log('region overhead ...');
  const region = regionOverhead();
  log('interrupt latency ...');
  const [lat, ...latWith] = await interruptLatency(LATENCY_REASONS.map(([, src]) => src));
  const latReasons = LATENCY_REASONS.slice(1).map(([label], k) => ({ label, ...latWith[k] }));
  log('cancel-and-reuse ...');
  const reuse = await cancelAndReuse();
  log('startup ...');
  const start = startupCostInChild();
  log('piscina ...');
  const pis = await piscinaCancel();
  log('memory: kill/respawn (KillableWorker + kill()) ...');
  const memKill = respawnMemoryInChild('killable');
  log('memory: spawn/terminate (plain Worker, the baseline) ...');
  const memPlain = respawnMemoryInChild('plain');
  log('memory: interrupts ...');
  const memInt = await interruptMemory();
  log('deadlines ...');
  const dl = deadlines();
  log('mocha plugin ...');
  const mp = mochaPlugin();
  log('the landing rule (interrupt latency, console.log deadlines, the interrupt storm) ...');
  const land = await require('./landing').landing();
  log('jest, vitest plugins ...');
  const jp = await jestPlugin();
  const vp = await vitestPlugin();
  log('workerpool ...');
  const wp = await workerpoolCancel();

  const ours = region['thread-kill interruptible(() => 1)'];
  const theirs = region['interruptor runInterruptible(() => 1)'];
  const cpu = os.cpus();
  const md = `# Benchmarks

Produced by \`npm run bench\` (\`node --expose-gc bench/run.js${QUICK ? ' --quick' : ''}\`) on ${started.toISOString().slice(0, 10)}.
Machine: ${cpu.length} × ${cpu[0]?.model ?? 'unknown CPU'}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, ${os.type()} ${os.release()}, Node ${process.version}.
The machine is shared and noisy: every comparison alternates its two sides round by round in the
same process, and the figures are medians unless marked. Re-run to see the spread.

## Hard kill vs \`worker.terminate()\` (parent, same workers, alternating)

| worker is in | kill() median ms | terminate() median ms | ratio (target ≤ 1.1×) |
|---|---|---|---|
${kvt.map((r) => `| ${r.kind} | ${f(r.kill)} | ${f(r.terminate)} | ${f(r.ratio)}× |`).join('\n')}

Both are measured from the call until its promise resolves (kill: the environment was torn down;
terminate: the 'exit' event).

${firstKillSection(first, started.toISOString().slice(0, 10), firstNoCapture)}
## Kill from a sibling thread (terminate() cannot do this at all)

| worker is in | kill() from a sibling, median ms |
|---|---|
${Object.entries(sib).map(([k, v]) => `| ${k} | ${f(v)} |`).join('\n')}

${syscallSection(sys)}
## Interrupts

| measure | result | target |
|---|---|---|
| region overhead: \`interruptible(() => 1)\` | ${f(ours, 1)} ns/call | ≤ 0.6 × interruptor |
| region overhead: interruptor \`runInterruptible(() => 1)\` | ${f(theirs, 1)} ns/call | |
| plain JS call \`(() => 1)()\` | ${f(region['plain call'], 1)} ns/call | |
| ratio ours / interruptor | ${f(ours / theirs)}× | ≤ 0.6× |
| interrupt() → catch in the target, p50 (${lat.rounds} rounds, hrtime through a SharedArrayBuffer) | ${f(lat.p50, 1)} µs | ≤ 10 µs |
| same, p99 | ${f(lat.p99, 1)} µs | ≤ 100 µs |
| same, max | ${f(lat.max, 1)} µs | |
${latReasons.map((r) => `| same with ${r.label} as the reason (kinds alternating round by round): p50 / p99 | ${f(r.p50, 1)} / ${f(r.p99, 1)} µs (no reason, same run: ${f(lat.p50, 1)} / ${f(lat.p99, 1)}) | ≤ 10 / ≤ 100 µs |`).join('\n')}
| cancel a runaway task, same thread ready again (interrupt) | ${f(reuse.reuse, 3)} ms | |
| cancel by terminate + respawn + ready (the pool way) | ${f(reuse.respawn)} ms | |
| ratio | ${f(reuse.ratio, 0)}× faster | ≥ 200× |

## piscina: cancel a task in place vs piscina's own abort

Time from \`abort()\` of a running task until the pool has run the next task. Each side has its own
pool of one thread in its own process; the parent alternates turns of ${pis.perTurn} cycles back to back
(${pis.firstRounds} turns a side). "Steady" are a turn's later cycles; "first" is a turn's first cycle, right
after the other side's turn.

| | steady, median ms | first of a turn, median ms |
|---|---|---|
| thread-kill/piscina \`runInterruptible\` (worker kept) | ${f(pis.inPlace, 3)} | ${f(pis.inPlaceFirst, 3)} |
| of which abort() → rejected / → the next task done | ${f(pis.inPlaceReject, 3)} / ${f(pis.inPlaceNext, 3)} | |
| piscina \`run(task, { signal })\` (worker terminated, respawned) | ${f(pis.piscina)} | ${f(pis.piscinaFirst)} |
| ratio (target ≥ 200×, i.e. ≤ 0.2 ms) | ${f(pis.ratio, 0)}× faster | ${f(pis.ratioFirst, 0)}× faster |

## Startup

From \`new\` to the worker's first line of its own code (it posts \`process.hrtime.bigint()\`),
alternating the two kinds; "added" is the median of the paired differences.

| worker started from | \`new Worker\` median ms | \`new KillableWorker\` median ms | added by KillableWorker (target ≤ 0.5 ms) |
|---|---|---|---|
| a file (how pools start workers) | ${f(start.file.plain)} | ${f(start.file.killable)} | ${f(start.file.added)} |
| an eval'd string | ${f(start.eval.plain)} | ${f(start.eval.killable)} | ${f(start.eval.added)} |

## Memory

| | RSS growth | target |
|---|---|---|
| ${memKill.cycles} KillableWorker + kill() cycles (4 at a time, ${f(memKill.seconds, 0)} s) | ${f(memKill.growthMb, 1)} MB | < 10 MB |
| baseline: ${memPlain.cycles} plain Worker + terminate() cycles (${f(memPlain.seconds, 0)} s) | ${f(memPlain.growthMb, 1)} MB | |
| ${memInt.interrupts} interrupt() calls at a thread entering/leaving regions (${memInt.hits} hit a region, ${memInt.caught} caught) | ${f(memInt.growthMb, 1)} MB | < 2 MB |

Each respawn side runs in its own fresh process and waits for every worker to be online before
stopping it. RSS is measured after \`gc()\`, after a warm-up that lasts until V8 has grown the main
thread's young generation to its maximum (a one-time sizing any busy process reaches, bounded by
\`--max-semi-space-size\`; plain Workers get there too, more slowly because each cycle allocates less)
and then for 1,500 more cycles, in which those pages become resident:

| | warm-up cycles | RSS growth in warm-up | young generation before → after the measured cycles |
|---|---|---|---|
| KillableWorker + kill() | ${memKill.warmup} | ${f(memKill.warmupMb, 1)} MB | ${f(memKill.newSpaceBefore, 0)} → ${f(memKill.newSpaceAfter, 0)} MB |
| plain Worker + terminate() | ${memPlain.warmup} | ${f(memPlain.warmupMb, 1)} MB | ${f(memPlain.newSpaceBefore, 0)} → ${f(memPlain.newSpaceAfter, 0)} MB |

The interrupt run warms up the same way (${memInt.warmup} interrupts: until the target's young
generation, where every InterruptedError is allocated, was at its maximum, then as many again as
are measured, while its pages become resident);
young generations of the interrupting main thread / the target before → after the measured calls:
${f(memInt.youngBefore[0], 0)}/${f(memInt.youngBefore[1], 0)} → ${f(memInt.youngAfter[0], 0)}/${f(memInt.youngAfter[1], 0)} MB. Both threads \`gc()\` before each reading.

The registry keeps a bounded record of the last 4,096 dead threads (stacks for the last 64).

## Deadlines: \`interruptible(fn, { timeoutMs })\`

Side by side, batches alternating in one process; a deadline of 1 s that never fires.

| measure | result | target |
|---|---|---|
| \`interruptible(() => 1, { timeoutMs: 1000 })\` | ${f(dl.ns.deadline, 1)} ns/call | ≤ 200 ns |
| \`interruptible(() => 1)\` (no deadline) | ${f(dl.ns.region, 1)} ns/call | |
| ratio deadline / no deadline | ${f(dl.ns.deadline / dl.ns.region)}× | ≤ 2× |
| vm \`script.runInContext(ctx, { timeout: 1000 })\` | ${f(dl.ns.vmTimeout / 1000, 1)} µs/call | |
| vm \`script.runInContext(ctx)\` (no timeout) | ${f(dl.ns.vmPlain / 1000, 2)} µs/call | |
| vm's timeout / our deadline | ${f(dl.ns.vmTimeout / dl.ns.deadline, 0)}× | ≥ 350× |
| a 5 ms deadline fires: catch runs this late, p50 (${dl.rounds} rounds) | ${f(dl.late.p50, 3)} ms | |
| same, p99 | ${f(dl.late.p99, 3)} ms | ≤ 1 ms (idle machine) |
| same, max | ${f(dl.late.max, 3)} ms | |

## Test-runner timeouts: \`mocha --require thread-kill/mocha\`

${mp.tests} trivial synchronous tests, run again and again (with and without the
plugin, ${mp.rounds} runs each, alternating in one process: the plugin's \`install()\` returns its
uninstaller), timed from \`mocha.run()\` to its end; "added" is the median of the paired differences.

| | per test |
|---|---|
| mocha alone | ${f(mp.plain / 1000, 2)} µs |
| mocha + thread-kill/mocha | ${f(mp.plugged / 1000, 2)} µs |
| added by the plugin | ${f(mp.added, 0)} ns |

${runnersSection(jp, vp, wp)}`;
  const all = md + require('./landing').landingSection(land, started.toISOString().slice(0, 10)) + keptNotes();
  fs.writeFileSync(path.join(ROOT, 'BENCHMARKS.md'), all);
  process.stdout.write(all);
}

/**
 * A one-section run (`--first-kill`, `--syscall-blocked`): replaces the BENCHMARKS.md section that
 * starts with `heading`, or inserts it before the section `before` (or at the end).
 */
function spliceSection(heading, section, before) {
  const file = path.join(ROOT, 'BENCHMARKS.md');
  let md = fs.readFileSync(file, 'utf8');
  const at = md.indexOf(heading);
  if (at >= 0) {
    const end = md.indexOf('\n## ', at + 3);
    md = md.slice(0, at) + section + (end >= 0 ? md.slice(end) : '');
  } else {
    const b = md.indexOf(before);
    md = b >= 0 ? `${md.slice(0, b)}${section}\n${md.slice(b)}` : `${md}\n${section}`;
  }
  fs.writeFileSync(file, md);
}

/**
 * The hand-written sections of the current BENCHMARKS.md (headed "## Notes: …": what was learned,
 * misses explained), carried over verbatim by a re-run, which rewrites every measured section.
 */
function keptNotes() {
  let old = '';
  try { old = fs.readFileSync(path.join(ROOT, 'BENCHMARKS.md'), 'utf8'); } catch { return ''; }
  const sections = old.split(/^(?=## )/m).filter((sec) => sec.startsWith('## Notes: '));
  return sections.length === 0 ? '' : `\n${sections.map((sec) => sec.trimEnd()).join('\n\n')}\n`;
}

if (process.argv.includes('--piscina-child')) {
  piscinaChild(process.argv[process.argv.indexOf('--piscina-child') + 1]);
} else if (process.argv.includes('--piscina')) {
  // Just this section (node bench/run.js --piscina).
  piscinaCancel().then((r) => process.stdout.write(`${JSON.stringify(r, null, 2)}\n`)).catch((err) => { console.error(err); process.exitCode = 1; });
} else if (process.argv.includes('--workerpool')) {
  // Just this section (node bench/run.js --workerpool).
  workerpoolCancel().then((r) => process.stdout.write(`${JSON.stringify(r, null, 2)}\n`)).catch((err) => { console.error(err); process.exitCode = 1; });
} else if (process.argv.includes('--workerpool-child')) {
  workerpoolChild(process.argv[process.argv.indexOf('--workerpool-child') + 1]);
} else if (process.argv.includes('--runners')) {
  // Just the Jest/Vitest plugin and workerpool sections, spliced into BENCHMARKS.md in place
  // (node --expose-gc bench/run.js --runners [--quick]).
  (async () => {
    const log = (s) => process.stderr.write(`${s}\n`);
    log('jest plugin ...');
    const load = os.loadavg()[0];
    const jp = { ...await jestPlugin(), load };
    log('vitest plugin ...');
    const vp = await vitestPlugin();
    log('workerpool ...');
    const wp = await workerpoolCancel();
    const section = runnersSection(jp, vp, wp, new Date().toISOString().slice(0, 10));
    spliceSection('## Test-runner timeouts: `thread-kill/jest` and `thread-kill/vitest`', section.slice(0, section.indexOf('## workerpool:')), '## Notes: ');
    spliceSection('## workerpool: cancel a task in place', section.slice(section.indexOf('## workerpool:')), '## Notes: ');
    process.stdout.write(`${section}\n${JSON.stringify({ jp, vp, wp })}\n`);
  })().catch((err) => { console.error(err); process.exitCode = 1; });
} else if (process.argv.includes('--mocha-child')) {
  const i = process.argv.indexOf('--mocha-child');
  void mochaChild(Number(process.argv[i + 1]), Number(process.argv[i + 2]));
} else if (process.argv.includes('--latency')) {
  (async () => {
    // Just these rows (node bench/run.js --latency), the kinds alternating round by round.
    const rows = await interruptLatency(LATENCY_REASONS.map(([, src]) => src));
    rows.forEach((r, k) => process.stdout.write(`${LATENCY_REASONS[k][0]}: p50 ${f(r.p50, 1)} µs, p99 ${f(r.p99, 1)} µs\n`));
  })();
} else if (process.argv.includes('--deadlines')) {
  // Just these figures (node bench/run.js --deadlines).
  process.stdout.write(`${JSON.stringify({ deadlines: deadlines(), mocha: mochaPlugin() }, null, 2)}\n`);
} else if (process.argv.includes('--first-kill')) {
  // Just this section, spliced into BENCHMARKS.md in place (node bench/run.js --first-kill [--quick]),
  // right after the warm kill-vs-terminate table.
  const log = (s) => process.stderr.write(`${s}\n`);
  const r = require('./first-kill').firstKill({ samples: n(11, 3), log });
  log('  again with { captureStack: false } ...');
  const r2 = require('./first-kill').firstKill({ samples: n(11, 3), killOptions: { captureStack: false }, log });
  const section = firstKillSection(r, new Date().toISOString().slice(0, 10), r2);
  spliceSection('## The first kill in a fresh process', section, '## Kill from a sibling thread');
  process.stdout.write(`${section}\n${JSON.stringify(r)}\n${JSON.stringify(r2)}\n`);
} else if (process.argv.includes('--syscall-blocked')) {
  // Just this section, spliced into BENCHMARKS.md in place (node bench/run.js --syscall-blocked).
  syscallBlocked().then((rows) => {
    const section = `${syscallSection(rows)}(This section alone: \`node bench/run.js --syscall-blocked\`, run on ${new Date().toISOString().slice(0, 10)}.)\n`;
    spliceSection('## Killing a thread blocked in a system call', section, '## Interrupts');
    process.stdout.write(section);
  }).catch((err) => { console.error(err); process.exitCode = 1; });
} else if (process.argv.includes('--startup-child')) {
  startupCost().then((r) => process.stdout.write(JSON.stringify(r)));
} else if (process.argv.includes('--interrupt-memory')) {
  // Just this figure (node --expose-gc bench/run.js --interrupt-memory).
  interruptMemory().then((r) => process.stdout.write(`${JSON.stringify(r)}\n`));
} else if (process.argv.includes('--memory-child')) {
  respawnMemory(process.argv[process.argv.indexOf('--memory-child') + 1]).then((r) => process.stdout.write(JSON.stringify(r)));
} else {
  main().catch((err) => { console.error(err); process.exitCode = 1; });
}
