'use strict';
// `npm test`'s build step: the library and the tests (tsc, incremental: an
// up-to-date tree writes nothing), the ESM entry (written only if it
// changed) and the fixture addon (built only if missing or older than its
// sources). Two `npm test` runs at once must never read a file the other is
// writing, so the whole step holds a lock (a directory, created atomically):
// the second run waits, then finds everything up to date.
const { spawnSync } = require('child_process');
const fs = require('fs');
const path = require('path');
const { runNodeGyp } = require('./node-gyp.js');

const root = path.resolve(__dirname, '..');
const lock = path.join(root, '.pretest.lock');
const STALE_MS = 10 * 60_000; // a lock this old was left by a killed run

function sleep(ms) {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

function acquire() {
  for (let waited = 0; ; waited++) {
    try {
      fs.mkdirSync(lock);
      return;
    } catch (err) {
      if (err.code !== 'EEXIST') throw err;
    }
    try {
      if (Date.now() - fs.statSync(lock).mtimeMs > STALE_MS) fs.rmSync(lock, { recursive: true, force: true });
    } catch { /* released meanwhile */ }
    if (waited === 0) console.log('pretest: another build of this tree is running; waiting for it');
    sleep(100);
  }
}

function run(cmd, args) {
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status || 1);
}

/** Newest mtime of the fixture's sources (everything but build/). */
function newestSource(dir) {
  let newest = 0;
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    if (e.name === 'build') continue;
    const p = path.join(dir, e.name);
    newest = Math.max(newest, e.isDirectory() ? newestSource(p) : fs.statSync(p).mtimeMs);
  }
  return newest;
}

function buildFixture(dir) {
  const out = path.join(dir, 'build', 'Release', 'hang_fixture.node');
  const stamp = path.join(dir, 'build', 'node-version');
  const upToDate = fs.existsSync(out) && fs.statSync(out).mtimeMs >= newestSource(dir)
    && fs.existsSync(stamp) && fs.readFileSync(stamp, 'utf8') === process.version;
  if (upToDate) return;
  runNodeGyp(dir, ['rebuild', '--release', '--silent'], { quiet: true });
  fs.writeFileSync(stamp, process.version);
}

acquire();
process.on('exit', () => fs.rmSync(lock, { recursive: true, force: true }));
const tsc = require.resolve('typescript/bin/tsc');
run(process.execPath, [tsc, '-p', 'tsconfig.json']);
run(process.execPath, [path.join(__dirname, 'write-esm-entry.js')]);
run(process.execPath, [tsc, '-p', 'tsconfig.test.json']);
buildFixture(path.join(root, 'test', 'fixtures', 'addon'));
