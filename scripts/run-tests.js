#!/usr/bin/env node
'use strict';
// npm test: compile the TypeScript tests, build the test-only fixture addon,
// run mocha (never with --exit: a leaked worker must hang the run, visibly).
// Extra arguments go to mocha (e.g. `npm test -- --grep interrupt`).
// Long soak and race tests (titles tagged @soak) are left out; `--soak`
// (npm run test:soak) runs just them.
const { spawnSync } = require('child_process');
const path = require('path');
const { runNodeGyp } = require('./node-gyp.js');

const root = path.resolve(__dirname, '..');

function run(cmd, args, env) {
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit', env: { ...process.env, ...env } });
  if (r.status !== 0) process.exit(r.status || 1);
}

const tsc = require.resolve('typescript/bin/tsc');
// Keep lib/ in step with src/ so the tests never run stale output.
run(process.execPath, [tsc, '-p', 'tsconfig.json']);
run(process.execPath, [path.join(__dirname, 'write-esm-entry.js')]);
run(process.execPath, [tsc, '-p', 'tsconfig.test.json']);
runNodeGyp(path.join(root, 'test', 'fixtures', 'addon'), ['rebuild', '--release', '--silent']);
const mocha = require.resolve('mocha/bin/mocha.js');
const extra = process.argv.slice(2).filter((a) => a !== '--soak');
const selection = process.argv.includes('--soak') ? ['--grep', '@soak'] : extra.includes('--grep') ? [] : ['--grep', '@soak', '--invert'];
const r = spawnSync(process.execPath, [mocha, '--config', '.mocharc.json', ...selection, ...extra], { cwd: root, stdio: 'inherit' });
process.exit(r.status === null ? 1 : r.status);
