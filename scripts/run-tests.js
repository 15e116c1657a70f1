#!/usr/bin/env node
'use strict';
// npm test: compile the TypeScript tests, build the test-only fixture addon,
// run mocha (never with --exit: a leaked worker must hang the run, visibly).
// Extra arguments go to mocha (e.g. `npm test -- --grep interrupt`).
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
const r = spawnSync(process.execPath, [mocha, '--config', '.mocharc.json', ...process.argv.slice(2)], { cwd: root, stdio: 'inherit' });
process.exit(r.status === null ? 1 : r.status);
