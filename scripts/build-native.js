#!/usr/bin/env node
'use strict';
// Builds the addon at install time, against the headers of the Node that runs
// npm, without downloading anything:
//   1. a prebuilt binary for this platform/ABI (prebuilds/) that loads -> done;
//   2. otherwise node-gyp rebuild with --nodedir pointing at local headers
//      (npm's `nodedir` setting, or <prefix>/include/node next to `node`).
// `--force` skips step 1.
const { spawnSync } = require('child_process');
const fs = require('fs');
const path = require('path');

const root = path.resolve(__dirname, '..');
const force = process.argv.includes('--force');

function prebuiltLoads() {
  const prebuilt = require('./binary-candidates.js')(root)
    .filter((p) => p.includes(`${path.sep}prebuilds${path.sep}`) && fs.existsSync(p));
  for (const file of prebuilt) {
    try {
      require(file);
      console.log(`thread-kill: using prebuilt ${path.relative(root, file)}`);
      return true;
    } catch {
      // wrong ABI or libc: fall through to a source build
    }
  }
  return false;
}

function localHeaders() {
  const fromNpm = process.env.npm_config_nodedir;
  if (fromNpm && fs.existsSync(path.join(fromNpm, 'include', 'node', 'node.h'))) return fromNpm;
  const prefix = path.resolve(path.dirname(process.execPath), '..');
  if (fs.existsSync(path.join(prefix, 'include', 'node', 'node.h'))) return prefix;
  return null;
}

function nodeGypCommand() {
  // npm hands install scripts its bundled node-gyp; fall back to one on PATH.
  const bundled = process.env.npm_config_node_gyp;
  if (bundled && fs.existsSync(bundled)) return [process.execPath, [bundled]];
  const npmDir = path.resolve(path.dirname(process.execPath), '..', 'lib', 'node_modules', 'npm',
    'node_modules', 'node-gyp', 'bin', 'node-gyp.js');
  if (fs.existsSync(npmDir)) return [process.execPath, [npmDir]];
  return ['node-gyp', []];
}

if (!force && prebuiltLoads()) process.exit(0);

const nodedir = localHeaders();
const [cmd, pre] = nodeGypCommand();
const args = [...pre, 'rebuild', '--release'];
if (nodedir) args.push(`--nodedir=${nodedir}`);
else console.warn('thread-kill: no local Node headers found; node-gyp may try to download them');
const debug = process.env.THREAD_KILL_DEBUG_BUILD === '1';
if (debug) args[args.indexOf('--release')] = '--debug';
const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit' });
if (r.status !== 0) {
  console.error(`thread-kill: native build failed (${cmd} ${args.join(' ')})`);
  process.exit(r.status || 1);
}
